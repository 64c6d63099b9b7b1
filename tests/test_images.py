"""core.data.images against real files built with Pillow (all small, except headers that only claim
to be huge)."""

import io
import struct
import time
import zlib
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from core.data import images
from core.data.images import (
    BACKGROUND,
    MAX_PIXELS,
    SUPPORTED_FORMATS,
    DecodeResult,
    ImageRejected,
    decode_for_model,
    decode_many,
    load_image,
    to_model_input,
)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG whose IHDR claims width x height (its pixel data is far too short)."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def noise(size=(48, 40)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def only_colour(image: Image.Image) -> tuple[int, ...]:
    assert image.mode == "RGB"
    colours = image.getcolors()
    assert colours is not None and len(colours) == 1, colours
    return colours[0][1]


# --- every mode becomes RGB with the right colour ---------------------------------------------


def test_rgba_transparent_pixel_becomes_background_and_opaque_pixel_keeps_colour():
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (10, 200, 30, 255))
    out = load_image(encode(image, "PNG"), "a.png")
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == BACKGROUND
    assert out.getpixel((1, 0)) == (10, 200, 30)


def test_rgba_half_transparent_is_blended_with_white():
    out = load_image(encode(Image.new("RGBA", (3, 3), (0, 0, 0, 128)), "PNG"))
    assert only_colour(out) == (127, 127, 127)


def test_la_transparent_becomes_white():
    image = Image.new("LA", (2, 1), (0, 255))
    image.putpixel((0, 0), (0, 0))
    out = load_image(encode(image, "PNG"))
    assert out.getpixel((0, 0)) == BACKGROUND
    assert out.getpixel((1, 0)) == (0, 0, 0)


def test_palette_png_uses_palette_colours():
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 0), 1)
    out = load_image(encode(image, "PNG"))
    assert out.getpixel((0, 0)) == (255, 0, 0)
    assert out.getpixel((1, 0)) == (0, 0, 255)


def test_palette_png_transparent_index_becomes_white():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    out = load_image(encode(image, "PNG", transparency=0))
    assert out.getpixel((0, 0)) == BACKGROUND
    assert out.getpixel((1, 0)) == (0, 255, 0)


def test_grey_level_is_kept():
    assert only_colour(load_image(encode(Image.new("L", (4, 4), 77), "PNG"))) == (77, 77, 77)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    raw = Image.fromarray(np.full((4, 4), 0x8080, dtype=np.uint16))
    assert raw.mode == "I;16"
    out = load_image(encode(raw, "PNG"))
    assert only_colour(out) == (128, 128, 128)


def test_one_bit_image():
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    out = load_image(encode(image, "BMP"))
    assert out.getpixel((0, 0)) == (0, 0, 0)
    assert out.getpixel((1, 0)) == (255, 255, 255)


def test_cmyk_jpeg():
    out = load_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100))
    r, g, b = out.getpixel((4, 4))
    assert r > 240 and g < 15 and b < 15


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(Image.new("RGB", (40, 20), (0, 128, 0)), "JPEG", exif=exif)
    assert Image.open(io.BytesIO(data)).size == (40, 20)
    assert load_image(data).size == (20, 40)


def test_gif_first_frame_is_used():
    frames = [Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("RGB", (4, 4), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert only_colour(load_image(data)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "PNG"])
def test_lossless_formats_round_trip(fmt):
    image = noise()
    params = {"lossless": True} if fmt == "WEBP" else {}
    out = load_image(encode(image, fmt, **params))
    assert out.size == image.size
    assert np.array_equal(np.asarray(out), np.asarray(image))


def test_loads_from_path_and_pathlike(tmp_path):
    path = write(tmp_path, "red.jpg", encode(Image.new("RGB", (5, 5), (255, 0, 0)), "JPEG"))
    assert load_image(path).size == (5, 5)
    assert load_image(str(path)).size == (5, 5)


# --- model input --------------------------------------------------------------------------------


def test_model_input_shape_dtype_range():
    array = to_model_input(noise((100, 70)))
    assert array.shape == (32, 32, 3)
    assert array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() <= 1.0
    assert array.std() > 0.05  # still an image, not a constant


@pytest.mark.parametrize("size", [(7, 500), (1000, 600), (32, 32), (3, 2)])
def test_solid_colour_of_any_size_keeps_its_colour(size):
    array = to_model_input(Image.new("RGB", size, (200, 100, 50)))
    assert np.allclose(array, np.array([200, 100, 50]) / 255, atol=1e-6)


def test_downscale_averages_areas():
    # Left half black, right half white: BOX keeps the two halves exact.
    image = Image.new("RGB", (64, 64), (0, 0, 0))
    image.paste((255, 255, 255), (32, 0, 64, 64))
    array = to_model_input(image)
    assert np.all(array[:, :16] == 0.0) and np.all(array[:, 16:] == 1.0)


@pytest.mark.parametrize(
    ("mode", "colour", "expected"),
    [
        ("L", 51, (51, 51, 51)),
        ("1", 1, (255, 255, 255)),
        ("I", 0x3333, (51, 51, 51)),
        ("I;16", 0xFFFF, (255, 255, 255)),
        ("F", 51.0, (51, 51, 51)),
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
        ("RGBA", (0, 0, 0, 0), BACKGROUND),
        ("LA", (0, 255), (0, 0, 0)),
        ("PA", (0, 0), BACKGROUND),
    ],
)
def test_to_model_input_accepts_any_mode(mode, colour, expected):
    array = to_model_input(Image.new(mode, (10, 10), colour))
    assert np.allclose(array, np.array(expected) / 255, atol=1e-6)


def test_decode_for_model(tmp_path):
    path = write(tmp_path, "x.webp", encode(Image.new("RGB", (50, 50), (0, 0, 255)), "WEBP"))
    array = decode_for_model(path)
    assert array.shape == (32, 32, 3)
    assert array[..., 2].min() > 0.95 and array[..., 0].max() < 0.05


# --- refusals -----------------------------------------------------------------------------------


def rejection(source, name=None) -> str:
    with pytest.raises(ImageRejected) as info:
        load_image(source, name)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_missing_file(tmp_path):
    message = rejection(tmp_path / "nope.png")
    assert "nope.png" in message and "not found" in message


def test_directory_is_unreadable(tmp_path):
    message = rejection(tmp_path, "folder")
    assert message.startswith("folder: ") and "cannot read" in message


def test_empty_file(tmp_path):
    message = rejection(write(tmp_path, "empty.png", b""))
    assert "empty.png" in message and "empty" in message.split(":", 1)[1]
    assert "empty" in rejection(b"", "up.png")


def test_text_with_jpg_extension(tmp_path):
    message = rejection(write(tmp_path, "notes.jpg", b"hello, this is not a picture\n" * 10))
    assert "notes.jpg" in message and "not a recognised image" in message


def test_random_bytes():
    data = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert "not a recognised image" in rejection(data, "noise.png")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image(fmt):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = encode(noise(), fmt)
    message = rejection(data[: len(data) // 2], f"half.{fmt.lower()}")
    assert f"half.{fmt.lower()}" in message and "truncated or corrupt" in message


def test_over_byte_cap_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 1000)
    path = write(tmp_path, "big.png", encode(noise((64, 64)), "PNG"))
    assert path.stat().st_size > 1000
    assert "limit" in rejection(path.read_bytes(), "big.png")

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(images, "open", no_open, raising=False)  # shadows the builtin
    message = rejection(path)
    assert "big.png" in message and "over the" in message and "limit" in message


def test_sparse_file_over_real_cap(tmp_path):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as handle:
        handle.truncate(images.MAX_BYTES + 1)  # sparse: costs no disk and is never read
    assert rejection(path) == f"{path}: file is 20.0 MiB, over the 20 MiB limit"


@pytest.mark.parametrize("size", [(8000, 6000), (10000, 10000), (20000, 20000)])
def test_decompression_bomb_refused_from_header(size):
    # 48 Mpx passes Pillow's own check, 100 Mpx only warns and 400 Mpx makes Pillow raise:
    # all must be refused by the header alone (the pixel data here is just a few bytes, so any
    # attempt to decode would report truncation instead).
    data = png_claiming_size(*size)
    assert len(data) < 200
    start = time.perf_counter()
    expect_warning = size == (10000, 10000)
    with pytest.warns(Image.DecompressionBombWarning) if expect_warning else nullcontext():
        message = rejection(data, "bomb.png")
    assert time.perf_counter() - start < 1.0
    assert "bomb.png" in message and f"{MAX_PIXELS:,}-pixel limit" in message


def test_pixel_cap_is_our_own_not_pillows():
    assert MAX_PIXELS < Image.MAX_IMAGE_PIXELS


def test_zero_width_is_refused():
    assert "zero.png" in rejection(png_claiming_size(0, 5), "zero.png")


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "scan.tif"), ("ICO", "favicon.ico")])
def test_unsupported_format_names_it_and_lists_supported(tmp_path, fmt, name):
    path = write(tmp_path, name, encode(Image.new("RGB", (16, 16)), fmt))
    message = rejection(path)
    assert name in message and f"unsupported image format {fmt}" in message
    assert all(supported in message for supported in SUPPORTED_FORMATS)


def test_control_characters_in_name_stay_on_one_line():
    message = rejection(b"", "evil\nname\r.png")
    assert message.startswith("evil?name?.png: ")


def test_refusal_messages_are_distinct(tmp_path):
    data = encode(noise(), "PNG")
    messages = {
        rejection(tmp_path / "f").split(": ", 1)[1],
        rejection(b"", "f").split(": ", 1)[1],
        rejection(b"not an image", "f").split(": ", 1)[1],
        rejection(data[:100], "f").split(": ", 1)[1],
        rejection(png_claiming_size(8000, 6000), "f").split(": ", 1)[1],
        rejection(encode(Image.new("RGB", (4, 4)), "TIFF"), "f").split(": ", 1)[1],
    }
    assert len(messages) == 6


# --- batches ------------------------------------------------------------------------------------


def test_decode_many_keeps_order_and_isolates_failures(tmp_path):
    good_path = write(tmp_path, "good.png", encode(Image.new("RGB", (40, 40), (0, 255, 0)), "PNG"))
    half = encode(noise(), "JPEG")
    sources = [
        ("good.png", good_path),
        ("text.jpg", b"plain text"),
        ("blue.gif", encode(Image.new("RGB", (9, 9), (0, 0, 255)), "GIF")),
        ("missing.png", tmp_path / "missing.png"),
        ("half.jpg", half[: len(half) // 2]),
    ]
    results = decode_many(sources)
    assert [r.name for r in results] == [name for name, _ in sources]
    assert all(isinstance(r, DecodeResult) for r in results)
    ok = [r.error is None for r in results]
    assert ok == [True, False, True, False, False]
    for result in results:
        if result.error is None:
            assert result.array is not None and result.array.shape == (32, 32, 3)
        else:
            assert result.array is None and result.name in result.error
    assert np.allclose(results[0].array, [0, 1, 0])
    assert np.allclose(results[2].array, [0, 0, 1])
    assert decode_many([]) == []

"""The one validated path from an untrusted image file to a CIFAR-10 model input.

Shared by the CLI (`core.serving.predict`) and the dashboard's upload page, so both accept and
refuse exactly the same files with the same one-line messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES: int = 20 * 1024 * 1024
MAX_PIXELS: int = 40_000_000
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
BACKGROUND: tuple[int, int, int] = (255, 255, 255)
MODEL_SIZE = 32

# Pillow reports JPEGs carrying a multi-picture extension (most phone photos) as "MPO".
_FORMAT_ALIASES = {"MPO": "JPEG"}
# Everything a malformed or hostile file can make Pillow raise while decoding.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError)
# Pillow's own bomb check (a warning, or an error past twice its limit; the warning is raised
# only where warnings are filtered to errors). Its limit stays global and untouched: ours is lower.
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_DEFAULT_NAME = "upload"


class ImageRejected(ValueError):
    """An input that cannot be classified; str(exc) is a one-line, user-facing reason."""


@dataclass(frozen=True)
class DecodeResult:
    name: str
    array: np.ndarray | None
    error: str | None
    # The whole image at another size (``decode_many(..., also)``): the unfamiliar-image
    # gate's input (core.analysis.imagenet_gate), made from the full-resolution decode.
    also: np.ndarray | None = None


def load_image(source: bytes | str | os.PathLike, name: str | None = None) -> Image.Image:
    """Validate and decode `source` (file contents, or a path) to a full-size RGB image.

    EXIF orientation is applied, animations give their first frame, every mode becomes RGB and
    transparency is composited onto BACKGROUND. Raises ImageRejected naming the file.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        label = one_line(name or _DEFAULT_NAME)
        data = bytes(source)
        _check_byte_count(len(data), label)
    else:
        label = one_line(name or os.fsdecode(source))
        data = _read_path(source, label)

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected(f"{label}: not a recognised image file") from None
    except _BOMB:
        raise _too_many_pixels(label) from None
    except _DECODE_ERRORS:
        raise ImageRejected(f"{label}: image header is corrupt") from None

    fmt = _FORMAT_ALIASES.get(image.format or "", image.format)
    if fmt not in SUPPORTED_FORMATS:
        raise ImageRejected(
            f"{label}: unsupported image format {image.format} "
            f"(supported: {', '.join(SUPPORTED_FORMATS)})"
        )
    # Only the header has been read so far: refuse huge images before allocating their pixels.
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected(f"{label}: image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(label, f" ({width}x{height})")

    try:
        image.load()  # first frame only for animations
    except _BOMB:
        raise _too_many_pixels(label) from None
    except _DECODE_ERRORS:
        raise ImageRejected(f"{label}: image data is truncated or corrupt") from None

    with contextlib.suppress(*_DECODE_ERRORS):  # malformed EXIF: classify the pixels unrotated
        image = ImageOps.exif_transpose(image)
    try:
        return _to_rgb(image)
    except _DECODE_ERRORS:
        raise ImageRejected(f"{label}: image mode {image.mode} cannot be converted") from None


def to_model_input(image: Image.Image) -> np.ndarray:
    """RGB image -> float32 array (32, 32, 3) in [0, 1].

    The whole image is resized (no crop): BOX (area averaging, like CIFAR's own thumbnails) on an
    axis that shrinks, BICUBIC on an axis that grows.
    """
    if image.mode != "RGB" or "transparency" in image.info:
        image = _to_rgb(image)
    width, height = image.size
    # One axis at a time, so a 7x500 strip is upscaled across and downscaled along.
    image = image.resize((width, MODEL_SIZE), _resample(height))
    image = image.resize((MODEL_SIZE, MODEL_SIZE), _resample(width))
    return np.asarray(image, dtype=np.float32) / np.float32(255.0)


def decode_for_model(source: bytes | str | os.PathLike, name: str | None = None) -> np.ndarray:
    """load_image then to_model_input."""
    return to_model_input(load_image(source, name))


def decode_many(
    sources: Iterable[tuple[str, bytes | str | os.PathLike]],
    also: Callable[[Image.Image], np.ndarray] | None = None,
) -> list[DecodeResult]:
    """Decode each (name, source) in order; one bad file never stops the others.

    ``also``, if given, makes a second input from each full-size decoded image
    (``DecodeResult.also``)."""
    results = []
    for name, source in sources:
        try:
            image = load_image(source, name)
            extra = also(image) if also is not None else None
            results.append(DecodeResult(name, to_model_input(image), None, extra))
        except ImageRejected as exc:
            results.append(DecodeResult(name, None, str(exc)))
    return results


def one_line(name: str) -> str:
    """A user-supplied file name, safe inside a one-line message (no control characters)."""
    return "".join(ch if ch.isprintable() else "?" for ch in name)


def _check_byte_count(size: int, label: str) -> None:
    if size == 0:
        raise ImageRejected(f"{label}: file is empty (0 bytes)")
    if size > MAX_BYTES:
        raise ImageRejected(
            f"{label}: file is {size / 2**20:.1f} MiB, over the {MAX_BYTES / 2**20:g} MiB limit"
        )


def _too_many_pixels(label: str, size: str = "") -> ImageRejected:
    return ImageRejected(f"{label}: image{size} is over the {MAX_PIXELS:,}-pixel limit")


def _read_path(path: str | os.PathLike, label: str) -> bytes:
    try:
        _check_byte_count(os.stat(path).st_size, label)
        with open(path, "rb") as handle:
            # Read at most one byte past the cap, in case the file grew or is not a regular file.
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ImageRejected(f"{label}: file not found") from None
    except OSError as exc:
        raise ImageRejected(f"{label}: cannot read file ({exc.strerror or exc})") from None
    _check_byte_count(len(data), label)
    return data


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "I" or image.mode.startswith("I;16"):
        # Pillow clips 16-bit values at 255 when converting to 8 bits; scale them instead.
        grey = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _resample(size: int) -> Image.Resampling:
    return Image.Resampling.BOX if size >= MODEL_SIZE else Image.Resampling.BICUBIC

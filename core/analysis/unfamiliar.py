"""Images unlike CIFAR-10, to choose and to test the unfamiliar-image warning
(``core.analysis.ood``).

    build("choose") -> UnfamiliarSet   # what the method and model are chosen on
    build("test")   -> UnfamiliarSet   # only measured on; other photos, other generators

None of the images is one of the ten classes. Two kinds of source, kept apart by split so that
the test set is never what was chosen on:

* **photos** that ship with scikit-image (``skimage.data``) and scikit-learn
  (``load_sample_images``): the whole photo shrunk to 32x32 as an upload is
  (``core.data.images.to_model_input``), plus seeded random square crops at 60 %, 35 % and 20 % of
  its short side. Photos of a CIFAR-10 class are left out (``EXCLUDED``);
* **renders** drawn with NumPy and Pillow: text, shapes, noise and blobs to choose on; stripes,
  checkerboards, gradients and smooth noise to test on.

Everything is seeded: the same call gives the same uint8 images, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data.images import to_model_input

# Photos of a CIFAR-10 class (or close to one), never used.
EXCLUDED: dict[str, str] = {
    "chelsea": "a cat",
    "cat": "a cat",
    "horse": "a horse",
    "motorcycle_left": "a motorcycle (close to automobile)",
    "motorcycle_right": "a motorcycle (close to automobile)",
}
PHOTOS: dict[str, tuple[str, ...]] = {
    "choose": (
        "coffee",
        "camera",
        "moon",
        "coins",
        "immunohistochemistry",
        "brick",
        "gravel",
        "cell",
        "china",
    ),
    "test": (
        "astronaut",
        "hubble_deep_field",
        "page",
        "text",
        "flower",
        "rocket",
        "grass",
        "clock",
        "colorwheel",
        "logo",
        "retina",
    ),
}
RENDERS: dict[str, tuple[str, ...]] = {
    "choose": ("text", "shapes", "noise", "blobs"),
    "test": ("stripes", "checkerboard", "gradient", "smooth_noise"),
}
CROP_SCALES = (0.6, 0.35, 0.2)
CROPS_PER_SCALE = 8
RENDERS_PER_KIND = 40
_SIZE = 128  # renders are drawn at this size, then shrunk like an upload
SPLITS = ("choose", "test")


@dataclass(frozen=True)
class UnfamiliarSet:
    split: str
    images: np.ndarray  # (N, 32, 32, 3) uint8
    sources: tuple[str, ...]  # per image: "photo:astronaut", "render:stripes", ...

    def __len__(self) -> int:
        return len(self.images)


def photo(name: str) -> np.ndarray:
    """A photo shipped with scikit-image or scikit-learn as (H, W, 3) uint8."""
    if name in EXCLUDED:
        raise ValueError(f"{name} shows {EXCLUDED[name]}, a CIFAR-10 class")
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        image = getattr(skimage.data, name)()
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def _shrink(array: np.ndarray) -> np.ndarray:
    return np.round(to_model_input(Image.fromarray(array)) * 255).astype(np.uint8)


def photo_views(image: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The whole photo and ``CROPS_PER_SCALE`` random square crops per scale, each 32x32."""
    h, w = image.shape[:2]
    views = [_shrink(image)]
    for scale in CROP_SCALES:
        side = max(8, int(round(min(h, w) * scale)))
        for _ in range(CROPS_PER_SCALE):
            top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            views.append(_shrink(image[top : top + side, left : left + side]))
    return views


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def _text(rng: np.random.Generator) -> np.ndarray:
    image = Image.new("RGB", (_SIZE, _SIZE), _colour(rng) if rng.random() < 0.3 else "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(rng.integers(10, 40)))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz      0123456789"))
    ink = (0, 0, 0) if rng.random() < 0.7 else _colour(rng)
    for y in range(int(rng.integers(-10, 10)), _SIZE, int(rng.integers(14, 44))):
        draw.text(
            (int(rng.integers(-20, 10)), y), "".join(rng.choice(letters, 24)), fill=ink, font=font
        )
    return np.asarray(image)


def _shapes(rng: np.random.Generator) -> np.ndarray:
    image = Image.new("RGB", (_SIZE, _SIZE), _colour(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 6))):
        x0, y0 = rng.integers(-20, _SIZE, 2)
        x1, y1 = x0 + rng.integers(10, 100), y0 + rng.integers(10, 100)
        box = [int(x0), int(y0), int(x1), int(y1)]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=_colour(rng))
    return np.asarray(image)


def _noise(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return rng.integers(0, 256, (_SIZE, _SIZE, 3), dtype=np.uint8)
    grey = rng.normal(128, rng.uniform(20, 80), (_SIZE, _SIZE, 1))
    return np.clip(np.repeat(grey, 3, axis=-1), 0, 255).astype(np.uint8)


def _blobs(rng: np.random.Generator) -> np.ndarray:
    from skimage.data import binary_blobs

    mask = binary_blobs(
        _SIZE, blob_size_fraction=rng.uniform(0.05, 0.2), rng=int(rng.integers(1 << 30))
    )
    out = np.empty((_SIZE, _SIZE, 3), np.uint8)
    out[:] = _colour(rng)
    out[mask] = _colour(rng)
    return out


def _grid(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rotated pixel coordinates, for stripes and checkerboards."""
    angle = rng.uniform(0, np.pi)
    y, x = np.mgrid[0:_SIZE, 0:_SIZE].astype(np.float64)
    return x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)


def _two_colours(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a, b = np.array(_colour(rng), np.uint8), np.array(_colour(rng), np.uint8)
    return np.where(mask[..., None], a, b)


def _stripes(rng: np.random.Generator) -> np.ndarray:
    u, _ = _grid(rng)
    return _two_colours(np.sin(u * 2 * np.pi / rng.uniform(4, 40)) > 0, rng)


def _checkerboard(rng: np.random.Generator) -> np.ndarray:
    u, v = _grid(rng)
    cell = rng.uniform(4, 40)
    return _two_colours((np.floor(u / cell) + np.floor(v / cell)) % 2 == 0, rng)


def _gradient(rng: np.random.Generator) -> np.ndarray:
    u, _ = _grid(rng)
    t = ((u - u.min()) / np.ptp(u))[..., None]
    a, b = np.array(_colour(rng), np.float64), np.array(_colour(rng), np.float64)
    return np.round(a * (1 - t) + b * t).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator) -> np.ndarray:
    coarse = rng.integers(0, 256, (int(rng.integers(3, 9)),) * 2 + (3,), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((_SIZE, _SIZE), Image.Resampling.BICUBIC))


RENDERERS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "text": _text,
    "shapes": _shapes,
    "noise": _noise,
    "blobs": _blobs,
    "stripes": _stripes,
    "checkerboard": _checkerboard,
    "gradient": _gradient,
    "smooth_noise": _smooth_noise,
}


def build(split: str, seed: int = 0) -> UnfamiliarSet:
    """The ``split`` ("choose" or "test") part of the unfamiliar-image set, seeded."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    images, sources = [], []
    for i, name in enumerate(PHOTOS[split]):
        views = photo_views(photo(name), np.random.default_rng([seed, SPLITS.index(split), i]))
        images += views
        sources += [f"photo:{name}"] * len(views)
    for i, kind in enumerate(RENDERS[split]):
        rng = np.random.default_rng([seed, SPLITS.index(split), 100 + i])
        images += [_shrink(RENDERERS[kind](rng)) for _ in range(RENDERS_PER_KIND)]
        sources += [f"render:{kind}"] * RENDERS_PER_KIND
    return UnfamiliarSet(split, np.stack(images), tuple(sources))


def describe() -> dict:
    """What each split is built from (for ood.json and the docs)."""
    return {
        split: {
            "photos": list(PHOTOS[split]),
            "renders": list(RENDERS[split]),
            "views_per_photo": 1 + len(CROP_SCALES) * CROPS_PER_SCALE,
            "renders_per_kind": RENDERS_PER_KIND,
        }
        for split in SPLITS
    } | {"excluded": EXCLUDED, "crop_scales": list(CROP_SCALES)}

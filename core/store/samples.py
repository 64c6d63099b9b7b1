"""The CIFAR-10 test images shipped with the app, so a fresh offline clone can show them.

    python -m core.samples [--data PATH] [--out artifacts/test_images.npz]

All 10,000 test images, in the dataset's test order (the order of ``load_cifar10().x_test``,
which is the row order of every artifact's ``test_predictions.npz``), are tiled into one
3200x3200 image stored losslessly as WebP inside a small ``.npz`` with their labels and a hash.
Measured on the JPEG copy: ``np.savez_compressed`` of the raw uint8 array is 28.4 MB, a PNG grid
21.8 MB, a lossless WebP grid 14.9 MB (decoded in about 0.5 s), so WebP it is; decoding gives
back exactly the pixels of the data source (the hash is checked on load).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import REPO_ROOT
from core.data.cifar10 import CLASS_NAMES, DATA_ENV, IMAGE_SHAPE, DataError, load_cifar10
from core.io.atomic import atomic_file
from core.store.artifacts import artifacts_root

SAMPLES_FILE = "test_images.npz"
# The copy committed with the repository (used when $CIFAR10_ARTIFACTS points elsewhere).
BUNDLED_PATH = REPO_ROOT / "artifacts" / SAMPLES_FILE
_COLS = 100
_TILE = IMAGE_SHAPE[0]


class SamplesUnavailable(RuntimeError):
    """Neither the shipped test images nor a data source are available; says what to do."""


@dataclass(frozen=True)
class TestImages:
    """Test images (N, 32, 32, 3) uint8 and labels (N,) int64, in the dataset's test order."""

    __test__ = False  # not a pytest class

    images: np.ndarray
    labels: np.ndarray
    source: str

    @property
    def dataset_id(self) -> str:
        """The id of the dataset these images come from (as in an artifact's config.json)."""
        return self.source.split(" (shipped copy")[0]

    def __len__(self) -> int:
        return len(self.labels)


def images_hash(images: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()


def _to_grid(images: np.ndarray) -> np.ndarray:
    n = len(images)
    rows = -(-n // _COLS)
    padded = np.zeros((rows * _COLS, *IMAGE_SHAPE), dtype=np.uint8)
    padded[:n] = images
    return (
        padded.reshape(rows, _COLS, _TILE, _TILE, 3)
        .transpose(0, 2, 1, 3, 4)
        .reshape(rows * _TILE, _COLS * _TILE, 3)
    )


def _from_grid(grid: np.ndarray, n: int) -> np.ndarray:
    rows = grid.shape[0] // _TILE
    tiles = grid.reshape(rows, _TILE, _COLS, _TILE, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(tiles.reshape(rows * _COLS, _TILE, _TILE, 3)[:n])


def encode(images: np.ndarray, labels: np.ndarray, source: str = "") -> dict[str, np.ndarray]:
    """The arrays of a samples file: a lossless WebP grid of the images, labels, hash."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_to_grid(images)).save(buf, format="WEBP", lossless=True, quality=100, method=4)
    return {
        "grid_webp": np.frombuffer(buf.getvalue(), dtype=np.uint8),
        "labels": np.asarray(labels, dtype=np.uint8),
        "sha256": np.array(images_hash(images, labels)),
        "source": np.array(source),
    }


def build_samples(
    data: str | os.PathLike | None = None, out: str | os.PathLike | None = None
) -> Path:
    """Write all test images of ``data`` (default ``$CIFAR10_DATA``) to ``out``."""
    dataset = load_cifar10(data, progress=False)
    out = Path(out) if out is not None else artifacts_root() / SAMPLES_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = encode(dataset.x_test, dataset.y_test, dataset.dataset_id)
    with atomic_file(out) as f:
        np.savez(f, **arrays)
    return out


def read_samples(path: str | os.PathLike) -> TestImages:
    """Decode a samples file; raises ``SamplesUnavailable`` if it is damaged."""
    from PIL import Image

    try:
        with np.load(path, allow_pickle=False) as z:
            blob, labels = z["grid_webp"].tobytes(), z["labels"].astype(np.int64)
            digest, source = str(z["sha256"]), str(z["source"])
        with Image.open(io.BytesIO(blob)) as im:
            grid = np.asarray(im.convert("RGB"))
        images = _from_grid(grid, len(labels))
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise SamplesUnavailable(
            f"{path} is unreadable ({exc}); rebuild it with python -m core.samples --data PATH"
        ) from exc
    if images_hash(images, labels) != digest:
        raise SamplesUnavailable(
            f"{path} fails its checksum; rebuild it with python -m core.samples"
        )
    return TestImages(images, labels, f"{source} (shipped copy {Path(path).name})")


@dataclass(frozen=True)
class AtAGlance:
    """What the Overview shows of the test set: a few images per class and the class counts."""

    grid: np.ndarray  # (classes * 32, per_class * 32, 3) uint8, one row of images per class
    counts: np.ndarray  # (classes,) test images per class
    image_shape: tuple[int, int]  # (height, width)
    n_images: int


def at_a_glance(samples: TestImages, per_class: int = 8, seed: int = 0) -> AtAGlance:
    """``per_class`` test images of each class, drawn with ``seed``, and the class counts."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(samples.labels, minlength=len(CLASS_NAMES))
    rows = [
        np.concatenate(
            list(
                samples.images[
                    rng.choice(np.flatnonzero(samples.labels == c), per_class, replace=False)
                ]
            ),
            axis=1,
        )
        for c in range(len(CLASS_NAMES))
    ]
    height, width = samples.images.shape[1:3]
    return AtAGlance(np.concatenate(rows, axis=0), counts, (height, width), len(samples))


def load_test_images(root: str | os.PathLike | None = None) -> TestImages:
    """The test images: the shipped file, else the bundled one, else ``$CIFAR10_DATA``."""
    problems = []
    for path in dict.fromkeys([artifacts_root(root) / SAMPLES_FILE, BUNDLED_PATH]):
        if path.is_file():
            try:
                return read_samples(path)
            except SamplesUnavailable as exc:
                problems.append(str(exc))
    if os.environ.get(DATA_ENV):
        try:
            dataset = load_cifar10(progress=False)
            return TestImages(dataset.x_test, dataset.y_test, dataset.dataset_id)
        except DataError as exc:
            problems.append(str(exc))
    raise SamplesUnavailable(
        " ".join(problems)
        or f"No test images: {SAMPLES_FILE} is not in {artifacts_root(root)} and ${DATA_ENV} is "
        "not set. Build it with: python -m core.samples --data PATH"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.samples",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", help=f"CIFAR-10 source (default: ${DATA_ENV})")
    parser.add_argument("--out", help=f"output file (default: artifacts/{SAMPLES_FILE})")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)
    started = time.time()
    try:
        out = build_samples(args.data, args.out)
        samples = read_samples(out)
    except (DataError, SamplesUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{out}: {len(samples)} test images, {out.stat().st_size / 1e6:.1f} MB "
        f"({time.time() - started:.0f} s), decodes back exactly"
    )
    return 0

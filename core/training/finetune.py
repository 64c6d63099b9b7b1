"""Fine-tune a transfer model on cached features of its frozen lower part.

On a CPU the early, high-resolution layers of an ImageNet network cost most of a training step
(forward and backward), yet they are frozen. So the frozen part runs once per image, and once
per mirror image, and its outputs are kept (float16, in the run's work folder, so ``--resume``
reuses them). Each epoch then trains only the upper blocks and the head on those features,
augmented by choosing the image or its mirror and shifting the feature map by whole cells
(one cell of the 16x16 map at 128 px is 2 pixels of the 32x32 image).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import keras
import numpy as np

from core.data.cifar10 import Split, one_hot, scale

FEATURES_DTYPE = np.float16


def encode(encoder: keras.Model, images: np.ndarray, path: Path, verbose: int) -> np.ndarray:
    """``encoder`` over uint8 ``images``, cached at ``path`` (written atomically)."""
    if path.exists():
        return np.load(path, mmap_mode="r")
    batch = 64
    out = np.lib.format.open_memmap(
        path.with_suffix(".tmp.npy"),
        mode="w+",
        dtype=FEATURES_DTYPE,
        shape=(len(images), *encoder.output_shape[1:]),
    )
    steps = range(0, len(images), batch)
    if verbose:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"caching {path.stem}", unit="batch")
    for start in steps:
        chunk = scale(images[start : start + batch])
        # predict_on_batch runs one compiled graph: calling the encoder eagerly, op by op, was
        # 10x slower for ResNet50 (11.5 against 117 images/s up to conv3 at 128 px, 2 cores).
        out[start : start + batch] = np.asarray(encoder.predict_on_batch(chunk), FEATURES_DTYPE)
    out.flush()
    del out
    path.with_suffix(".tmp.npy").rename(path)
    return np.load(path, mmap_mode="r")


class FeatureBatches(keras.utils.PyDataset):
    """Shuffled batches of cached features: the image or its mirror, shifted by whole cells."""

    def __init__(self, views, labels, batch_size, shift_cells, seed, **kw):
        super().__init__(**kw)
        self.views = [np.asarray(v) for v in views] if fits_in_memory(views) else views
        self.targets = one_hot(labels)
        self.batch_size, self.shift = batch_size, shift_cells
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(labels))

    def __len__(self) -> int:
        return int(np.ceil(len(self.order) / self.batch_size))

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.order))

    def __getitem__(self, index: int):
        # Sorted, so that a cache read from disk (memory-mapped) is read front to back.
        idx = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        view = self.rng.integers(len(self.views), size=len(idx))
        x = np.empty((len(idx), *self.views[0].shape[1:]), dtype=np.float32)
        for v, source in enumerate(self.views):
            x[view == v] = source[idx[view == v]]
        if self.shift:
            x = shift_cells(x, self.rng.integers(-self.shift, self.shift + 1, size=(len(idx), 2)))
        return x, self.targets[idx]


def fits_in_memory(arrays, share: float = 0.5) -> bool:
    """Whether ``arrays`` take at most ``share`` of this machine's memory.

    Loaded into memory, a cache is read faster than through its memory map; but at 160 px
    ResNet50's two views take 18 GB, which with TensorFlow's own would not fit in 24 GiB.
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return sum(a.nbytes for a in arrays) <= share * total


def shift_cells(x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each map of ``x`` (N, H, W, C) by ``offsets[i] = (dy, dx)`` cells, edges repeated."""
    n, h, w, _ = x.shape
    pad = int(np.abs(offsets).max()) if len(offsets) else 0
    if pad == 0:
        return x
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.empty_like(x)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, pad - dy : pad - dy + h, pad - dx : pad - dx + w]
    return out


class KeepBest(keras.callbacks.Callback):
    """Remembers the weights of the epoch with the best validation accuracy."""

    def __init__(self):
        super().__init__()
        self.best, self.best_epoch, self.weights = -1.0, -1, None

    def on_epoch_end(self, epoch, logs=None):
        accuracy = float((logs or {}).get("val_accuracy", -1.0))
        if accuracy > self.best:
            self.best, self.best_epoch = accuracy, epoch
            self.weights = self.model.get_weights()


def split_parts(model: keras.Model, dropout: float = 0.2) -> tuple[keras.Model, keras.Model]:
    """(image -> frozen features, features -> softmax with dropout), sharing ``model``'s layers.

    ``model`` is ``input -> preprocessing layers -> frozen part -> top``, the top being
    ``features -> tuned part -> pool -> classifier`` (the transfer models' common layout).
    The second is a fresh wrapper to compile and fit, so that no optimizer state and no
    Dropout end up in the shipped model.
    """
    *lower, top = model.layers[1:]
    inputs = keras.Input(model.input_shape[1:])
    x = inputs
    for layer in lower:
        x = layer(x)
    _, tuned, pool, classifier = top.layers
    features = keras.Input(top.input_shape[1:])
    pooled = pool(tuned(features))
    outputs = classifier(keras.layers.Dropout(dropout, name="dropout")(pooled))
    return keras.Model(inputs, x, name="encoder"), keras.Model(features, outputs, name="trainer")


def images_key(images: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()[:12]


def cache_features(encoder, split: Split, work: Path, verbose: int) -> dict[str, np.ndarray]:
    """Frozen-part features of the fit images, their mirror images and the validation images."""
    size = "x".join(str(d) for d in encoder.output_shape[1:])
    parts = {
        "fit": split.x_fit,
        "fit_mirror": split.x_fit[:, :, ::-1],
        "val": split.x_val,
    }
    return {
        part: encode(encoder, images, work / _cache_name(part, size, images), verbose)
        for part, images in parts.items()
        if len(images)
    }


def _cache_name(part: str, size: str, images: np.ndarray) -> str:
    return f"features_{part}_{size}_{images_key(images)}.npy"

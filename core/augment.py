"""Data augmentation: one definition used by training and by the dashboard's preview.

The augmenter is a stack of stock Keras preprocessing layers; training maps it over batches in
the ``tf.data`` pipeline (so it never ends up inside a saved model) and ``augment_images``
applies the very same layers to a handful of images for the preview.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Random transforms; ``rotation`` in degrees, ``shift`` and ``zoom`` as image fractions."""

    rotation: float = 15.0
    shift: float = 0.1
    flip: bool = False
    zoom: float = 0.0

    @classmethod
    def reference(cls) -> AugmentConfig:
        """The reference settings: rotation 15 degrees, width/height shift 0.1."""
        return cls(rotation=15.0, shift=0.1, flip=False, zoom=0.0)

    @property
    def enabled(self) -> bool:
        return bool(self.rotation or self.shift or self.flip or self.zoom)

    def to_dict(self) -> dict:
        return asdict(self)


def build_augmenter(config: AugmentConfig, seed: int | None = None):
    """A ``keras.Sequential`` of preprocessing layers; call it with ``training=True``."""
    import keras
    from keras import layers

    steps = []
    if config.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if config.rotation:
        steps.append(layers.RandomRotation(config.rotation / 360.0, fill_mode="reflect", seed=seed))
    if config.shift:
        steps.append(
            layers.RandomTranslation(config.shift, config.shift, fill_mode="reflect", seed=seed)
        )
    if config.zoom:
        steps.append(layers.RandomZoom((-config.zoom, config.zoom), fill_mode="reflect", seed=seed))
    return keras.Sequential(steps, name="augment")


def augment_images(
    images: np.ndarray, config: AugmentConfig, copies: int = 1, seed: int | None = None
) -> np.ndarray:
    """Apply the training augmentation to ``images`` (N, H, W, 3) in [0, 1].

    Returns ``(copies, N, H, W, 3)`` float32: ``copies`` independent random draws of each image.
    """
    batch = np.asarray(images, dtype=np.float32)
    if not config.enabled:
        return np.repeat(batch[None], copies, axis=0)
    augmenter = build_augmenter(config, seed=seed)
    draws = [np.asarray(augmenter(batch, training=True)) for _ in range(copies)]
    return np.clip(np.stack(draws), 0.0, 1.0)

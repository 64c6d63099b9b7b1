"""The input conventions an imported model may expect, as one affine map per pixel.

The studio hands every model 32x32 RGB floats in [0, 1] (``core.data.cifar10.scale``). A model
trained elsewhere may want [0, 255], [-1, 1], ImageNet's mean and spread, or Caffe's BGR minus
the ImageNet mean. Each is ``y = x @ matrix + bias`` on a pixel's (R, G, B) row, so one frozen
``Dense(3)`` layer (Keras) or one matrix product (TFLite) applies any of them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

# Caffe's ImageNet mean, BGR; defined here (core.models.imagenet_port imports it) so that the
# Train page can list the scalings without importing TensorFlow.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
LAYER_NAME = "input_scaling"


@dataclass(frozen=True)
class Scaling:
    name: str
    title: str
    matrix: np.ndarray  # (3, 3): column c of the output from the input's R, G, B
    bias: np.ndarray  # (3,)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """(..., 3) floats in [0, 1] -> the model's input convention (float32)."""
        return (np.asarray(images, np.float32) @ self.matrix + self.bias).astype(np.float32)


def _caffe_matrix() -> np.ndarray:
    matrix = np.zeros((3, 3), np.float32)
    for rgb in range(3):
        matrix[rgb, 2 - rgb] = 255.0
    return matrix


_EYE = np.eye(3, dtype=np.float32)
SCALINGS: dict[str, Scaling] = {
    s.name: s
    for s in (
        Scaling("unit", "[0, 1]", _EYE, np.zeros(3, np.float32)),
        Scaling("byte", "[0, 255]", 255.0 * _EYE, np.zeros(3, np.float32)),
        Scaling("symmetric", "[-1, 1]", 2.0 * _EYE, -np.ones(3, np.float32)),
        Scaling(
            "imagenet",
            "ImageNet mean/std (RGB in [0, 1], minus mean, divided by std)",
            np.diag(1.0 / IMAGENET_STD).astype(np.float32),
            -IMAGENET_MEAN / IMAGENET_STD,
        ),
        Scaling(
            "caffe",
            "Caffe (BGR in [0, 255] minus the ImageNet mean)",
            _caffe_matrix(),
            -CAFFE_MEAN_BGR,
        ),
    )
}


def get_scaling(name: str) -> Scaling:
    try:
        return SCALINGS[name]
    except KeyError:
        raise ValueError(
            f"unknown input scaling {name!r}; choose one of {', '.join(SCALINGS)}"
        ) from None


def scaling_layer(name: str) -> keras.layers.Layer:
    """A frozen ``Dense(3)`` applying scaling ``name`` to every pixel (stock Keras, so a file
    holding it loads in safe mode)."""
    from keras import layers

    scaling = get_scaling(name)
    dense = layers.Dense(3, name=LAYER_NAME, trainable=False)
    dense.build((None, None, None, 3))
    dense.set_weights([scaling.matrix, scaling.bias.astype(np.float32)])
    return dense

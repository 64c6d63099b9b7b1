"""The model zoo: one Keras builder per model (the registry describing them is
core.models.registry).

Every model honours one contract: input (32, 32, 3) float32 in [0, 1], output softmax
probabilities over the 10 CIFAR-10 classes in label order. Normalisation and upscaling live
inside the model, built from stock Keras layers only, so a saved file loads with plain
``keras.saving.load_model(path)`` in a process that never imported ``core``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, regularizers

from core.data.cifar10 import IMAGE_SHAPE, NUM_CLASSES

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


def single_view_network(model: keras.Model) -> keras.Model:
    """The network a ``with_tta`` wrapper averages over, or ``model`` itself."""
    if model.layers and isinstance(model.layers[-1], layers.Average):
        nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        if nested:
            return nested[0]
    return model


def last_conv_layer(model: keras.Model) -> keras.layers.Layer:
    """The deepest Conv2D of ``model`` (searching inside a nested backbone too)."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            return last_conv_layer(layer)
        if isinstance(layer, layers.Conv2D) and layer.name != "imagenet_preprocess":
            return layer
    raise ValueError(f"{model.name} has no convolution layer.")

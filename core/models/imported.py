"""A Keras model trained elsewhere, wrapped into the studio's model contract.

    wrapped = wrap(network, input_size=(96, 96), scaling="imagenet", softmax=True)

The studio feeds every model (N, 32, 32, 3) floats in [0, 1] and reads (N, 10) probabilities in
CIFAR-10's class order. The wrapper does the rest in stock, frozen layers, so the stored
``model.keras`` loads in safe mode and the network stays a nested model that the feature,
unfamiliar-image and Grad-CAM code finds as it finds a transfer model's head:

    image -> [Resizing "upscale"] -> [Dense(3) "input_scaling"] -> network
          -> [Softmax "softmax"] -> [Dense(10) "class_order"] -> probabilities
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from core.data.cifar10 import IMAGE_SHAPE, NUM_CLASSES
from core.models.scaling import scaling_layer

# A Dense(10) of this name reorders classes; it is not the classifier (core.analysis.ood).
CLASS_ORDER_LAYER = "class_order"


def class_order_layer(order: Sequence[int]) -> layers.Layer:
    """A frozen Dense(10) whose output j is its input ``order[j]``: exact in float32."""
    dense = layers.Dense(NUM_CLASSES, use_bias=False, name=CLASS_ORDER_LAYER, trainable=False)
    dense.build((None, NUM_CLASSES))
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), np.float32)
    for j, column in enumerate(order):
        matrix[column, j] = 1.0
    dense.set_weights([matrix])
    return dense


def wrap(
    network: keras.Model,
    input_size: tuple[int, int] = (32, 32),
    scaling: str = "unit",
    softmax: bool = False,
    class_order: Sequence[int] | None = None,
    name: str = "imported",
) -> keras.Model:
    """``network`` behind the studio's input and output contract (see the module docstring).

    ``class_order[j]`` is the network's output column for CIFAR-10 class j; None keeps them.
    """
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = inputs
    if tuple(input_size) != IMAGE_SHAPE[:2]:
        x = layers.Resizing(*input_size, interpolation="bilinear", name="upscale")(x)
    if scaling != "unit":
        x = scaling_layer(scaling)(x)
    x = network(x)
    if softmax:
        x = layers.Softmax(name="softmax")(x)
    if class_order is not None and list(class_order) != list(range(NUM_CLASSES)):
        x = class_order_layer(class_order)(x)
    return keras.Model(inputs, x, name=name)

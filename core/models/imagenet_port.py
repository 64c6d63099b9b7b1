"""What the ResNet50 and VGG16 ports share: their "caffe" input preprocessing and copying ported
weights into Keras layers by name.

Both the 1000-class ImageNet classifiers (``core.models.resnet50``) and the CIFAR-10 transfer
models built on them (``core.models.imagenet``) need these, so they sit below both.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

# ImageNet "caffe" preprocessing shared by ResNet50 and VGG16: RGB in [0, 255] -> BGR minus mean
# (its mean is defined in the TensorFlow-free core.models.scaling).
from core.models.scaling import CAFFE_MEAN_BGR


def caffe_preprocess(name: str = "imagenet_preprocess", bgr: bool = True) -> layers.Layer:
    """x in [0,1] RGB -> 255*x in BGR minus the ImageNet mean, as a frozen 1x1 convolution.

    ``bgr=False`` keeps RGB order: only the port tests use it, to show that it fails.
    """
    conv = layers.Conv2D(3, 1, name=name, trainable=False)
    conv.build((None, None, None, 3))
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for rgb in range(3):
        kernel[0, 0, rgb, 2 - rgb if bgr else rgb] = 255.0
    mean = CAFFE_MEAN_BGR if bgr else CAFFE_MEAN_BGR[::-1]
    conv.set_weights([kernel, -mean])
    return conv


def assign_weights(model: keras.Model, state: dict[str, np.ndarray]) -> int:
    """Copy ``state`` (``"<layer name>/<variable name>"`` -> array, today's Keras names) into
    every layer of ``model`` (nested too) whose variables it holds; returns how many."""
    assigned = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            assigned += assign_weights(layer, state)
            continue
        keys = [f"{layer.name}/{variable.name}" for variable in layer.weights]
        if keys and all(key in state for key in keys):
            layer.set_weights([state[key] for key in keys])
            assigned += 1
    return assigned

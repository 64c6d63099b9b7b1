"""CIFAR-10 classifiers on ResNet50 or VGG16 with ImageNet weights from registry packages.

Each model is ``upscale -> imagenet_preprocess -> <base>_frozen -> <base>_top``, where
``<base>_top`` is ``<base>_tuned -> pool -> classifier``: the layout ``core.training.finetune``
splits to cache the frozen part's outputs and train the rest on them, as for EfficientNet-Lite0.
"""

from __future__ import annotations

import os

import keras
from keras import layers

from core.data.cifar10 import IMAGE_SHAPE, NUM_CLASSES
from core.models.imagenet_port import assign_weights, caffe_preprocess

# The last frozen stage of each backbone unless the run says otherwise.
DEFAULT_CUT = {"resnet50": "conv3", "vgg16": "block3"}


def load_imagenet_weights(base: str, weights: str | os.PathLike | None) -> tuple[dict, float]:
    """``({weight name: array}, BatchNorm epsilon)`` for ``weights``: "imagenet" (the packaged
    archive in the weights cache, else Keras' own download when online), a path to the
    archive, or None (random initialisation: an empty dict)."""
    from core.data.cifar10 import is_online
    from core.weights import archives as weights_archives

    if weights is None:
        return {}, 1e-3
    module = _backbone(base)
    path = None if weights == "imagenet" else weights
    cached = weights_archives.cached_archive(base).is_file()
    if path is None and not cached and is_online("storage.googleapis.com"):
        return keras_download(base)
    loaded = module.load_weights(path)
    return loaded if isinstance(loaded, tuple) else (loaded, 1e-3)


def keras_download(base: str) -> tuple[dict, float]:
    """Keras' own no-top ImageNet weights (downloaded once into ~/.keras), by layer name."""
    app = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16}[base]
    model = app(include_top=False, weights="imagenet")
    state = {}
    for layer in model.layers:
        for variable in layer.weights:
            state[f"{layer.name}/{variable.name}"] = variable.numpy()
    return state, 1.001e-5  # the epsilon keras.applications uses with these weights


def freeze_for_fine_tuning(frozen: keras.Model, tuned: keras.Model) -> None:
    """Freeze ``frozen`` whole and ``tuned``'s BatchNorm layers, which then run in inference
    mode: the ImageNet statistics are kept while the rest of ``tuned`` trains."""
    frozen.trainable = False
    set_batchnorm_trainable(tuned, False)


def set_batchnorm_trainable(tuned: keras.Model, trainable: bool) -> None:
    """Whether ``tuned``'s BatchNorm layers train (batch statistics, moving statistics
    updated) or keep their statistics. Setting ``tuned.trainable`` resets them, so call this
    after it."""
    for layer in tuned.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = trainable


def _backbone(base: str):
    from core.models import resnet50, vgg16

    return {"resnet50": resnet50, "vgg16": vgg16}[base]


def stages(base: str) -> tuple[str, ...]:
    return _backbone(base).STAGES


def build_transfer_model(
    base: str,
    weights: str | os.PathLike | None = None,
    input_size: int = 128,
    cut: str | None = None,
) -> keras.Model:
    """32x32x3 in [0, 1] -> 10 softmax, on ``base`` with the packaged ImageNet weights.

    Stages up to ``cut`` (inclusive) are frozen; the later ones are fine-tuned with their
    BatchNorm statistics frozen. ``weights=None`` keeps the random initialisation.
    """
    module = _backbone(base)
    cut = cut or DEFAULT_CUT[base]
    if cut not in module.STAGES[:-1]:
        raise ValueError(f"{base}: the frozen cut must be one of {', '.join(module.STAGES[:-1])}")
    state, epsilon = load_imagenet_weights(base, weights)

    def part(first: str, last: str, name: str, shape) -> keras.Model:
        if base == "resnet50":
            return module.build_part(shape, first, last, epsilon, name)
        return module.build_part(shape, first, last, name)

    after = module.STAGES[module.STAGES.index(cut) + 1]
    frozen = part(module.STAGES[0], cut, f"{base}_frozen", (input_size, input_size, 3))
    tuned = part(after, module.STAGES[-1], f"{base}_tuned", frozen.output_shape[1:])
    if state:
        assign_weights(frozen, state)
        assign_weights(tuned, state)
    freeze_for_fine_tuning(frozen, tuned)
    inputs = keras.Input(IMAGE_SHAPE)
    x = layers.Resizing(input_size, input_size, interpolation="bilinear", name="upscale")(inputs)
    x = frozen(caffe_preprocess()(x))
    top_in = keras.Input(frozen.output_shape[1:])
    pooled = layers.GlobalAveragePooling2D(name="pool")(tuned(top_in))
    top = keras.Model(
        top_in,
        layers.Dense(NUM_CLASSES, activation="softmax", name="classifier")(pooled),
        name=f"{base}_top",
    )
    return keras.Model(inputs, top(x), name=f"{base}_transfer")

"""Why did it say that? Grad-CAM heatmaps over the input (Selvaraju et al., 2017).

    cam = GradCam.for_model("vgg12", model)      # the layer the registry names for it
    result = cam(images)                         # heatmaps for each image's predicted class
    result = cam(images, class_index=3)          # ... or for any class ("cat")
    result.heatmaps                              # (N, 32, 32) in [0, 1], the input's size
    overlay(image, result.heatmaps[0])           # uint8 RGB picture of the heatmap on the image

The heatmap weighs each channel of the named convolutional layer's output by the mean gradient
of the class's log-probability with respect to it (``tf.GradientTape``), keeps the positive part
of the sum, scales it to [0, 1] and resizes it to the input. The log-probability, not the
probability, so a confident answer's gradients do not vanish in the softmax.

The layer is searched in the model and the models nested in it. A test-time-view wrapper (a
model averaging a nested network with the same input and output over views, like the shipped
``vgg12_opt``) is explained through its single-view nested network: six shifted and mirrored
views have no one map over the input. The class explained by default is still the one the
whole model predicts. A nested backbone (transfer models, an added model's network inside its
input and output wrapper) is cut out of its model's graph and called with the layer's output
exposed. An added TFLite model has no layers to differentiate: ``unavailable`` says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from core.data.cifar10 import scale
from core.models.builders import single_view_network
from core.models.tflite import TFLiteModel
from core.models.traced import traced

Explainer = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]  # x -> (feature maps, probs)
# A heatmap over fewer than 4x4 cells cannot point at a part of a 32x32 image: Model 1's last
# convolution (2x2) gave a uniform wash on every image. Layers are chosen at 4x4 or finer.
MIN_CELLS = 4


class GradCamUnavailable(ValueError):
    """The model has no layer Grad-CAM can explain; the message says why in one line."""


def unavailable(model: keras.Model | TFLiteModel) -> str | None:
    """Why Grad-CAM cannot explain ``model`` (None when it can)."""
    if isinstance(model, TFLiteModel):
        return "Grad-CAM is not available for a TFLite model: it has no layers to follow."
    try:
        localising_layer(model)
    except ValueError:
        return (
            f"Grad-CAM is not available for {model.name}: it has no convolution map of "
            f"{MIN_CELLS}x{MIN_CELLS} cells or more."
        )
    return None


@dataclass(frozen=True)
class GradCamResult:
    heatmaps: np.ndarray  # (N, H, W) float32 in [0, 1], H x W the input's size
    class_index: np.ndarray  # (N,) the class each map explains
    probs: np.ndarray  # (N, classes) of the network explained (one view of a wrapper)


def _contains(model: keras.Model, layer_name: str) -> bool:
    return any(
        layer.name == layer_name
        or (isinstance(layer, keras.Model) and _contains(layer, layer_name))
        for layer in model.layers
    )


def _conv_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every convolution of ``model`` in graph order, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _conv_layers(layer)
        elif isinstance(layer, keras.layers.Conv2D) and layer.name != "imagenet_preprocess":
            found.append(layer)
    return found


def _find(model: keras.Model, layer_name: str):
    for layer in model.layers:
        if layer.name == layer_name:
            return layer
        if isinstance(layer, keras.Model) and _contains(layer, layer_name):
            return _find(layer, layer_name)
    return None


def cells(model: keras.Model, layer_name: str) -> int:
    """The smaller side, in cells, of the named layer's output map."""
    shape = _find(model, layer_name).output.shape
    return int(min(shape[1], shape[2]))


def localising_layer(model: keras.Model, min_cells: int = MIN_CELLS) -> str:
    """The deepest convolution whose map has at least ``min_cells`` cells on each side."""
    fine = [layer for layer in _conv_layers(model) if min(layer.output.shape[1:3]) >= min_cells]
    if not fine:
        raise ValueError(f"{model.name} has no convolution of {min_cells}x{min_cells} or more.")
    return fine[-1].name


def _same_signature(inner: keras.Model, outer: keras.Model) -> bool:
    return tuple(inner.inputs[0].shape) == tuple(outer.inputs[0].shape) and tuple(
        inner.outputs[0].shape
    ) == tuple(outer.outputs[0].shape)


def _part(inputs, outputs) -> Callable[[tf.Tensor], tf.Tensor]:
    """The piece of a functional graph from ``inputs`` to ``outputs`` (or the identity)."""
    if inputs is outputs:
        return lambda x: x
    sub = keras.Model(inputs, outputs)
    return lambda x: sub(x, training=False)


def _explainer(model: keras.Model, layer_name: str) -> tuple[Explainer, keras.Model]:
    """A function x -> (the layer's output, probabilities), and the model it runs."""
    if isinstance(model, keras.Sequential) and any(x.name == layer_name for x in model.layers):
        # A loaded Sequential's layer.output need not lie on the graph of model.outputs (the
        # gradient comes back None), so run its layers one by one instead.
        def chain(x):
            features = None
            for layer in model.layers:
                x = layer(x, training=False)
                if layer.name == layer_name:
                    features = x
            return features, x

        return chain, model
    target = next((layer for layer in model.layers if layer.name == layer_name), None)
    if target is not None:
        both = keras.Model(model.inputs, [target.output, model.outputs[0]])
        return (lambda x: tuple(both(x, training=False))), model
    nested = next(
        (m for m in model.layers if isinstance(m, keras.Model) and _contains(m, layer_name)),
        None,
    )
    if nested is None:
        raise ValueError(f"{model.name} has no layer named {layer_name!r}")
    if _same_signature(nested, model) and single_view_network(model) is nested:
        return _explainer(nested, layer_name)  # a test-time-view wrapper: one view
    inner, _ = _explainer(nested, layer_name)
    # Keras has no public API for "where is this nested model called": its first call node
    # holds the tensors going in and out of it in the outer graph.
    node = nested._inbound_nodes[0]
    before = _part(model.inputs[0], node.input_tensors[0])
    after = _part(node.output_tensors[0], model.outputs[0])

    def explain(x):
        features, out = inner(before(x))
        return features, after(out)

    return explain, model


class GradCam:
    """Grad-CAM for one model and layer; build once, call for any batch of images."""

    def __init__(self, model: keras.Model, layer_name: str):
        self.model = model
        self.layer_name = layer_name
        self._explain, explained = _explainer(model, layer_name)
        self.single_view = explained is not model  # explained through a nested network
        self._graph = None  # traced on first use

    @classmethod
    def for_model(
        cls, name: str, model: keras.Model, root: str | os.PathLike | None = None
    ) -> GradCam:
        """Grad-CAM on the layer ``core.store.catalog.spec_of(name).gradcam_layer`` names (the
        registry's, or the one found when a model was added).

        A model saved before its layers were named (the shipped ``vgg12``: ``conv2d_9``, not
        ``conv4_3``), one the studio does not know, or a named layer coarser than ``MIN_CELLS``
        falls back to its deepest convolution of ``MIN_CELLS`` x ``MIN_CELLS`` or finer.
        Raises ``GradCamUnavailable`` for a model without one (a TFLite model).
        """
        from core.store.catalog import spec_of

        if isinstance(model, TFLiteModel):
            raise GradCamUnavailable(unavailable(model))
        try:
            layer = spec_of(name, root).gradcam_layer
        except KeyError:
            layer = None
        if not layer or not _contains(model, layer) or cells(model, layer) < MIN_CELLS:
            try:
                layer = localising_layer(model)
            except ValueError as exc:
                raise GradCamUnavailable(unavailable(model) or str(exc)) from None
        return cls(model, layer)

    def __call__(
        self, images: np.ndarray, class_index: int | np.ndarray | None = None
    ) -> GradCamResult:
        """Heatmaps of ``images`` ((N, H, W, 3) or one (H, W, 3); floats in [0, 1] or uint8)
        for ``class_index`` (one class for all, one per image, or None: the predicted class)."""
        x = np.asarray(images)
        x = scale(x) if x.dtype == np.uint8 else x.astype(np.float32)
        if x.ndim == 3:
            x = x[None]
        wanted = -1 if class_index is None else class_index  # -1: the predicted class
        target = np.broadcast_to(np.asarray(wanted, dtype=np.int64), (len(x),))
        if self._graph is None:
            images_spec = tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32)
            classes_spec = tf.TensorSpec((None,), tf.int64)
            self._graph = traced(self._heatmaps, [images_spec, classes_spec])
        cam, target, probs = (t.numpy() for t in self._graph(tf.constant(x), tf.constant(target)))
        peak = cam.max(axis=(1, 2), keepdims=True)
        cam = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
        return GradCamResult(cam.astype(np.float32), target, probs)

    def _heatmaps(self, x: tf.Tensor, target: tf.Tensor):
        """One compiled graph (eagerly, one image through Lite0 took 0.3 s): the unscaled maps,
        the classes they explain and the explained network's probabilities."""
        if self.single_view:  # the class the whole model answers, not its single view
            predicted = tf.argmax(self.model(x, training=False), axis=1)
        with tf.GradientTape() as tape:
            features, probs = self._explain(x)
            if not self.single_view:
                predicted = tf.argmax(probs, axis=1)
            target = tf.where(target < 0, predicted, target)
            chosen = tf.gather(probs, target, axis=1, batch_dims=1)
            score = tf.math.log(tf.maximum(chosen, 1e-30))
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1, keepdims=True))
        cam = tf.image.resize(cam, tf.shape(x)[1:3], method="bilinear")[..., 0]
        return cam, target, probs


def explain(
    model: keras.Model,
    images: np.ndarray,
    layer_name: str,
    class_index: int | np.ndarray | None = None,
) -> GradCamResult:
    """One-off ``GradCam(model, layer_name)(images, class_index)``."""
    return GradCam(model, layer_name)(images, class_index)


# Anchors of a perceptually ordered colour map (dark blue - teal - yellow, like viridis).
_ANCHORS = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64
)


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8 colours."""
    h = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(_ANCHORS))
    rgb = np.stack([np.interp(h, stops, _ANCHORS[:, c]) for c in range(3)], axis=-1)
    return rgb.round().astype(np.uint8)


def overlay(
    image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, scale: int = 1
) -> np.ndarray:
    """The heatmap's colours blended over the image (uint8 or [0, 1] floats), enlarged
    ``scale`` times without smoothing."""
    img = np.asarray(image)
    img = img.astype(np.float64) if img.dtype == np.uint8 else np.asarray(img) * 255.0
    out = (1 - alpha) * img + alpha * colorize(heatmap)
    out = np.clip(out, 0, 255).round().astype(np.uint8)
    return out.repeat(scale, axis=0).repeat(scale, axis=1)

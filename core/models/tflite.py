"""An imported TFLite model behind the studio's model contract.

    model = TFLiteModel(content, input_size=(32, 32), scaling="symmetric", softmax=True)
    model(images)            # (N, 32, 32, 3) floats in [0, 1] -> (N, 10) probabilities
    model.outputs_of(images, "byte")   # the raw outputs under another input scaling

Keras models are stored as a Keras wrapper (``core.models.imported``); a TFLite file (and a
SavedModel, converted to one) has no layers to wrap, so this object does the same steps around
the TensorFlow Lite interpreter: resize as the transfer models do (bilinear), apply the input
scaling, quantise if the model takes integers, run, dequantise, softmax when the model gives
logits, and reorder the outputs into CIFAR-10's class order. It has what the studio calls on a
model (``__call__``, ``predict``, ``input_shape``), not Keras' layers: no Grad-CAM, and the
unfamiliar-image score and the map use its log-probabilities (``core.analysis.ood``).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Sequence

import numpy as np

from core.data.cifar10 import IMAGE_SHAPE, NUM_CLASSES
from core.io.quiet import stderr_closed
from core.models.scaling import get_scaling

# TFLite's builtin operators are named in capitals (CONV_2D); anything else is a custom
# operator or a TensorFlow op run by the Flex delegate (FlexWriteFile writes files).
_BUILTIN = re.compile(r"^[A-Z0-9_]+$")


def _interpreter(content: bytes, threads: int | None = None):
    import tensorflow as tf

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": it still runs here
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(model_content=content, num_threads=threads)


def operators(content: bytes) -> list[str]:
    """The operator names a TFLite flatbuffer uses, in graph order (nothing is run).

    Raises ValueError for bytes that are not a TFLite model."""
    interpreter = _interpreter(content)
    return [op["op_name"] for op in interpreter._get_ops_details()]


def non_builtin(ops: Sequence[str]) -> list[str]:
    """The operators of ``ops`` that are not TFLite builtins (custom or Flex), once each."""
    return sorted({op for op in ops if not _BUILTIN.match(op)})


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TFLiteModel:
    """A TFLite model answering like the studio's Keras models; safe to call from threads."""

    def __init__(
        self,
        content: bytes,
        input_size: tuple[int, int] = (32, 32),
        scaling: str = "unit",
        softmax: bool = False,
        class_order: Sequence[int] | None = None,
        name: str = "tflite",
        threads: int | None = None,
    ):
        self.name = name
        self.content = content
        self.input_size = tuple(int(s) for s in input_size)
        self.scaling = scaling
        self.softmax = softmax
        # class_order[j]: the model's output column holding CIFAR-10 class j
        self.class_order = None if class_order is None else np.asarray(class_order, np.int64)
        self.input_shape = (None, *IMAGE_SHAPE)
        self.output_shape = (None, NUM_CLASSES)
        self._interp = _interpreter(content, threads)
        self._input = self._interp.get_input_details()[0]
        self._output = self._interp.get_output_details()[0]
        self._batch = None  # the batch size the interpreter is allocated for
        self._lock = threading.Lock()

    @property
    def variable_batch(self) -> bool:
        return int(self._input["shape_signature"][0]) == -1

    def __call__(self, images: np.ndarray, training: bool = False) -> np.ndarray:
        """(N, 32, 32, 3) floats in [0, 1] -> (N, 10) probabilities in CIFAR-10 order."""
        return self.finish(self.outputs_of(images, self.scaling))

    def predict(self, images: np.ndarray, batch_size: int = 250, verbose: int = 0) -> np.ndarray:
        images = np.asarray(images, np.float32)
        parts = [self(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, NUM_CLASSES), np.float32)

    def finish(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs -> probabilities in CIFAR-10 order (softmax and reordering as stored)."""
        out = _softmax(raw) if self.softmax else raw
        if self.class_order is not None:
            out = out[:, self.class_order]
        return out.astype(np.float32)

    def outputs_of(self, images: np.ndarray, scaling: str) -> np.ndarray:
        """The model's raw outputs for [0, 1] images under input ``scaling``."""
        x = np.asarray(images, np.float32)
        if x.ndim == 3:
            x = x[None]
        if tuple(x.shape[1:3]) != self.input_size:
            import tensorflow as tf

            x = tf.image.resize(x, self.input_size, method="bilinear").numpy()
        x = self._quantised(get_scaling(scaling).apply(x))
        with self._lock:
            if self.variable_batch:
                return self._invoke(x)
            return np.concatenate([self._invoke(row[None]) for row in x])

    def _quantised(self, x: np.ndarray) -> np.ndarray:
        dtype = self._input["dtype"]
        if np.issubdtype(dtype, np.floating):
            return x.astype(dtype)
        scale, zero = self._input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / (scale or 1.0) + zero), info.min, info.max).astype(dtype)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if self._batch != len(x):
            if self.variable_batch:
                self._interp.resize_tensor_input(self._input["index"], [len(x), *x.shape[1:]])
            with stderr_closed():  # the XNNPACK delegate announces itself on fd 2
                self._interp.allocate_tensors()
            self._batch = len(x)
        self._interp.set_tensor(self._input["index"], x)
        self._interp.invoke()
        out = self._interp.get_tensor(self._output["index"])
        if not np.issubdtype(out.dtype, np.floating):
            scale, zero = self._output["quantization"]
            out = (out.astype(np.float32) - zero) * (scale or 1.0)
        return np.asarray(out, np.float32).reshape(len(x), -1)

"""A model file opened for ``python -m core.add_model``: checked, loaded, and run raw.

    network = open_network(path, unsafe=False)   # refuses with a one-line ModelFileError
    network.raw_outputs(images, "symmetric")     # (N, 10) outputs, [0, 1] images in
    model = network.stored_model(...)            # the studio-contract model to store
    network.save(model, folder) -> file name     # model.keras or model.tflite

Keras files (.keras, .h5) stay Keras: the stored model is a Keras wrapper around the network
(``core.models.imported``), re-saved as ``.keras`` so it loads in safe mode. A TFLite file is
stored as it is, and a SavedModel is converted to TFLite after its graph is checked
(``core.models.savedmodel``): the studio never keeps a graph that runs on load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.data.cifar10 import NUM_CLASSES
from core.models import model_file, savedmodel, tflite
from core.models.model_file import ModelFile, ModelFileError
from core.store.artifacts import MODEL_FILE, TFLITE_FILE

if TYPE_CHECKING:
    import keras

BATCH = 250


def _image_size(shape: Sequence, name: str) -> tuple[int, int]:
    """(height, width) from an input shape (batch first); 32 where the shape leaves it open."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ModelFileError(
            f"{name} takes input shaped {_shown(shape)}, not images (height, width, 3)"
        )
    if shape[-1] != 3:
        if shape[1] == 3:
            raise ModelFileError(
                f"{name} takes channels-first images {_shown(shape)}; the studio feeds "
                "channels-last (height, width, 3)"
            )
        raise ModelFileError(
            f"{name} takes {shape[-1]}-channel images {_shown(shape)}, not RGB (height, width, 3)"
        )
    return tuple(int(s) if s and s > 0 else 32 for s in shape[1:3])


def _check_output(shape: Sequence, name: str) -> None:
    shape = tuple(shape)
    if len(shape) != 2 or shape[-1] != NUM_CLASSES:
        raise ModelFileError(
            f"{name} gives outputs shaped {_shown(shape)}, not 10 class scores (batch, 10)"
        )


def _shown(shape: Sequence) -> str:
    return "(" + ", ".join("None" if s is None or s < 0 else str(s) for s in shape) + ")"


class Network:
    """An opened model file: a Keras network or TFLite bytes, and its input size."""

    def __init__(
        self,
        found: ModelFile,
        keras_model: keras.Model | None = None,
        tflite_content: bytes | None = None,
    ):
        self.found = found
        self.keras_model = keras_model
        self.tflite_content = tflite_content
        self._runners: dict = {}
        name = found.path.name
        if keras_model is not None:
            if len(keras_model.inputs) != 1 or len(keras_model.outputs) != 1:
                raise ModelFileError(
                    f"{name} has {len(keras_model.inputs)} inputs and {len(keras_model.outputs)} "
                    "outputs; the studio needs one image in, 10 class scores out"
                )
            self.input_size = _image_size(keras_model.inputs[0].shape, name)
            self.input_shape = tuple(keras_model.inputs[0].shape)
            _check_output(keras_model.outputs[0].shape, name)
        else:
            self._tflite = tflite.TFLiteModel(tflite_content, name=name)
            details = self._tflite._interp.get_input_details()
            outputs = self._tflite._interp.get_output_details()
            if len(details) != 1 or len(outputs) != 1:
                raise ModelFileError(
                    f"{name} has {len(details)} inputs and {len(outputs)} outputs; the studio "
                    "needs one image in, 10 class scores out"
                )
            signature = [int(s) for s in details[0]["shape_signature"]]
            self.input_size = _image_size(signature, name)
            self.input_shape = tuple(None if s < 0 else s for s in signature)
            _check_output(outputs[0]["shape_signature"], name)
            self._tflite = tflite.TFLiteModel(tflite_content, self.input_size, name=name)

    @property
    def kind(self) -> str:
        return "keras" if self.keras_model is not None else "tflite"

    @property
    def parameters(self) -> int | None:
        return int(self.keras_model.count_params()) if self.keras_model is not None else None

    def raw_outputs(self, images: np.ndarray, scaling: str) -> np.ndarray:
        """The network's own outputs for [0, 1] images under input ``scaling``."""
        if self.keras_model is None:
            parts = [
                self._tflite.outputs_of(images[i : i + BATCH], scaling)
                for i in range(0, len(images), BATCH)
            ]
        else:
            from core.models.graph import compiled
            from core.models.imported import wrap

            if scaling not in self._runners:
                runner = wrap(self.keras_model, self.input_size, scaling, name="raw")
                self._runners[scaling] = compiled(runner)
            graph = self._runners[scaling]
            parts = [
                np.asarray(graph(np.asarray(images[i : i + BATCH], np.float32)))
                for i in range(0, len(images), BATCH)
            ]
        return np.concatenate(parts).astype(np.float32)

    def stored_model(
        self, scaling: str, softmax: bool, class_order: Sequence[int] | None, name: str
    ) -> keras.Model | tflite.TFLiteModel:
        """The model to store: the studio's input and output contract around the network."""
        if self.keras_model is None:
            return tflite.TFLiteModel(
                self.tflite_content, self.input_size, scaling, softmax, class_order, name
            )
        from core.models.imported import wrap

        try:
            return wrap(self.keras_model, self.input_size, scaling, softmax, class_order, name)
        except ValueError as exc:  # e.g. a layer name the wrapper's own layers already use
            raise ModelFileError(f"{self.found.path.name} cannot be wrapped: {exc}") from None

    def save(self, model: keras.Model | tflite.TFLiteModel, folder: Path) -> str:
        """Write the stored model into ``folder``; returns its file name."""
        if self.keras_model is None:
            (folder / TFLITE_FILE).write_bytes(self.tflite_content)
            return TFLITE_FILE
        model.save(folder / MODEL_FILE)
        return MODEL_FILE


def open_network(path: str | Path, unsafe: bool = False) -> Network:
    """Check and load the model at ``path``; a ``ModelFileError`` says why it is refused."""
    found = model_file.inspect(path)
    if found.format in ("keras", "h5"):
        return Network(found, keras_model=model_file.load_keras(found, unsafe))
    if found.format == "savedmodel":
        signature = savedmodel.check(found)
        _image_size(signature.input_shape, found.path.name)
        _check_output(signature.output_shape, found.path.name)
        if not signature.input_float:
            raise ModelFileError(f"{found.path.name} takes non-float input; it needs float images")
        return Network(found, tflite_content=savedmodel.to_tflite(found, signature))
    content = found.path.read_bytes()
    try:
        ops = tflite.operators(content)
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{found.path.name} is a damaged or truncated .tflite file ({exc})"
        ) from None
    foreign = tflite.non_builtin(ops)
    if foreign:
        raise ModelFileError(
            f"{found.path.name} uses operators outside TFLite's builtins ({', '.join(foreign)}); "
            "only builtin operators are run"
        )
    return Network(found, tflite_content=content)

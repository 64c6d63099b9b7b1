"""Read a PyTorch state dict saved in the legacy (non-zip) format with numpy alone.

The legacy format is four pickles in a row (magic number, protocol version, system info, the
state dict whose tensors point at storages by key), a pickled list of storage keys, then each
storage's raw bytes (an int64 element count, then the elements). Only the handful of names a
state dict of float tensors needs are resolved; anything else is refused, so a foreign or
malicious pickle never runs code.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class WeightsFileError(ValueError):
    """The file is not a readable legacy PyTorch state dict; the message says why."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _TensorRef:
    key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, shape, stride, *_ignored) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise WeightsFileError(f"unexpected object {module}.{name} in the pickle")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and saved_id and saved_id[0] == "storage"):
            raise WeightsFileError(f"unexpected persistent id {saved_id!r}")
        _, storage_type, key, _location, numel, view = saved_id[:6]
        if view is not None:
            raise WeightsFileError("storage views are not supported")
        self.storages[key] = (storage_type.dtype, int(numel))
        return key


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{name: array}`` from a legacy ``torch.save(state_dict)`` file, without torch."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _read(f, path.stat().st_size)
    except WeightsFileError as exc:
        raise WeightsFileError(f"{path.name}: not a legacy PyTorch weights file ({exc}).") from None
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError) as exc:
        reason = str(exc) or type(exc).__name__
        raise WeightsFileError(f"{path.name}: unreadable weights file ({reason}).") from None


def _read(f, file_size: int) -> dict[str, np.ndarray]:
    head = f.read(2)
    if head == b"PK":
        raise WeightsFileError("a zip archive: torch.save's newer format, not the legacy one")
    if head[:1] != b"\x80":  # every pickle of protocol >= 2 starts with PROTO
        raise WeightsFileError("no pickle header")
    f.seek(0)
    if pickle.load(f) != LEGACY_MAGIC:
        raise WeightsFileError("wrong magic number")
    pickle.load(f)  # protocol version
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise WeightsFileError("big-endian files are not supported")
    storages: dict[str, tuple[type, int]] = {}
    state = _StateDictUnpickler(f, storages).load()
    if not isinstance(state, dict):
        raise WeightsFileError("the pickle holds no state dict")
    data = {}
    for key in pickle.load(f):
        dtype, numel = storages[key]
        (count,) = struct.unpack("<q", f.read(8))
        if count != numel:
            raise WeightsFileError(f"storage {key} holds {count} values, expected {numel}")
        n_bytes = count * np.dtype(dtype).itemsize
        raw = f.read(n_bytes)
        if len(raw) != n_bytes:
            raise WeightsFileError(f"truncated: storage {key} ends past the end of the file")
        data[key] = np.frombuffer(raw, dtype=dtype)
    if f.tell() != file_size:
        raise WeightsFileError(f"{file_size - f.tell()} bytes left over after the last storage")
    return {name: _materialise(ref, data) for name, ref in state.items()}


def _materialise(ref: _TensorRef, data: dict[str, np.ndarray]) -> np.ndarray:
    flat = data[ref.key]
    if not ref.shape:
        return flat[ref.offset].copy()
    extent = ref.offset + 1 + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
    if extent > len(flat):
        raise WeightsFileError(f"a tensor reaches past the end of storage {ref.key}")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :], shape=ref.shape, strides=[s * item for s in ref.stride]
    )
    return np.array(view)  # a contiguous copy

"""A model file from outside: what it is, whether it is safe to load, and loading it.

    found = inspect(path)            # format from the content, size, sha256, date; or refuses
    network = load_keras(found)      # .keras / .h5, Keras safe mode (after scanning the config)

Every refusal is a ``ModelFileError`` whose message is one line a user can act on. The checks
run before Keras or TensorFlow deserialise anything: the size cap, the format (from the first
bytes, not the name), and for Keras files the architecture's JSON, scanned for ``Lambda``
layers, Python lambdas and classes Keras does not ship (``unsafe_layers``). SavedModel folders
are checked by ``core.models.savedmodel``, TFLite files by ``core.models.tflite.operators``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.io.digest import file_sha256

if TYPE_CHECKING:
    import keras

MAX_BYTES = 200 * 2**20  # a 5 M-parameter float32 model is 20 MB; ResNet50 is 100 MB
FORMATS = {
    "keras": "Keras 3 .keras",
    "h5": "legacy Keras .h5",
    "savedmodel": "TensorFlow SavedModel",
    "tflite": "TFLite",
}
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_CONFIG_BYTES = 50 * 2**20
# Stock classes that hold other layers (their "layers" are scanned in turn).
_CONTAINERS = {"Functional", "Sequential", "Model"}


class ModelFileError(ValueError):
    """The file is refused; the message says why in one line."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    format: str  # a key of FORMATS
    size: int  # bytes (a folder: all its files)
    sha256: str  # of the file (a folder: of its files' relative paths and contents)
    modified: str  # the file's modification time, ISO 8601

    def describe(self) -> dict:
        """What config.json's ``imported`` section records of the original file."""
        return {
            "file": self.path.name,
            "format": self.format,
            "format_title": FORMATS[self.format],
            "sha256": self.sha256,
            "size_bytes": self.size,
            "modified": self.modified,
        }


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise ModelFileError(
                f"{folder.name} contains a symbolic link ({path.relative_to(folder)}); "
                "a model folder must hold its own files"
            )
        if path.is_file():
            files.append(path)
    return files


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in _folder_files(path))
    return path.stat().st_size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = _folder_files(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        file_sha256(file, digest)
    return digest.hexdigest()


def _sniff(path: Path) -> str:
    """The format, from the folder's layout or the file's first bytes."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelFileError(f"{path.name} is a folder without saved_model.pb: not a SavedModel")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP_MAGIC):
        return "keras"
    if head == _HDF5_MAGIC:
        return "h5"
    if head[4:8] == b"TFL3":
        return "tflite"
    raise ModelFileError(
        f"{path.name} is not a model file: its first bytes match no .keras, .h5 or .tflite file "
        "(a truncated download, or another kind of file?)"
    )


def inspect(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> ModelFile:
    """Size, format, sha256 and date of the file or SavedModel folder at ``path``."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path.name}: no such file or folder")
    size = _size(path)
    if size > max_bytes:
        raise ModelFileError(
            f"{path.name} is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB cap "
            "for added models"
        )
    if size == 0:
        raise ModelFileError(f"{path.name} is empty")
    fmt = _sniff(path)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(path.stat().st_mtime))
    return ModelFile(path, fmt, size, _sha256(path), stamp)


# --- Keras: the architecture, read as JSON before anything is deserialised --------------------


def keras_config(found: ModelFile) -> dict:
    """The model's architecture JSON from a .keras archive or a full-model .h5 file."""
    name = found.path.name
    if found.format == "keras":
        try:
            with zipfile.ZipFile(found.path) as archive:
                info = archive.getinfo("config.json")
                if info.file_size > _MAX_CONFIG_BYTES:
                    raise ModelFileError(f"{name}: its config.json is implausibly large")
                raw = archive.read(info)
        except KeyError:
            raise ModelFileError(
                f"{name} is a zip archive without config.json: not a .keras file"
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ModelFileError(f"{name} is a damaged or truncated .keras file ({exc})") from None
    elif found.format == "h5":
        import h5py

        try:
            with h5py.File(found.path, "r") as h5:
                raw = h5.attrs.get("model_config")
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{name} is a damaged or truncated .h5 file ({exc})") from None
        if raw is None:
            raise ModelFileError(
                f"{name} holds weights only, no architecture: save the full model "
                "(model.save('model.keras'))"
            )
    else:
        raise ModelFileError(f"{name} is a {FORMATS[found.format]} file, not a Keras one")
    try:
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{name}: its architecture is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{name}: its architecture is not a Keras model description")
    return config


def _known_layer(class_name: str) -> bool:
    import keras

    return (
        class_name in _CONTAINERS or class_name == "InputLayer" or hasattr(keras.layers, class_name)
    )


def _problems_in(value, layer: str) -> list[str]:
    """Python lambdas and non-Keras objects anywhere inside one layer's settings."""
    found = []
    if isinstance(value, dict):
        if value.get("class_name") == "__lambda__":
            found.append(f"layer '{layer}' holds a Python lambda")
        module = value.get("module")
        if isinstance(module, str) and not module.startswith(("keras", "builtins")):
            found.append(
                f"layer '{layer}' uses {value.get('class_name', '?')} from {module}, not Keras"
            )
        for item in value.values():
            found += _problems_in(item, layer)
    elif isinstance(value, list):
        for item in value:
            found += _problems_in(item, layer)
    return found


def unsafe_layers(config: dict) -> list[str]:
    """Why the architecture ``config`` cannot be loaded safely: one entry per offending layer
    (``Lambda`` layers, Python lambdas, classes Keras does not ship), nested models included."""
    found: list[str] = []

    def visit(entry: dict) -> None:
        if not isinstance(entry, dict):
            return
        class_name = str(entry.get("class_name", "?"))
        settings = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        name = str(settings.get("name") or entry.get("name") or "?")
        module = entry.get("module")
        if class_name == "Lambda":
            found.append(f"Lambda layer '{name}' (Python code stored in the file)")
            return
        if isinstance(module, str) and not module.startswith("keras"):
            found.append(f"layer '{name}' is a custom {class_name} from {module}")
            return
        if not _known_layer(class_name):
            found.append(f"layer '{name}' is of class {class_name}, unknown to Keras")
            return
        if class_name in _CONTAINERS:
            for layer in settings.get("layers") or []:
                visit(layer)
            return
        found.extend(_problems_in(settings, name))

    visit(config)
    return found


def load_keras(found: ModelFile, unsafe: bool = False) -> keras.Model:
    """The Keras model in a .keras or .h5 file, uncompiled.

    Refuses a file whose architecture names unsafe layers (unless ``unsafe``: the operator's
    own file) or classes Keras does not have; loads in Keras safe mode unless ``unsafe``."""
    import keras

    problems = unsafe_layers(keras_config(found))
    unknown = [p for p in problems if "unknown to Keras" in p or "custom" in p]
    if unknown:
        raise ModelFileError(
            f"{found.path.name}: {unknown[0]}; only stock Keras layers can be added"
            + (f" ({len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
    if problems and not unsafe:
        raise ModelFileError(
            f"{found.path.name}: {problems[0]}; refused in safe mode "
            "(add --unsafe only for a file you made yourself)"
        )
    try:
        return keras.saving.load_model(found.path, compile=False, safe_mode=not unsafe)
    except Exception as exc:  # Keras raises many types for a file it cannot rebuild
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"{found.path.name} cannot be loaded by Keras {keras.__version__}: {first[:300]}"
        ) from None

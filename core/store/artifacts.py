"""The artifact layout: one folder per trained model, written atomically, read with a status.

``artifacts/<model>/`` holds ``model.keras`` (an added TFLite or SavedModel model:
``model.tflite``, run by ``core.models.tflite``), ``metrics.json``, ``history.json``,
``config.json``, ``test_predictions.npz`` and ``MODEL_CARD.md``. A new artifact is assembled in
a temporary sibling folder and swapped in with renames, so a killed run never leaves a half
written model where a good one was. Work in progress (checkpoints, progress log, lock) lives in
``artifacts/.work/<model>/`` and is never shipped.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core import REPO_ROOT
from core.store.consistency import headline_mismatches, model_mismatch

if TYPE_CHECKING:
    import keras

    from core.models.tflite import TFLiteModel

ARTIFACTS_ENV = "CIFAR10_ARTIFACTS"
MODEL_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
MODEL_FILES = (MODEL_FILE, TFLITE_FILE)  # an artifact holds one of them
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
CONFIG_FILE = "config.json"
PREDICTIONS_FILE = "test_predictions.npz"
CARD_FILE = "MODEL_CARD.md"
REQUIRED_FILES = (MODEL_FILE, METRICS_FILE, HISTORY_FILE, CONFIG_FILE, PREDICTIONS_FILE)


class ArtifactError(RuntimeError):
    """An artifact is missing or unusable; the message says which file and why."""


def artifacts_root(root: str | os.PathLike | None = None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get(ARTIFACTS_ENV)
    return Path(env) if env else REPO_ROOT / "artifacts"


def work_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """Checkpoints, progress log and lock of a training run (never shipped)."""
    return artifacts_root(root) / ".work" / name


@dataclass(frozen=True)
class Status:
    name: str
    state: str  # "ready", "missing" or "broken"
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"


class Artifact:
    """Read access to ``artifacts/<name>/``."""

    def __init__(self, name: str, root: str | os.PathLike | None = None):
        self.name = name
        self.path = artifacts_root(root) / name

    def _file(self, filename: str) -> Path:
        path = self.path / filename
        if not path.is_file():
            raise ArtifactError(f"{self.name}: {filename} is missing in {self.path}")
        return path

    def _json(self, filename: str) -> dict:
        try:
            return json.loads(self._file(filename).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{self.name}: {filename} is not valid JSON ({exc})") from exc

    def metrics(self) -> dict:
        return self._json(METRICS_FILE)

    def history(self) -> dict:
        return self._json(HISTORY_FILE)

    def config(self) -> dict:
        return self._json(CONFIG_FILE)

    def predictions(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self._file(PREDICTIONS_FILE), allow_pickle=False) as z:
                data = {key: z[key] for key in ("y_true", "probs")}
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise ArtifactError(f"{self.name}: {PREDICTIONS_FILE} is unreadable ({exc})") from exc
        if data["probs"].ndim != 2 or len(data["probs"]) != len(data["y_true"]):
            raise ArtifactError(f"{self.name}: {PREDICTIONS_FILE} has inconsistent shapes")
        return data

    def imported(self) -> dict:
        """config.json's ``imported`` section: {} for a model trained here (or no config)."""
        try:
            section = self.config().get("imported")
        except (ArtifactError, AttributeError):
            return {}
        return section if isinstance(section, dict) else {}

    @property
    def model_path(self) -> Path:
        """The model file: ``model.keras``, or ``model.tflite`` when only that exists."""
        keras_file, tflite_file = self.path / MODEL_FILE, self.path / TFLITE_FILE
        return tflite_file if tflite_file.is_file() and not keras_file.is_file() else keras_file

    def load_model(self):
        """The model as the studio runs it (``load_model_file``)."""
        path = self._file(self.model_path.name)
        try:
            return load_model_file(path, self.imported(), self.name)
        except Exception as exc:  # Keras raises many types for a damaged file
            raise ArtifactError(f"{self.name}: {path.name} cannot be loaded ({exc})") from exc

    def status(self) -> Status:
        old = self.path.with_name(f".{self.name}.old")
        if not self.path.is_dir() and old.is_dir():
            os.rename(old, self.path)  # a run was killed between the two renames of its swap
        if not self.path.is_dir():
            return Status(self.name, "missing", "not trained yet: no artifact folder")
        missing = [f for f in REQUIRED_FILES if not (self.path / f).is_file()]
        if MODEL_FILE in missing and (self.path / TFLITE_FILE).is_file():
            missing.remove(MODEL_FILE)
        if missing:
            return Status(self.name, "broken", f"missing {', '.join(missing)}")
        try:
            metrics, preds = self.metrics(), self.predictions()
        except ArtifactError as exc:
            return Status(self.name, "broken", str(exc))
        # A small tolerance: a metrics file must describe its predictions, not match them
        # bit for bit on another machine (`core.training.evaluate` checks the exact digits).
        diffs = headline_mismatches(metrics, preds["y_true"], preds["probs"], rel_tol=1e-6)
        if diffs:
            return Status(
                self.name, "broken", f"metrics.json does not match its predictions ({diffs[0]})"
            )
        return Status(self.name, "ready")

    def verify_model(self, model, test_images: np.ndarray, atol: float = 1e-3) -> None:
        """Check ``model`` reproduces the stored probabilities of the first test images.

        ``test_images`` are uint8 images in the artifact's test order (``core.store.samples``).
        Catches a model file swapped, retrained or damaged without its metrics and predictions.
        """
        if model_mismatch(model, test_images, self.predictions()["probs"], atol):
            raise ArtifactError(
                f"{self.name}: {MODEL_FILE} does not reproduce its stored test predictions "
                "(the model and its metrics come from different runs)"
            )


def load_model_file(
    path: Path, imported: dict | None = None, name: str = "model"
) -> keras.Model | TFLiteModel:
    """``model.keras`` through Keras' ``load_model`` (safe mode, unless an added model was
    imported with ``--unsafe``), or ``model.tflite`` as a ``core.models.tflite.TFLiteModel``
    set up as config.json's ``imported`` section says."""
    imported = imported or {}
    if Path(path).name == TFLITE_FILE:
        from core.models.tflite import TFLiteModel

        return TFLiteModel(
            Path(path).read_bytes(),
            input_size=tuple(imported.get("input_size") or (32, 32)),
            scaling=imported.get("scaling", {}).get("chosen", "unit"),
            softmax=bool(imported.get("outputs", {}).get("softmax_applied")),
            class_order=imported.get("class_order"),
            name=name,
        )
    import keras

    return keras.saving.load_model(path, safe_mode=imported.get("safe_mode", True))


def write_artifact(
    name: str,
    model_file: Path,
    metrics: dict,
    history: dict,
    config: dict,
    y_true: np.ndarray,
    probs: np.ndarray,
    card: str,
    root: str | os.PathLike | None = None,
    keep: tuple[str, ...] = (),
    model_filename: str = MODEL_FILE,
) -> Path:
    """Assemble a complete artifact next to the old one, then swap it in with renames.

    ``keep`` names files of the old artifact that stay true of the new one (carried over);
    ``model_filename`` is one of ``MODEL_FILES``."""
    base = artifacts_root(root)
    base.mkdir(parents=True, exist_ok=True)
    target = base / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=base))
    staging.chmod(0o755)  # mkdtemp makes it private; the artifact is meant to be shared
    try:
        shutil.copy2(model_file, staging / model_filename)
        for filename, payload in ((METRICS_FILE, metrics), (HISTORY_FILE, history)):
            (staging / filename).write_text(json.dumps(payload, indent=2) + "\n")
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str) + "\n")
        np.savez_compressed(
            staging / PREDICTIONS_FILE,
            y_true=np.asarray(y_true, dtype=np.int64),
            probs=np.asarray(probs, dtype=np.float32),
        )
        (staging / CARD_FILE).write_text(card)
        for filename in keep:
            if (target / filename).is_file():
                shutil.copy2(target / filename, staging / filename)
        swap_in(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def swap_in(staging: Path, target: Path) -> None:
    """Put the complete folder ``staging`` at ``target`` (same file system) with renames; a
    run killed between the two renames leaves ``.NAME.old``, which ``status`` puts back."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    if old.exists():
        shutil.rmtree(old)

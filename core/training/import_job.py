"""Add a model from the dashboard: ``python -m core.add_model``'s import of an uploaded file,
run in a background thread of the server, one job per name, followed by a progress bar.

    job = start(data, "my_net.keras", "my_net", scaling="auto", data_source=..., root=...)
    job.fraction, job.stage      # progress
    job.done, job.refusal        # finished, and why it was refused (one line), if it was

The upload is written to a private temporary folder (never into the artifacts root), removed
when the import ends; the import itself writes the artifact as the command does (staging folder,
one atomic rename). Keras safe mode always: the dashboard never offers ``--unsafe``. Stoppable:
the import passes ``core.serving.background.checkpoint`` before each stage, so a server being
stopped ends it there (its staging folder removed) instead of waiting for it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from core.models.model_file import MAX_BYTES, ModelFileError
from core.models.scaling import SCALINGS
from core.training.import_choice import ImportRefused, check_name

# What the dashboard takes; .h5 and SavedModel folders go through the command line.
UPLOAD_TYPES = ("keras", "tflite")
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# Analyses the dashboard's import leaves out (``--skip``): none; the tests leave out the slow
# three, as the command line's --skip does.
SKIP: tuple[str, ...] = ()
# Errors whose message is the one line a user sees (core.add_model prints the same).
REFUSALS = (ModelFileError, ImportRefused)


@dataclass
class ImportJob:
    """One import running (or ended) in this process."""

    name: str
    filename: str
    started: float = field(default_factory=time.time)
    step: int = 0
    steps: int = 1
    stage: str = "starting"
    future: Future | None = None

    def on_stage(self, step: int, steps: int, label: str) -> None:
        from core.serving.background import checkpoint

        checkpoint()  # raises Stopped once the server is exiting
        self.step, self.steps, self.stage = step, steps, label

    @property
    def fraction(self) -> float:
        return 1.0 if self.done and self.refusal is None else self.step / max(self.steps, 1)

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()

    @property
    def refusal(self) -> str | None:
        """Why the import did not add the model, in one line; None while it runs or if it did."""
        if not self.done:
            return None
        exc = self.future.exception()
        if exc is None:
            return None
        from core.data.cifar10 import DataError
        from core.training.lock import TrainingLocked

        if isinstance(exc, (*REFUSALS, DataError, TrainingLocked)):
            return _one_line(str(exc))
        return f"The import failed: {_one_line(str(exc)) or type(exc).__name__}"


_jobs: dict[str, ImportJob] = {}
_lock = threading.Lock()


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def jobs() -> dict[str, ImportJob]:
    """This process's imports by name, latest first."""
    with _lock:
        return dict(sorted(_jobs.items(), key=lambda kv: -kv[1].started))


def running() -> list[str]:
    return [name for name, job in jobs().items() if not job.done]


def check_upload(filename: str, size: int) -> None:
    """Refuse, in one line, an upload the dashboard does not take (before it is written)."""
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise ImportRefused(
            f"{filename}: the dashboard takes .keras and .tflite files; add .h5 files and "
            "SavedModel folders with python -m core.add_model"
        )
    if size > MAX_BYTES:
        raise ModelFileError(
            f"{filename} is {size / 2**20:.0f} MiB, over the {MAX_BYTES / 2**20:.0f} MiB cap "
            "for added models"
        )


def start(
    data: bytes,
    filename: str,
    name: str,
    scaling: str = "auto",
    title: str | None = None,
    data_source: str | None = None,
    root: str | os.PathLike | None = None,
) -> ImportJob:
    """Start importing an uploaded model file as ``name`` in a background thread.

    Raises ``ImportRefused`` or ``ModelFileError`` at once (nothing written, nothing started)
    for a wrong file type, an oversized file, a bad or taken name, a scaling the studio does not
    know, or an import of that name already running; the file's content is checked by the
    import itself (its first stage), and a refusal there is ``job.refusal``.
    """
    from core.serving.background import in_background
    from core.training.add_model import Request, add_model

    check_upload(filename, len(data))
    check_name(name, root, replace=False)
    if scaling != "auto" and scaling not in SCALINGS:
        raise ImportRefused(f"input scaling must be auto or one of {', '.join(SCALINGS)}")
    with _lock:
        if name in _jobs and not _jobs[name].future.done():
            raise ImportRefused(f"{name} is being added already; wait for that import to end")
        folder = Path(tempfile.mkdtemp(prefix="cifar10-studio-upload-"))
        # The original name is what the model card records; only plain characters are kept.
        path = folder / (_SAFE_FILENAME.sub("_", Path(filename).name).lstrip(".") or "upload")
        job = ImportJob(name, path.name)
        request = Request(
            file=str(path),
            name=name,
            title=title or None,
            input_scale=scaling,
            data=data_source,
            skip=tuple(SKIP),
            root=None if root is None else str(root),
        )

        def work() -> dict:
            try:
                path.write_bytes(data)
                return add_model(request, echo=False, on_stage=job.on_stage)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        job.future = in_background(work, name=f"import {name}")
        _jobs[name] = job
    return job


__all__ = ["UPLOAD_TYPES", "ImportJob", "check_upload", "jobs", "running", "start"]

"""Background training runs for the dashboard: start ``python -m core.train`` and follow it.

A run is a separate process (the UI stays responsive), logging to
``artifacts/.work/<model>/train.log``; ``core.training.train`` appends its progress to
``progress.jsonl`` (read through ``core.io.progress``) and holds ``lock`` (its PID, see
``core.training.lock``) while it runs. This module only starts the process and reads those files; it
never trains anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from core import REPO_ROOT
from core.io import progress as progress_log
from core.serving import deployment
from core.store.artifacts import artifacts_root, work_dir
from core.training import runspec
from core.training.lock import LOCK_FILE, pid_alive
from core.training.lock import TrainingLocked as TrainingLocked  # re-exported for older callers
from core.training.lock import training_lock as training_lock
from core.training.runspec import RunSpec

LOG_FILE = "train.log"
JOB_FILE = "job.json"

# Children started by this process, by model name, so they are reaped when they exit.
_CHILDREN: dict[str, subprocess.Popen] = {}


@dataclass(frozen=True)
class JobState:
    model: str
    running: bool
    pid: int | None
    started: float | None  # epoch seconds, from job.json (runs started by the dashboard)
    progress: list[dict] = field(default_factory=list)
    log_tail: str = ""
    returncode: int | None = None  # known only for runs this process started

    @property
    def fraction(self) -> float:
        """Share of the run done, from the last progress record (0 when none yet)."""
        return progress_log.fraction(self.progress)

    def curve_records(self) -> list[dict]:
        """The progress so far as long rows for ``core.reporting.charts.training_curves``."""
        return progress_log.curve_records(self.model, self.progress)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_progress(name: str, root: str | os.PathLike | None = None) -> list[dict]:
    """The progress records of the latest run of ``name`` (a half-written last line is skipped)."""
    return progress_log.read_records(work_dir(name, root) / progress_log.PROGRESS_FILE)


def _tail(path: Path, n_bytes: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - n_bytes))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def job_state(name: str, root: str | os.PathLike | None = None) -> JobState:
    """Whether ``name`` is training (by this process or any other), with its progress and log."""
    work = work_dir(name, root)
    returncode = None
    child = _CHILDREN.get(name)
    if child is not None:
        returncode = child.poll()  # reaps the child once it exits
    job = {}
    with contextlib.suppress(OSError, json.JSONDecodeError):
        job = json.loads((work / JOB_FILE).read_text())
    lock_pid = _read_pid(work / LOCK_FILE)
    pid = lock_pid if lock_pid and pid_alive(lock_pid) else None
    if pid is None and child is not None and returncode is None:
        pid = child.pid  # started, still importing TensorFlow: no lock yet
    elif pid is None and child is None and isinstance(job.get("pid"), int):
        # Started by an earlier dashboard process moments ago, not holding the lock yet.
        recent = time.time() - float(job.get("started") or 0) < 60
        pid = job["pid"] if recent and pid_alive(job["pid"]) else None
    return JobState(
        model=name,
        running=pid is not None,
        pid=pid,
        started=job.get("started"),
        progress=read_progress(name, root),
        log_tail=_tail(work / LOG_FILE),
        returncode=returncode,
    )


def start_training(spec: RunSpec, root: str | os.PathLike | None = None) -> int:
    """Launch the run in the background; returns its PID.

    Refuses in viewer mode (``core.serving.deployment.ViewerModeError``, a ``PermissionError``),
    when the model is already training (``RuntimeError``), and when its data source or weights file
    is not under a data root (``core.serving.deployment.SourceRefused``, a ``ValueError``): this is
    the dashboard's way to train, and the dashboard takes no path from outside the roots.
    """
    deployment.require_not_viewer()
    if spec.data:
        deployment.resolve_data_source(spec.data)
    if spec.weights not in (None, "imagenet"):
        deployment.resolve_weights_file(spec.weights)
    state = job_state(spec.model, root)
    if state.running:
        raise RuntimeError(f"{spec.model} is already being trained (process {state.pid}).")
    work = work_dir(spec.model, root)
    work.mkdir(parents=True, exist_ok=True)
    argv = runspec.argv(spec, str(artifacts_root(root)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with open(work / LOG_FILE, "w") as log:
        log.write("$ " + " ".join(argv[1:]) + "\n")
        log.flush()
        child = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # survives a dashboard restart, not tied to its signals
        )
    _CHILDREN[spec.model] = child
    (work / JOB_FILE).write_text(
        json.dumps({"pid": child.pid, "argv": argv, "started": time.time()}) + "\n"
    )
    return child.pid


def default_data_source(root: str | os.PathLike | None = None) -> str:
    """The Train page's suggested data source, as a real path, or "" (the official download).

    The first of ``$CIFAR10_DATA`` and the sources existing artifacts were trained on that
    still exists under a data root (``core.serving.deployment``): the page never suggests a path it
    would refuse.
    """
    from core.data.cifar10 import DATA_ENV
    from core.store.artifacts import Artifact, ArtifactError

    candidates = []
    if os.environ.get(DATA_ENV, "").strip():
        candidates.append(os.path.abspath(os.environ[DATA_ENV].strip()))
    base = artifacts_root(root)
    names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    for name in names:
        try:
            source = Artifact(name, root).config().get("dataset", {}).get("source")
        except (ArtifactError, AttributeError):  # an unreadable artifact just gives no hint
            continue
        if isinstance(source, str) and source:
            candidates.append(str(REPO_ROOT / source))  # absolute paths survive the join
    for candidate in candidates:
        try:
            return str(deployment.resolve_data_source(candidate))
        except deployment.SourceRefused:
            continue
    return ""

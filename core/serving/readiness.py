"""Whether this server's models are warm: a replica takes traffic only once they are.

Streamlit's ``/_stcore/health`` answers as soon as the server listens, long before the models
are loaded and traced. A replica started with ``$CIFAR10_STUDIO_READY_FILE`` set writes that
file (atomically, a small JSON record) once its warm-up has ended: ``python -m core.serve``
waits for it before putting the replica behind nginx, and a Kubernetes readiness probe tests
for it (``deploy/k8s/``). Streamlit starts the warm-up only when a script runs, so the replica
is also started with ``server.scriptHealthCheckEnabled``: one GET of
``/_stcore/script-health-check`` runs the dashboard once, which starts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from core.io.atomic import write_json, write_text

READY_FILE_ENV = "CIFAR10_STUDIO_READY_FILE"
# Where a replica keeps how many uploads it is answering right now: a rolled replica is stopped
# only once that is 0 (core.serving.cluster), else the answer being computed would be lost.
BUSY_FILE_ENV = "CIFAR10_STUDIO_BUSY_FILE"
WARM_UP_TRIGGER = "/_stcore/script-health-check"


def ready_file() -> Path | None:
    """The file this server writes once warm, from ``$CIFAR10_STUDIO_READY_FILE``; None unset."""
    configured = os.environ.get(READY_FILE_ENV, "").strip()
    return Path(configured) if configured else None


def mark_ready(models: list[str], failed: dict[str, str], artifacts: str) -> None:
    """Record that the warm-up of the models in ``artifacts`` has ended (the models it loaded,
    those it could not and why), if ``$CIFAR10_STUDIO_READY_FILE`` names a file; else nothing."""
    target = ready_file()
    if target is None:
        return
    record = {"pid": os.getpid(), "artifacts": artifacts, "models": models, "failed": failed}
    record["at"] = time.time()
    write_json(target, record)


def read_ready(path: str | os.PathLike) -> dict | None:
    """The record a warm server wrote to ``path``, or None while it is not (yet) there."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


_answering = 0
_answering_lock = threading.Lock()


def _count_answering(delta: int) -> None:
    global _answering
    configured = os.environ.get(BUSY_FILE_ENV, "").strip()
    with _answering_lock:
        _answering += delta
        if configured:
            write_text(configured, str(_answering))


@contextlib.contextmanager
def answering() -> Iterator[None]:
    """Count an upload being answered in ``$CIFAR10_STUDIO_BUSY_FILE`` while inside."""
    _count_answering(+1)
    try:
        yield
    finally:
        _count_answering(-1)


def answering_now(path: str | os.PathLike) -> int:
    """How many uploads the replica writing ``path`` is answering (0 without the file)."""
    try:
        return int(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def probe(port: int) -> int:
    """A readiness probe (Kubernetes' exec probe, ``deploy/k8s/``): 0 once this server is warm;
    else 1, after starting its warm-up when the server already answers (the first probe does
    it, later ones find it started: the dashboard runs its warm-up once per process)."""
    import urllib.request

    target = ready_file()
    if target is not None and read_ready(target) is not None:
        return 0
    base = f"http://127.0.0.1:{port}"
    asked = target.with_name(target.name + ".asked") if target is not None else None
    try:
        with urllib.request.urlopen(base + "/_stcore/health", timeout=2):
            pass
        if asked is None or not asked.exists():
            if asked is not None:
                asked.touch()
            # Answers once the dashboard's first run has ended; the warm-up goes on after it.
            with urllib.request.urlopen(base + WARM_UP_TRIGGER, timeout=3):
                pass
    except OSError:
        pass
    return 1


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m core.serving.readiness",
        description="Exit 0 once the dashboard on --port is warm ($CIFAR10_STUDIO_READY_FILE).",
    )
    parser.add_argument("--port", type=int, default=8501)
    return probe(parser.parse_args(argv).port)


if __name__ == "__main__":
    raise SystemExit(main())

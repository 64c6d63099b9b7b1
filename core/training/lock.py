"""One training run per model at a time: ``artifacts/.work/MODEL/lock`` holds the owner's PID.

``core.training.train`` takes the lock for the whole run; ``core.training.jobs`` (the dashboard)
reads the file
to tell whether a model is training. A lock whose process has died is taken over.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from core.store.artifacts import work_dir

LOCK_FILE = "lock"


class TrainingLocked(RuntimeError):
    """Another training run of the same model is in progress."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def training_lock(name: str, root=None) -> Iterator[None]:
    """One run per model at a time: a lock file holding the owner's PID."""
    work = work_dir(name, root)
    work.mkdir(parents=True, exist_ok=True)
    lock = work / LOCK_FILE
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = lock.read_text().strip() or "?"
            if owner.isdigit() and not pid_alive(int(owner)):
                lock.unlink(missing_ok=True)  # its owner died without cleaning up
                continue
            raise TrainingLocked(
                f"{name} is already being trained (process {owner}; lock file {lock}). Wait "
                "for it to finish, or delete the lock file if that process is gone."
            ) from None
    else:
        raise TrainingLocked(f"Could not take the lock {lock}.")
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)

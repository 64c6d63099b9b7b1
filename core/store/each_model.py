"""The loop of the commands that work through several artifacts (``python -m core.calibration``,
``core.robustness``, ``core.ood``, ``core.embedding``): one model failing leaves the others done."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from core.store.artifacts import ArtifactError

# What a model's run may fail with (a missing or damaged artifact, files, data that does not fit
# the model); anything else is a bug and stops the command.
MODEL_ERRORS = (ArtifactError, OSError, RuntimeError, ValueError)


def for_each_model(names: Iterable[str], work: Callable[[str], str]) -> int:
    """Print ``work(name)``'s one-line summary for every model in turn. A model that fails gets
    one ``error: NAME: why`` line on stderr, and the others still run. Returns the command's
    exit status: 1 if any model failed, else 0."""
    failed = 0
    for name in names:
        try:
            print(work(name))
        except MODEL_ERRORS as exc:
            message = str(exc)
            where = "" if message.startswith(f"{name}:") else f"{name}: "
            print(f"error: {where}{message}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0

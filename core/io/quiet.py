"""Silence what native code writes straight to file descriptor 2.

TensorFlow's C++ start-up (absl, oneDNN, CUDA probing), the TFLite interpreter ("Created
TensorFlow Lite XNNPACK delegate") and the TFLite converter log there, past Python's
``sys.stderr``, TF_CPP_MIN_LOG_LEVEL and the logging module; a command that promises one line
of output closes it around such calls.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

# One block at a time: two threads' blocks interleaved could restore /dev/null as fd 2 for good.
_LOCK = threading.RLock()


@contextlib.contextmanager
def stderr_closed() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside the block (Python's own stderr too)."""
    with _LOCK:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(devnull)
            os.close(saved)

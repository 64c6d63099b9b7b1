"""Write a file so that a reader sees the old one or the whole new one, never half a file.

    with atomic_file(path) as f: f.write(...)   # binary; atomic_file(path, "w") for text
    with atomic_path(path) as tmp: tool_that_writes_to(tmp)
    write_bytes(path, data);  write_text(path, text);  write_json(path, payload)

The data goes to a temp file in the target's own folder (``.NAME.XXXX.tmp``, or another
``suffix``), so the final ``os.replace`` is a rename within one file system; it gets mode 0o644
and replaces ``path`` only if the write finished. On any error the temp file is removed and
``path`` is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh empty temp file beside ``target``, renamed over it when the block succeeds."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_file(
    target: str | os.PathLike, mode: str = "wb", suffix: str = ".tmp", encoding: str | None = None
) -> Iterator[IO[Any]]:
    """``atomic_path`` opened for writing (``mode`` "wb" or "w"; text is UTF-8 by default)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file writes a new file; mode {mode!r} is not 'w' or 'wb'.")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(target, suffix) as tmp, open(tmp, mode, encoding=encoding) as f:
        yield f


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_file(target) as f:
        f.write(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_file(target, "w") as f:
        f.write(text)


def write_json(target: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON with a final newline; serialised before anything is written."""
    write_text(target, json.dumps(payload, indent=2) + "\n")

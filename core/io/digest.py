"""The sha256 of a file, read in 1 MiB blocks (model files and weight archives run to 100 MB)."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike, digest: hashlib._Hash | None = None) -> str:
    """Hex sha256 of the file at ``path``; with ``digest``, its bytes are added to that running
    digest instead (several files into one hash) and its hex value so far is returned."""
    digest = hashlib.sha256() if digest is None else digest
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()

"""What a dashboard visitor may do on the server: viewer mode and the data roots.

* **Viewer mode** (``CIFAR10_STUDIO_VIEWER=1``, or ``true``/``yes``/``on``): the dashboard is a
  read-only viewer. It has no Train page, starts no training run
  (``core.training.jobs.start_training``
  refuses) and takes no server path from the visitor.
* **Data roots** (``CIFAR10_DATA_ROOTS``, folders separated by ``os.pathsep``): even outside
  viewer mode, a path typed into the dashboard (the Train page's data source and weights file)
  must lie under one of them. A path outside every root is refused with one message, decided
  before the file system is touched, so the answer never tells whether that path exists.

The command-line tools (``python -m core.train --data ...``) are run by the server's operator
and are not restricted. This module never imports Streamlit.
"""

from __future__ import annotations

import os
from pathlib import Path

from core import REPO_ROOT
from core.data.cifar10 import DATA_ENV, default_cache_dir

VIEWER_ENV = "CIFAR10_STUDIO_VIEWER"
DATA_ROOTS_ENV = "CIFAR10_DATA_ROOTS"
TRUTHY = frozenset({"1", "true", "yes", "on"})
TRAIN_COMMAND = "python -m core.train NAME"


class ViewerModeError(PermissionError):
    """An action the read-only viewer does not allow (starting a training run)."""


class SourceRefused(ValueError):
    """A typed path the dashboard does not accept; ``str()`` is a one-line message for the user."""


def viewer_mode() -> bool:
    """Whether ``$CIFAR10_STUDIO_VIEWER`` turns the dashboard into a read-only viewer."""
    return os.environ.get(VIEWER_ENV, "").strip().lower() in TRUTHY


def viewer_refusal(action: str = "starts no training runs") -> str:
    """The one-line reason the viewer gives when asked to ``action``."""
    return (
        f"This dashboard is a read-only viewer ({VIEWER_ENV} is set): it {action}. "
        f"The administrator trains models on the server with `{TRAIN_COMMAND}`."
    )


def require_not_viewer(action: str = "starts no training runs") -> None:
    """Raise ``ViewerModeError`` in viewer mode."""
    if viewer_mode():
        raise ViewerModeError(viewer_refusal(action))


def data_roots() -> list[Path]:
    """The folders a typed path must lie under, absolute, in order, without duplicates.

    ``$CIFAR10_DATA_ROOTS`` when set (relative entries are taken from the working folder);
    else the repository's ``data/`` folder, the CIFAR-10 cache folder
    (``core.data.cifar10.default_cache_dir()``) and the folder holding ``$CIFAR10_DATA`` when that
    is set. A root need not exist.
    """
    configured = os.environ.get(DATA_ROOTS_ENV, "")
    entries = [e.strip() for e in configured.split(os.pathsep) if e.strip()]
    if not entries:
        entries = [str(REPO_ROOT / "data"), str(default_cache_dir())]
        if os.environ.get(DATA_ENV, "").strip():
            entries.append(os.path.dirname(os.path.abspath(os.environ[DATA_ENV].strip())))
    roots: list[Path] = []
    for entry in entries:
        root = Path(os.path.abspath(os.path.expanduser(entry)))
        if root not in roots:
            roots.append(root)
    return roots


def roots_text(roots: list[Path] | None = None) -> str:
    """The data roots as one line, for captions and messages."""
    return ", ".join(str(r) for r in (data_roots() if roots is None else roots))


def outside_message(roots: list[Path] | None = None) -> str:
    """The refusal of a path outside every data root: the same whether or not it exists."""
    return (
        "That path is not under a data root. The dashboard reads training data only from: "
        f"{roots_text(roots)}."
    )


def _under(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives (Windows), or a mix of absolute and relative
        return False


def _inside(typed: str, roots: list[Path]) -> list[str]:
    """Real paths of ``typed`` that lie under a root: lexically first, with no file system
    access (``..`` already collapsed), then after following symlinks (``os.path.realpath``)."""
    if "\0" in typed:
        return []
    candidates = [typed] if os.path.isabs(typed) else [os.path.join(r, typed) for r in roots]
    found = []
    for candidate in candidates:
        plain = os.path.abspath(candidate)
        if not any(_under(plain, str(r)) or _under(plain, os.path.realpath(r)) for r in roots):
            continue  # outside every root: never touched, so its existence cannot show
        real = os.path.realpath(plain)
        if any(_under(real, os.path.realpath(r)) for r in roots) and real not in found:
            found.append(real)
    return found


def _resolve(typed: str, what: str, wanted) -> Path:
    if viewer_mode():
        raise SourceRefused(viewer_refusal("takes no server paths"))
    typed = typed.strip()
    roots = data_roots()
    if not typed:
        raise SourceRefused(f"No {what} given.")
    inside = _inside(typed, roots)
    if not inside:
        raise SourceRefused(outside_message(roots))
    for real in inside:
        if wanted(real):
            return Path(real)
    raise SourceRefused(f"There is no {what} {typed} under the data roots ({roots_text(roots)}).")


def resolve_data_source(typed: str) -> Path:
    """The real path of a data source typed into the dashboard (folder, tarball or ``.npz``).

    ``typed`` is absolute, or relative to a data root (tried in order). Raises
    ``SourceRefused`` for a path outside every root (one message, whether the path exists or
    not; ``..`` and symlinks out of a root count as outside), for a missing one inside, and
    for any path in viewer mode.
    """
    return _resolve(typed, "data source", os.path.exists)


def resolve_weights_file(typed: str) -> Path:
    """The real path of a weights file typed into the dashboard: the same rule as
    ``resolve_data_source``, and it must be a file."""
    return _resolve(typed, "weights file", os.path.isfile)

"""Many image files at once: folders, globs and ``.zip`` archives, read lazily and with caps.

    gather(["photos/", "shots/*.png", "batch.zip"]) -> list[Entry]   # the command line
    from_uploads([(name, bytes), ...]) -> list[Entry]                # the dashboard
    labelled(path_or_bytes) -> list[Entry]   # ImageFolder: one sub-folder per class name

Every file a user hands over is hostile until ``core.data.images`` has decoded it: an entry
only names where its bytes are (``Entry.read``); nothing is read before it is needed, so a
batch of a thousand photos is never in memory at once. What cannot be an image (a zip entry
past the size cap, an encrypted one, a file of another type) becomes an entry whose ``error``
is its one-line reason: it is listed and counted, never a crash and never silently dropped.
Hidden files and macOS's ``__MACOSX/`` folder are left out.
"""

from __future__ import annotations

import glob
import io
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.data.cifar10 import CLASS_NAMES
from core.data.images import MAX_BYTES, SUPPORTED_FORMATS, ImageRejected, one_line

# The Live page's batch: at most this many images, a zip's included. An uploaded zip is one
# upload, so it is capped like any other at core.data.images.MAX_BYTES (and by the server).
MAX_BATCH: int = 200
MAX_ZIP_BYTES: int = MAX_BYTES
# What a zip's entries may expand to, all together: this many times the archive's own size, or
# ZIP_EXPANSION_FLOOR if more. Photos barely compress, so a real batch is far below it; past it
# (a zip bomb) each further entry is refused unread. Every entry is capped at MAX_BYTES too.
ZIP_EXPANSION_RATIO: int = 20
ZIP_EXPANSION_FLOOR: int = 256 * 2**20
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp", ".gif"}
)
_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}


class BatchError(ValueError):
    """A batch that cannot be read at all; str(exc) is a one-line, user-facing reason."""


@dataclass(frozen=True)
class Entry:
    """One file of a batch: its name as the user knows it, and how to get its bytes."""

    name: str
    source: bytes | Path | Callable[[], bytes] | None = None
    error: str | None = None  # why it is not an image, decided before any decoding
    label: str | None = None  # its class folder, in a labelled set

    def read(self) -> bytes | Path:
        """The bytes (or the path) to decode; raises ``ImageRejected`` with the entry's error."""
        if self.error is not None or self.source is None:
            raise ImageRejected(self.error or f"{one_line(self.name)}: nothing to read")
        return self.source() if callable(self.source) else self.source


def is_zip(name: str) -> bool:
    return name.lower().endswith(".zip")


def gather(patterns: Iterable[str]) -> list[Entry]:
    """Files, folders (every file below, sorted), globs and ``.zip`` archives, in the order given.

    A pattern that names nothing becomes an entry saying so."""
    entries: list[Entry] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            entries += _folder(path)
        elif path.exists() or not glob.has_magic(pattern):
            entries += _file(path, pattern)
        else:
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                entries.append(Entry(pattern, error=f"{one_line(pattern)}: no file matches"))
            for match in matches:
                entries += _folder(Path(match)) if Path(match).is_dir() else _file(Path(match))
    return entries


def from_uploads(files: Iterable[tuple[str, bytes]]) -> list[Entry]:
    """Uploaded (name, contents): images as they are, each ``.zip`` opened into its entries."""
    entries: list[Entry] = []
    for name, data in files:
        if is_zip(name):
            try:
                entries += zip_entries(data, name)
            except BatchError as exc:
                entries.append(Entry(name, error=str(exc)))
        else:
            entries.append(Entry(name, data))
    return entries


def capped(entries: list[Entry], limit: int | None = MAX_BATCH) -> list[Entry]:
    """Entries past ``limit`` images keep their names but say why they are not classified."""
    if limit is None or len(entries) <= limit:
        return entries
    extra = [
        Entry(
            e.name,
            error=f"{one_line(e.name)}: not classified, at most {limit} images at a time "
            f"(this batch has {len(entries)})",
            label=e.label,
        )
        for e in entries[limit:]
    ]
    return entries[:limit] + extra


def zip_entries(source: bytes | Path, name: str | None = None) -> list[Entry]:
    """Every file inside the archive (folders and hidden files left out), read on demand.

    An uploaded archive (``bytes``) may be at most ``MAX_ZIP_BYTES``; one on disk any size."""
    label = one_line(name or os.fsdecode(source))
    size = len(source) if isinstance(source, bytes) else _size(Path(source), label)
    if isinstance(source, bytes) and size > MAX_ZIP_BYTES:
        raise BatchError(
            f"{label}: archive is {size / 2**20:.1f} MiB, over the {MAX_ZIP_BYTES / 2**20:g} MiB "
            "limit"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise BatchError(f"{label}: not a readable .zip archive") from None
    entries, expanded = [], 0
    budget = max(ZIP_EXPANSION_FLOOR, ZIP_EXPANSION_RATIO * size)
    for info in infos:
        inner = PurePosixPath(info.filename)
        if info.is_dir() or _ignored(inner):
            continue
        shown = f"{label}/{one_line(info.filename)}"
        expanded += info.file_size
        if info.flag_bits & 0x1:
            entries.append(Entry(shown, error=f"{shown}: encrypted, cannot be read"))
        elif info.file_size > MAX_BYTES:
            entries.append(
                Entry(
                    shown,
                    error=f"{shown}: expands to {info.file_size / 2**20:.1f} MiB, over the "
                    f"{MAX_BYTES / 2**20:g} MiB limit",
                )
            )
        elif expanded > budget:
            entries.append(
                Entry(
                    shown,
                    error=f"{shown}: not read, the archive expands to more than "
                    f"{budget / 2**20:g} MiB (a zip bomb?)",
                )
            )
        elif not _image_suffix(inner.name):
            entries.append(Entry(shown, error=_not_an_image(shown, inner.suffix)))
        else:
            entries.append(Entry(shown, _reader(archive, info, shown)))
    return entries


def labelled(source: bytes | str | os.PathLike, name: str | None = None) -> list[Entry]:
    """An ImageFolder set (a folder or a ``.zip``): ``<class>/<image>`` for CIFAR-10's class
    names. A zip whose files all sit in one top folder is read from inside it.

    Raises ``BatchError`` (one line that lists the ten class names) for any other folder name,
    and for a set with no class folder at all."""
    if isinstance(source, bytes):
        entries, root_label = zip_entries(source, name), one_line(name or "upload.zip")
    else:
        path = Path(source)
        root_label = one_line(name or os.fsdecode(path))
        if path.is_dir():
            entries = [_relative(e, path) for e in _folder(path, label_root=path)]
        elif path.is_file() and is_zip(path.name):
            entries = zip_entries(path, name)
        elif not path.exists():
            raise BatchError(f"{root_label}: no such folder or .zip")
        else:
            raise BatchError(f"{root_label}: not a folder or a .zip of class folders")
    prefix = f"{root_label}/"
    parts = [PurePosixPath(e.name.removeprefix(prefix)).parts for e in entries]
    # One top folder holding everything (a zipped folder): the classes are one level down.
    tops = {p[0] for p in parts if len(p) > 1}
    if len(tops) == 1 and all(len(p) > 2 for p in parts) and tops.pop().lower() not in CLASS_NAMES:
        parts = [p[1:] for p in parts]
    folders = {p[0] for p in parts if len(p) > 1}
    unknown = sorted(f for f in folders if f.strip().lower() not in CLASS_NAMES)
    if unknown or not folders:
        found = (
            f"folder(s) {', '.join(repr(one_line(f)) for f in unknown)} are not class names"
            if unknown
            else "no class folders found"
        )
        raise BatchError(
            f"{root_label}: {found}; name each folder after one of the ten classes: "
            f"{', '.join(CLASS_NAMES)}"
        )
    out = []
    for entry, p in zip(entries, parts, strict=True):
        if len(p) < 2:
            error = entry.error or f"{entry.name}: not inside a class folder"
            out.append(Entry(entry.name, error=error))
        else:
            out.append(Entry(entry.name, entry.source, entry.error, p[0].strip().lower()))
    return out


# --- helpers ---------------------------------------------------------------------------------


def _ignored(path: PurePosixPath) -> bool:
    return (
        any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
        or path.name.lower() in _IGNORED_NAMES
    )


def _image_suffix(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _not_an_image(shown: str, suffix: str) -> str:
    kind = f"a {suffix.lower()} file" if suffix else "a file with no extension"
    return f"{shown}: {kind}, not an image ({', '.join(SUPPORTED_FORMATS)})"


def _size(path: Path, label: str) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise BatchError(f"{label}: cannot read ({exc.strerror or exc})") from None


def _file(path: Path, shown: str | None = None) -> list[Entry]:
    shown = shown or os.fsdecode(path)
    if is_zip(path.name) and path.is_file():
        try:
            return zip_entries(path, shown)
        except BatchError as exc:
            return [Entry(shown, error=str(exc))]
    return [Entry(shown, path)]  # core.data.images says what is wrong with it, if anything


def _folder(folder: Path, label_root: Path | None = None) -> list[Entry]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(PurePosixPath(d)))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if _ignored(PurePosixPath(filename)):
                continue
            shown = os.fsdecode(path)
            if _image_suffix(filename):
                entries.append(Entry(shown, path))
            elif is_zip(filename) and label_root is None:
                entries += _file(path)
            else:
                entries.append(Entry(shown, error=_not_an_image(one_line(shown), path.suffix)))
    return entries


def _relative(entry: Entry, root: Path) -> Entry:
    """An entry of a labelled folder, named from the folder down (``cat/001.jpg``)."""
    relative = Path(entry.name).relative_to(root).as_posix()
    return Entry(relative, entry.source, entry.error and entry.error.replace(entry.name, relative))


def _reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with archive.open(info) as handle:
                # The declared size can lie: never read more than the cap allows.
                data = handle.read(MAX_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            raise ImageRejected(f"{shown}: damaged inside the archive") from None
        if len(data) > MAX_BYTES:
            raise ImageRejected(f"{shown}: expands past the {MAX_BYTES / 2**20:g} MiB limit")
        return data

    return read

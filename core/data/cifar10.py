"""CIFAR-10 from three kinds of source, cached as decoded arrays, split and scaled.

Sources, chosen by a path (``--data`` on the CLIs, ``CIFAR10_DATA`` for the dashboard):

* the official python-format files: ``cifar-10-python.tar.gz`` or its extracted
  ``cifar-10-batches-py/`` folder; with no path and a network, the tarball is downloaded
  from the official URL (progress bar, MD5 check) into the cache folder;
* a class-folder image tree ``train/<class>/*`` and ``test/<class>/*`` (any Pillow format);
* the ``.npz`` cache this module writes after the first decode, so later loads are fast.

Arrays stay ``uint8`` (N, 32, 32, 3) until the last moment; ``scale`` turns them into floats.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_file

CLASS_NAMES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SHAPE = (32, 32, 3)

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_TARBALL = "cifar-10-python.tar.gz"
DATA_ENV = "CIFAR10_DATA"
CACHE_ENV = "CIFAR10_CACHE"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
# Bump when the decoded arrays of a source would change, so stale caches are ignored.
_CACHE_VERSION = 1


class DataError(RuntimeError):
    """The data source is missing, malformed or unreachable; the message says what to do."""


class ChecksumError(DataError):
    """A downloaded file does not match its published checksum."""


@dataclass(frozen=True)
class Cifar10:
    """The train and test split as uint8 images and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    dataset_id: str
    content_hash: str


@dataclass(frozen=True)
class Split:
    """Training data divided into a part to fit on and a held-out validation part."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def default_cache_dir() -> Path:
    base = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cifar10-studio"
    return Path(base)


def load_cifar10(
    data: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Cifar10:
    """Load CIFAR-10 from ``data`` (or ``$CIFAR10_DATA``, or the official download)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    data = data or os.environ.get(DATA_ENV) or None
    if data is None:
        path = cache / OFFICIAL_TARBALL
        if not path.exists():
            download_official(path, progress=progress)
    else:
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(f"Data path {path} does not exist.")

    if path.suffix == ".npz":
        return _load_npz(path)
    cache_file = cache / f"{_source_key(path)}.npz"
    if cache_file.exists():
        try:
            return _load_npz(cache_file)
        except (OSError, ValueError, KeyError):
            cache_file.unlink(missing_ok=True)  # a broken cache is rebuilt, never trusted
    arrays = _decode_source(path, progress=progress)
    dataset = _make_dataset(*arrays, source=str(path), dataset_id=_dataset_id(path))
    save_npz(dataset, cache_file)
    return dataset


def _decode_source(path: Path, progress: bool) -> tuple[np.ndarray, ...]:
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        return _read_official_tarball(path)
    if path.is_dir() and (path / "data_batch_1").exists():
        return _read_official_folder(path)
    if path.is_dir() and (path / "cifar-10-batches-py").is_dir():
        return _read_official_folder(path / "cifar-10-batches-py")
    if path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        return (
            *read_class_folders(path / "train", progress),
            *read_class_folders(path / "test", progress),
        )
    raise DataError(
        f"{path} is not a CIFAR-10 source: expected {OFFICIAL_TARBALL}, a cifar-10-batches-py/ "
        "folder, a folder with train/<class>/ and test/<class>/ image folders, or a .npz cache."
    )


def _dataset_id(path: Path) -> str:
    if path.name.endswith((".tar.gz", ".tgz", ".tar")) or "batches" in path.name:
        return "cifar10-official"
    return f"cifar10-folders:{path.resolve().name}"


def _source_key(path: Path) -> str:
    """Identify a source by its location and modification times, cheaply (no file reads)."""
    path = path.resolve()
    parts = [str(_CACHE_VERSION), str(path)]
    stamp_paths = [path]
    if path.is_dir():
        for sub in ("train", "test"):
            if (path / sub).is_dir():
                stamp_paths += sorted(p for p in (path / sub).iterdir() if p.is_dir())
    for p in stamp_paths:
        st = p.stat()
        parts.append(f"{p.name}:{st.st_mtime_ns}:{st.st_size}")
    return "cifar10-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def _make_dataset(x_train, y_train, x_test, y_test, source: str, dataset_id: str) -> Cifar10:
    h = hashlib.sha256()
    for arr in (x_train, y_train, x_test, y_test):
        h.update(np.ascontiguousarray(arr).tobytes())
    return Cifar10(
        x_train=x_train,
        y_train=y_train.astype(np.int64),
        x_test=x_test,
        y_test=y_test.astype(np.int64),
        source=source,
        dataset_id=dataset_id,
        content_hash=h.hexdigest(),
    )


def save_npz(dataset: Cifar10, path: Path) -> None:
    """Write the decoded arrays atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as f:
        np.savez(
            f,
            x_train=dataset.x_train,
            y_train=dataset.y_train,
            x_test=dataset.x_test,
            y_test=dataset.y_test,
            meta=np.array([dataset.source, dataset.dataset_id, dataset.content_hash]),
        )


def _load_npz(path: Path) -> Cifar10:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        meta = z["meta"].tolist() if "meta" in z else [str(path), f"npz:{path.name}", ""]
    if meta[2]:
        return Cifar10(**arrays, source=meta[0], dataset_id=meta[1], content_hash=meta[2])
    return _make_dataset(**arrays, source=str(path), dataset_id=meta[1])


# --- official python-format files -------------------------------------------------------------

_TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _unpickle_batch(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = pickle.loads(raw, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(batch[b"labels"], dtype=np.int64)


def _stack(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def _read_official_tarball(path: Path) -> tuple[np.ndarray, ...]:
    try:
        with tarfile.open(path) as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [n for n in [*_TRAIN_BATCHES, "test_batch"] if n not in members]
            if missing:
                raise DataError(f"{path} lacks the CIFAR-10 batch files {', '.join(missing)}.")

            def read(name: str) -> tuple[np.ndarray, np.ndarray]:
                return _unpickle_batch(tar.extractfile(members[name]).read())

            train = _stack([read(n) for n in _TRAIN_BATCHES])
            test = read("test_batch")
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path} is not a readable CIFAR-10 tarball: {exc}") from exc
    return (*train, *test)


def _read_official_folder(folder: Path) -> tuple[np.ndarray, ...]:
    train = _stack([_unpickle_batch((folder / n).read_bytes()) for n in _TRAIN_BATCHES])
    test = _unpickle_batch((folder / "test_batch").read_bytes())
    return (*train, *test)


# --- class-folder image trees -----------------------------------------------------------------


def read_class_folders(root: Path, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``root/<class>/*`` into uint8 32x32 RGB images and CIFAR-10 label indices."""
    from PIL import Image

    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    unknown = [p.name for p in class_dirs if p.name not in CLASS_NAMES]
    if unknown:
        raise DataError(
            f"{root} has folders that are not CIFAR-10 classes: {', '.join(unknown)} "
            f"(expected some of: {', '.join(CLASS_NAMES)})."
        )
    files = [
        (f, CLASS_NAMES.index(d.name))
        for d in class_dirs
        for f in sorted(d.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DataError(f"{root} holds no images in class folders.")
    images = np.empty((len(files), *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.array([label for _, label in files], dtype=np.int64)
    for i, (f, _) in enumerate(_progress(files, f"decoding {root.name}", progress)):
        try:
            with Image.open(f) as im:
                im = im.convert("RGB")
                if im.size != (32, 32):
                    im = im.resize((32, 32), Image.Resampling.BOX)
                images[i] = np.asarray(im)
        except OSError as exc:
            raise DataError(f"Cannot decode {f}: {exc}") from exc
    return images, labels


def _progress(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", mininterval=0.5)


# --- download ---------------------------------------------------------------------------------


def is_online(host: str = "www.cs.toronto.edu", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether ``host`` answers within ``timeout`` seconds (so we never wait on a dead network).

    The socket timeout does not cover the DNS lookup, which can hang for much longer on a
    machine without a network, so the whole check runs in a daemon thread that is given up on
    after ``timeout`` seconds.
    """
    answers: list[bool] = []
    finished = threading.Event()

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answers.append(True)
        except OSError:
            answers.append(False)
        finally:
            finished.set()

    threading.Thread(target=connect, name=f"is_online {host}", daemon=True).start()
    return finished.wait(timeout) and answers == [True]


def offline_message(target: Path) -> str:
    return (
        f"CIFAR-10 is not available offline and {OFFICIAL_URL} cannot be reached. Either put "
        f"the official tarball at {target} (download it on a machine that is online), or point "
        f"--data (or ${DATA_ENV}) at a folder with train/<class>/ and test/<class>/ images, "
        "a cifar-10-batches-py/ folder, or a cifar-10-python.tar.gz file."
    )


def _download_to(out, url: str, md5: str, bar_name: str | None) -> None:
    """Stream ``url`` into the open file ``out`` (a progress bar named ``bar_name`` if given);
    raises ``ChecksumError`` if its MD5 is not ``md5``."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=30) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        bar = None
        if bar_name:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc=bar_name)
        while chunk := resp.read(1 << 20):
            out.write(chunk)
            digest.update(chunk)
            if bar:
                bar.update(len(chunk))
        if bar:
            bar.close()
    if digest.hexdigest() != md5:
        raise ChecksumError(
            f"{url} downloaded with MD5 {digest.hexdigest()}, expected {md5}; the file was "
            "discarded. Try again, or download it by hand and pass it with --data."
        )


def download_official(
    target: Path,
    url: str = OFFICIAL_URL,
    md5: str = OFFICIAL_MD5,
    progress: bool = True,
    online: Callable[[], bool] | None = None,
) -> Path:
    """Download ``url`` to ``target`` with a progress bar, checking its MD5 before keeping it."""
    if url.startswith("http") and not (online or is_online)():
        raise DataError(offline_message(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_file(target, suffix=".part") as out:
            _download_to(out, url, md5, target.name if progress else None)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(f"Download of {url} failed ({exc}). {offline_message(target)}") from exc
    return target


# --- preprocessing ----------------------------------------------------------------------------


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1] (the model input contract)."""
    return images.astype(np.float32) / 255.0


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]


def split_validation(
    images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> Split:
    """Stratified hold-out from the training set (the test set is never used for choices)."""
    if not 0 < val_fraction < 1:
        return Split(images, labels, images[:0], labels[:0])
    from sklearn.model_selection import train_test_split

    try:
        parts = train_test_split(
            images, labels, test_size=val_fraction, random_state=seed, stratify=labels
        )
    except ValueError:  # too few images per class to stratify (tiny subsets)
        parts = train_test_split(images, labels, test_size=val_fraction, random_state=seed)
    x_fit, x_val, y_fit, y_val = parts
    return Split(x_fit, y_fit, x_val, y_val)


def subset(dataset: Cifar10, n_train: int | None, n_test: int | None, seed: int = 0) -> Cifar10:
    """A random subset of each split, for quick runs and tests."""
    rng = np.random.default_rng(seed)

    def pick(x, y, n):
        if n is None or n >= len(y):
            return x, y
        idx = np.sort(rng.choice(len(y), size=n, replace=False))
        return x[idx], y[idx]

    x_tr, y_tr = pick(dataset.x_train, dataset.y_train, n_train)
    x_te, y_te = pick(dataset.x_test, dataset.y_test, n_test)
    return _make_dataset(
        x_tr,
        y_tr,
        x_te,
        y_te,
        source=dataset.source,
        dataset_id=f"{dataset.dataset_id}[train:{len(y_tr)},test:{len(y_te)}]",
    )

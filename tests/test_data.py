import hashlib
import io
import pickle
import socket
import tarfile
import time

import numpy as np
import pytest
from PIL import Image

from core.data import cifar10 as data
from core.data.augment import AugmentConfig, augment_images
from core.data.cifar10 import CLASS_NAMES, ChecksumError, DataError, load_cifar10


def _batch(images: np.ndarray, labels: np.ndarray) -> bytes:
    flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # official row layout
    return pickle.dumps({b"data": flat, b"labels": labels.tolist(), b"batch_label": b"x"})


def _official_arrays(seed=0):
    rng = np.random.default_rng(seed)
    train = [rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8) for _ in range(5)]
    train_labels = [rng.integers(0, 10, 4) for _ in range(5)]
    test = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    return train, train_labels, test, np.array([7, 0, 3])


@pytest.fixture
def official_tarball(tmp_path):
    train, train_labels, test, test_labels = _official_arrays()
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        files = {f"data_batch_{i + 1}": _batch(train[i], train_labels[i]) for i in range(5)}
        files["test_batch"] = _batch(test, test_labels)
        files["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in CLASS_NAMES]})
        for name, payload in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_official_tarball_loads_images_in_channels_last_order(official_tarball, tmp_path):
    train, train_labels, test, test_labels = _official_arrays()
    ds = load_cifar10(official_tarball, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(ds.x_train, np.concatenate(train))
    np.testing.assert_array_equal(ds.y_train, np.concatenate(train_labels))
    np.testing.assert_array_equal(ds.x_test, test)
    np.testing.assert_array_equal(ds.y_test, test_labels)
    assert ds.dataset_id == "cifar10-official"


def test_extracted_folder_gives_the_same_content(official_tarball, tmp_path):
    with tarfile.open(official_tarball) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    from_tar = load_cifar10(official_tarball, cache_dir=tmp_path / "c1", progress=False)
    from_dir = load_cifar10(tmp_path / "x", cache_dir=tmp_path / "c2", progress=False)
    assert from_dir.content_hash == from_tar.content_hash


def _write_class_tree(root, per_class=2):
    expected = {}
    for split in ("train", "test"):
        for label in (0, 3, 9):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True)
            for i in range(per_class):
                colour = (label * 20, i * 50, 100)
                fmt, ext = ("PNG", "png") if i % 2 else ("BMP", "bmp")
                Image.new("RGB", (32, 32), colour).save(folder / f"{i}.{ext}", fmt)
                expected[(split, label, i)] = colour
    return expected


def test_class_folders_load_with_cifar_label_order(tmp_path):
    _write_class_tree(tmp_path / "imgs")
    ds = load_cifar10(tmp_path / "imgs", cache_dir=tmp_path / "cache", progress=False)
    assert ds.x_train.shape == (6, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert ds.y_train.tolist() == [0, 0, 3, 3, 9, 9]
    assert tuple(ds.x_train[3, 5, 5]) == (60, 50, 100)  # class 3, image 1 (PNG, lossless)


def test_class_folders_resize_other_sizes(tmp_path):
    folder = tmp_path / "imgs"
    for split in ("train", "test"):
        (folder / split / "cat").mkdir(parents=True)
        Image.new("RGB", (64, 48), (10, 200, 30)).save(folder / split / "cat" / "a.png")
    ds = load_cifar10(folder, cache_dir=tmp_path / "cache", progress=False)
    assert ds.x_test.shape == (1, 32, 32, 3)
    assert tuple(ds.x_test[0, 16, 16]) == (10, 200, 30)


def test_unknown_class_folder_is_refused(tmp_path):
    _write_class_tree(tmp_path / "imgs")
    (tmp_path / "imgs" / "train" / "unicorn").mkdir()
    with pytest.raises(DataError, match="unicorn"):
        load_cifar10(tmp_path / "imgs", cache_dir=tmp_path / "cache", progress=False)


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    _write_class_tree(tmp_path / "imgs")
    first = load_cifar10(tmp_path / "imgs", cache_dir=tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(data, "read_class_folders", no_decoding)
    started = time.perf_counter()
    second = load_cifar10(tmp_path / "imgs", cache_dir=tmp_path / "cache", progress=False)
    assert time.perf_counter() - started < 1.0
    assert second.content_hash == first.content_hash
    np.testing.assert_array_equal(second.x_train, first.x_train)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere", cache_dir=tmp_path, progress=False)


def test_download_with_wrong_checksum_is_discarded(tmp_path):
    source = tmp_path / "remote.tar.gz"
    source.write_bytes(b"not really cifar")
    target = tmp_path / "cache" / "cifar-10-python.tar.gz"
    with pytest.raises(ChecksumError, match="expected 0123"):
        data.download_official(target, url=source.as_uri(), md5="0123", progress=False)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial file left behind


def test_download_with_right_checksum_is_kept(tmp_path):
    source = tmp_path / "remote.tar.gz"
    source.write_bytes(b"payload" * 1000)
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    target = tmp_path / "cache" / "cifar-10-python.tar.gz"
    data.download_official(target, url=source.as_uri(), md5=md5, progress=False)
    assert target.read_bytes() == source.read_bytes()


def test_offline_without_a_path_fails_at_once_naming_both_ways_out(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setattr(data, "is_online", lambda *a, **k: False)
    started = time.perf_counter()
    with pytest.raises(DataError) as err:
        load_cifar10(None, cache_dir=tmp_path, progress=False)
    assert time.perf_counter() - started < 1.0
    message = str(err.value)
    assert str(tmp_path / "cifar-10-python.tar.gz") in message
    assert "--data" in message and "train/<class>/" in message


def test_is_online_gives_up_on_a_hanging_dns_lookup_after_its_timeout(monkeypatch):
    def hanging_lookup(*args, **kwargs):
        time.sleep(10)
        raise OSError("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    started = time.perf_counter()
    assert data.is_online("cifar.example", timeout=1.0) is False
    assert time.perf_counter() - started < 1.5


def test_is_online_answers_true_for_a_listening_port_and_false_at_once_for_a_closed_one():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert data.is_online("127.0.0.1", port, timeout=3.0) is True
    started = time.perf_counter()
    assert data.is_online("127.0.0.1", port, timeout=3.0) is False  # refused, not timed out
    assert time.perf_counter() - started < 1.0


def test_validation_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(10), 50)
    images = np.arange(500)[:, None, None, None] * np.ones((1, 2, 2, 3), dtype=np.int64)
    split = data.split_validation(images, labels, val_fraction=0.2, seed=1)
    assert len(split.y_val) == 100 and np.bincount(split.y_val).tolist() == [10] * 10
    fit_ids, val_ids = set(split.x_fit[:, 0, 0, 0]), set(split.x_val[:, 0, 0, 0])
    assert not fit_ids & val_ids and len(fit_ids | val_ids) == 500


def test_scale_and_one_hot():
    assert data.scale(np.array([0, 255], dtype=np.uint8)).tolist() == [0.0, 1.0]
    assert data.one_hot(np.array([2])).tolist() == [[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]]


def test_augmentation_keeps_shape_and_range_and_varies():
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 3)).astype(np.float32)
    out = augment_images(images, AugmentConfig.reference(), copies=3, seed=1)
    assert out.shape == (3, 4, 32, 32, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out[0], images) and not np.allclose(out[0], out[1])


def test_flip_only_augmentation_gives_the_image_or_its_mirror():
    rng = np.random.default_rng(0)
    images = rng.random((6, 32, 32, 3)).astype(np.float32)
    out = augment_images(images, AugmentConfig(rotation=0, shift=0, flip=True), copies=4, seed=3)
    for draw in out:
        for original, augmented in zip(images, draw, strict=True):
            assert np.allclose(augmented, original) or np.allclose(augmented, original[:, ::-1])
    assert any(not np.allclose(d, images) for d in out)


def test_disabled_augmentation_is_the_identity():
    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    out = augment_images(images, AugmentConfig(rotation=0, shift=0, flip=False), copies=2)
    np.testing.assert_array_equal(out[1], images)


def _pixel_shift_flip_of(original: np.ndarray, augmented: np.ndarray, pad: int):
    """The (row offset, column offset, flipped) that turns ``original`` into ``augmented``."""
    padded = np.pad(original, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    size = original.shape[0]
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[dy : dy + size, dx : dx + size]
            for flipped, candidate in ((False, crop), (True, crop[:, ::-1])):
                if np.array_equal(candidate, augmented):
                    return dy - pad, dx - pad, flipped
    return None


def test_shift_and_flip_augmentation_moves_whole_pixels_within_the_shift():
    images = np.random.default_rng(0).random((8, 32, 32, 3)).astype(np.float32)
    config = AugmentConfig(rotation=0, shift=0.0625, flip=True)  # 2 pixels
    out = augment_images(images, config, copies=4, seed=5)
    found = [
        _pixel_shift_flip_of(original, augmented, pad=2)
        for draw in out
        for original, augmented in zip(images, draw, strict=True)
    ]
    assert None not in found
    assert {dy for dy, _, _ in found} | {dx for _, dx, _ in found} >= {-2, 2}
    assert {flipped for _, _, flipped in found} == {False, True}
    np.testing.assert_array_equal(out, augment_images(images, config, copies=4, seed=5))

import json
import os
import stat

import numpy as np
import pytest

from core.io import atomic


def test_a_finished_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    atomic.write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert target.read_text().endswith("\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert stat.S_IMODE(os.stat(target).st_mode) == atomic.FILE_MODE


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path):
    target = tmp_path / "data.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic.atomic_file(target) as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.npz"]


def test_the_temp_file_lies_beside_the_target_with_its_suffix(tmp_path):
    target = tmp_path / "x.tar.gz"
    with atomic.atomic_path(target, suffix=".part") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".x.tar.gz.")
        assert tmp.suffix == ".part" and not target.exists()
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"


def test_numpy_archives_keep_their_name(tmp_path):
    target = tmp_path / "arrays.npz"
    with atomic.atomic_file(target) as f:
        np.savez(f, a=np.arange(3))
    with np.load(target) as z:
        assert z["a"].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["arrays.npz"]


def test_text_is_utf8_and_bytes_are_bytes(tmp_path):
    atomic.write_text(tmp_path / "t.html", "naïve ✓")
    atomic.write_bytes(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "t.html").read_bytes() == "naïve ✓".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    with pytest.raises(ValueError), atomic.atomic_file(tmp_path / "a", "a"):
        pass

"""Fast-start copies (core.serving.fast_start): made once by `python -m core.fast_start`, they
answer on a fresh server before the Keras models are loaded, and only if they reproduce the
artifact's stored test predictions."""

import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from core import REPO_ROOT
from core.data.cifar10 import CACHE_ENV, scale
from core.io.digest import file_sha256
from core.serving import fast_start, readiness, warming
from core.serving.predictor import Predictor
from core.store.artifacts import Artifact


@pytest.fixture
def root(trained, tmp_path, monkeypatch):
    """An artifacts folder with the trained `custom`, and an empty cache for its copies."""
    root = tmp_path / "artifacts"
    shutil.copytree(trained / "custom", root / "custom")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(readiness.READY_FILE_ENV, str(tmp_path / "ready"))
    monkeypatch.setenv(fast_start.FAST_START_ENV, "1")  # conftest turns them off elsewhere
    return root


@pytest.fixture
def check_images(tiny_npz):
    with np.load(tiny_npz) as z:
        return z["x_test"][:2]


def _first_answers(loading, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not loading.shared.models and not loading.done():
        assert time.monotonic() < deadline, "no model answered"
        time.sleep(0.01)


def _hold_keras_models(monkeypatch) -> threading.Event:
    """Keras models load only once the returned event is set: on a fresh server TensorFlow's
    import and the models' loads keep them waiting for seconds, the copies' time to answer."""
    go = threading.Event()
    load_keras = Predictor.load_one

    def load_when_told(*args, **kwargs):
        go.wait(60)
        return load_keras(*args, **kwargs)

    monkeypatch.setattr(Predictor, "load_one", staticmethod(load_when_told))
    return go


def test_one_copy_per_model_file_which_the_command_does_not_make_twice(root, tmp_path):
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}  # the fixture's

    def command(*args):
        return subprocess.run(
            [sys.executable, "-m", "core.fast_start", *args, "--artifacts", str(root)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO_ROOT,
            env=env,
        )

    # Made in this process, which has TensorFlow loaded already; the command's own conversion
    # runs in test_a_server_without_copies_makes_them_once_warm_for_its_next_start.
    assert fast_start.build("custom", root)[1]
    model_file = root / "custom" / "model.keras"
    copy = tmp_path / "cache" / "fast-start" / f"{file_sha256(model_file)}.tflite"
    assert copy.is_file() and fast_start.copy_path("custom", root) == copy

    again = command("custom")
    assert again.returncode == 0 and "custom: copy already there" in again.stdout

    unknown = command("nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1] == (
        "error: no ready artifact named nope (ready: custom)"
    )
    # A changed model file is another file: the old copy is not its copy.
    with open(model_file, "ab") as f:
        f.write(b"\0")
    assert fast_start.copy_path("custom", root) != copy
    assert fast_start.load("custom", root) is None


def test_the_copy_runs_in_openvino_with_litert_s_answers_and_falls_back_to_litert(
    root, check_images, monkeypatch
):
    path, _ = fast_start.build("custom", root)
    ir = fast_start.openvino_path(path)
    assert ir.is_file() and ir.with_suffix(".bin").is_file()
    batch = scale(check_images)
    copy = fast_start.FastCopy(path)
    assert copy.runtime == "OpenVINO"
    answer = copy(batch)
    assert answer is not copy(batch), "each call its own array, not the request's buffer"
    np.testing.assert_allclose(
        answer, Artifact("custom", root).predictions()["probs"][:2], atol=1e-4
    )
    monkeypatch.setenv(fast_start.OPENVINO_ENV, "0")
    litert = fast_start.FastCopy(path)
    assert litert.runtime == "LiteRT"
    np.testing.assert_allclose(answer, litert(batch), atol=1e-5)
    monkeypatch.delenv(fast_start.OPENVINO_ENV)
    ir.write_text("<net")  # damaged: LiteRT answers
    damaged = fast_start.FastCopy(path)
    assert damaged.runtime == "LiteRT"
    np.testing.assert_allclose(damaged(batch), litert(batch))


def test_a_copy_made_before_openvino_gets_its_openvino_form_and_keeps_its_tflite(root):
    path, _ = fast_start.build("custom", root)
    tflite = path.read_bytes()
    fast_start.openvino_path(path).unlink()
    assert fast_start.build("custom", root) == (path, True)
    assert fast_start.openvino_path(path).is_file() and path.read_bytes() == tflite
    assert fast_start.build("custom", root) == (path, False)


def test_a_fresh_server_answers_with_the_copy_before_the_keras_model_is_loaded(
    root, check_images, monkeypatch
):
    path, made = fast_start.build("custom", root)
    assert made and path.is_file()
    go = _hold_keras_models(monkeypatch)
    loading = warming.start(["custom"], str(root), lambda: ("tiny", check_images))
    try:
        _first_answers(loading)
        stored = Artifact("custom", root).predictions()["probs"][:2]
        assert loading.shared.predictor.fast == {"custom"} and loading.pending() == []
        assert isinstance(loading.shared.models["custom"], fast_start.FastCopy)
        by_copy = loading.shared.predict_each(scale(check_images))["custom"]
        np.testing.assert_allclose(by_copy, stored, atol=1e-4)
        with pytest.raises(ValueError, match="still loading"):
            loading.shared.gradcam("custom", check_images, 0)
        go.set()
        shared, failures = loading.result(timeout=120)
        assert failures == {} and loading.shared.predictor.fast == set()
        # The Keras model is there for Grad-CAM; the copy goes on answering.
        assert not isinstance(shared.models["custom"], fast_start.FastCopy)
        assert shared.predictor.answers_with_copy("custom")
        assert shared.predictor.runtime("custom") == "OpenVINO"
        np.testing.assert_allclose(shared.predict_each(scale(check_images))["custom"], by_copy)
        assert shared.gradcam("custom", check_images, 0).shape == (2, 32, 32)
    finally:
        go.set()
        loading.result(timeout=120)[0].batcher.close()


def test_a_copy_of_another_model_is_refused_and_the_keras_model_answers(
    root, check_images, tmp_path
):
    import keras

    # "other": the same artifact with another network in its model file.
    shutil.copytree(root / "custom", root / "other")
    keras.utils.set_random_seed(7)
    other = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    other.save(root / "other" / "model.keras")
    other_copy, made = fast_start.build("other", root)
    assert made
    shutil.rmtree(root / "other")
    shutil.copy(other_copy, fast_start.copy_path("custom", root))

    loading = warming.start(["custom"], str(root), lambda: ("tiny", check_images))
    shared, failures = loading.result(timeout=120)
    try:
        assert failures == {}
        assert "fast-start copy does not reproduce" in loading.copies_refused["custom"]
        assert not shared.predictor.answers_with_copy("custom")
        stored = Artifact("custom", root).predictions()["probs"][:2]
        answer = shared.predict_each(scale(check_images))["custom"]
        np.testing.assert_allclose(answer, stored, atol=1e-3)
    finally:
        shared.batcher.close()


def test_a_server_without_copies_makes_them_once_warm_for_its_next_start(
    root, check_images, monkeypatch
):
    loading = warming.start(["custom"], str(root), lambda: ("tiny", check_images))
    shared, failures = loading.result(timeout=120)
    try:
        assert failures == {} and not shared.predictor.answers_with_copy("custom")
        builder = fast_start._builders[-1]
        assert builder.args[-3:] == ["--if-idle", "--artifacts", str(root)]
        assert os.getpriority(os.PRIO_PROCESS, builder.pid) == 19 or builder.poll() is not None
        assert builder.wait(timeout=300) == 0
        log = fast_start.build_log().read_text()
        assert fast_start.copy_path("custom", root).is_file(), log
        assert "custom: copy made in" in log, log
    finally:
        shared.batcher.close()
    # The next start answers with it before its Keras model is loaded.
    go = _hold_keras_models(monkeypatch)
    again = warming.start(["custom"], str(root), lambda: ("tiny", check_images))
    try:
        _first_answers(again)
        assert again.shared.predictor.fast == {"custom"} and again.copies_refused == {}
    finally:
        go.set()
        again.result(timeout=120)[0].batcher.close()

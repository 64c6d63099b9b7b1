"""Broken artifacts are reported, never fatal; prediction is safe from many threads at once."""

import json
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from core.data.cifar10 import CLASS_NAMES
from core.data.images import decode_many
from core.serving import readiness, warming
from core.serving.classify import classify_files
from core.serving.predictor import Predictor
from core.store.artifacts import Artifact, ArtifactError
from core.training.evaluate import compute_metrics


@pytest.fixture
def copy_of(trained, tmp_path):
    shutil.copytree(trained / "custom", tmp_path / "custom")
    return tmp_path


def _status(root):
    return Artifact("custom", root).status()


def test_intact_copy_is_ready(copy_of):
    assert _status(copy_of).ready


def test_missing_model_file_marks_it_broken(copy_of):
    (copy_of / "custom" / "model.keras").unlink()
    status = _status(copy_of)
    assert status.state == "broken" and "model.keras" in status.reason


def test_truncated_model_file_fails_to_load_with_a_reason(copy_of):
    path = copy_of / "custom" / "model.keras"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="cannot be loaded"):
        Artifact("custom", copy_of).load_model()


def test_garbage_model_file_fails_to_load_with_a_reason(copy_of):
    (copy_of / "custom" / "model.keras").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ArtifactError, match="custom: model.keras cannot be loaded"):
        Artifact("custom", copy_of).load_model()


def test_corrupt_metrics_json_marks_it_broken(copy_of):
    (copy_of / "custom" / "metrics.json").write_text("{not json")
    status = _status(copy_of)
    assert status.state == "broken" and "metrics.json is not valid JSON" in status.reason


def test_metrics_that_do_not_match_the_predictions_mark_it_broken(copy_of):
    path = copy_of / "custom" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["accuracy"] = 0.99
    path.write_text(json.dumps(metrics))
    status = _status(copy_of)
    assert status.state == "broken" and "accuracy" in status.reason


def test_model_from_another_run_is_caught_by_verification(copy_of, tiny_npz):
    import keras

    from core.models.builders import build_custom

    with np.load(tiny_npz) as z:
        images = z["x_test"][:16]
    art = Artifact("custom", copy_of)
    art.verify_model(art.load_model(), images)  # the real pair passes
    keras.utils.set_random_seed(123)
    with pytest.raises(ArtifactError, match="does not reproduce"):
        art.verify_model(build_custom(), images)


def test_broken_artifact_leaves_the_others_usable(copy_of, trained):
    shutil.copytree(trained / "custom", copy_of / "vgg12")
    (copy_of / "vgg12" / "model.keras").write_bytes(b"broken")
    predictor, failed = Predictor.from_artifacts(["custom", "vgg12", "vgg12_opt"], copy_of)
    assert list(predictor.models) == ["custom"]
    assert failed["vgg12"].startswith("broken") and failed["vgg12_opt"].startswith("missing")


def test_predictor_refuses_a_model_that_does_not_match_its_predictions(copy_of, trained, tiny_npz):
    shutil.copytree(trained / "custom", copy_of / "vgg12")
    (copy_of / "vgg12" / "test_predictions.npz").unlink()
    shutil.copy(copy_of / "custom" / "test_predictions.npz", copy_of / "vgg12")
    # Swap in another run's predictions and metrics: status alone cannot tell, the model can.
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=60).astype(np.float32)
    np.savez_compressed(
        copy_of / "vgg12" / "test_predictions.npz", y_true=np.arange(60) % 10, probs=probs
    )
    from core.training.evaluate import compute_metrics

    (copy_of / "vgg12" / "metrics.json").write_text(
        json.dumps(compute_metrics(np.arange(60) % 10, probs))
    )
    assert Artifact("vgg12", copy_of).status().ready
    with np.load(tiny_npz) as z:
        images = z["x_test"][:16]
    predictor, failed = Predictor.from_artifacts(
        ["custom", "vgg12"], copy_of, verify_with=("tiny", images)
    )
    assert list(predictor.models) == ["custom"]
    assert "does not reproduce its stored test predictions" in failed["vgg12"]


def test_status_puts_back_an_artifact_left_mid_swap(copy_of):
    (copy_of / "custom").rename(copy_of / ".custom.old")
    assert _status(copy_of).ready
    assert (copy_of / "custom" / "model.keras").is_file()


def test_eight_threads_get_their_own_answers(trained, tmp_path):
    """Eight sessions classifying at once through the live page's code path, one model copy."""
    predictor, _ = Predictor.from_artifacts(["custom"], trained)
    colours = [(255 * (i & 1), 255 * (i >> 1 & 1), 255 * (i >> 2 & 1)) for i in range(8)]
    uploads = []
    for i, colour in enumerate(colours):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (40 + i, 30), colour).save(path)
        uploads.append((path.name, path.read_bytes()))
    # What each session must see: its own image's probabilities, computed alone.
    expected = [predictor.predict(decode_many([u])[0].array[None])["custom"][0] for u in uploads]
    expected_order = [[CLASS_NAMES[j] for j in np.argsort(-p)] for p in expected]

    results, errors = [None] * 8, []
    barrier = threading.Barrier(8)

    def session(i):
        try:
            barrier.wait()
            for _ in range(5):
                (classified,) = classify_files(predictor, [uploads[i]], k=10)
                results[i] = classified.top["custom"]
                assert [c for c, _ in results[i]] == expected_order[i]
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(predictor.models) == 1


# --- the dashboard's warm-up (core.serving.warming) ----------------------------------------


def test_models_warm_one_by_one_and_a_swapped_model_is_refused(
    trained, tiny_npz, tmp_path, monkeypatch
):
    root = tmp_path / "artifacts"
    shutil.copytree(trained / "custom", root / "custom")
    shutil.copytree(trained / "custom", root / "vgg12")
    # vgg12's predictions and metrics from another run: its status is ready, its model is not.
    probs = np.random.default_rng(0).dirichlet(np.ones(10), size=60).astype(np.float32)
    np.savez_compressed(
        root / "vgg12" / "test_predictions.npz", y_true=np.arange(60) % 10, probs=probs
    )
    (root / "vgg12" / "metrics.json").write_text(
        json.dumps(compute_metrics(np.arange(60) % 10, probs))
    )
    assert Artifact("vgg12", root).status().ready
    monkeypatch.setenv(readiness.READY_FILE_ENV, str(tmp_path / "ready"))
    with np.load(tiny_npz) as z:
        images = z["x_test"][:2]

    loading = warming.start(["custom", "vgg12"], str(root), lambda: ("tiny", images))
    assert set(loading.pending()) <= {"custom", "vgg12"}
    shared, failures = loading.result(timeout=120)
    try:
        assert list(shared.models) == ["custom"] and loading.pending() == []
        assert "does not reproduce its stored test predictions" in failures["vgg12"]
        answer = shared.predict_each(images.astype(np.float32) / 255.0)["custom"]
        stored = Artifact("custom", root).predictions()["probs"][:2]
        np.testing.assert_allclose(answer, stored, atol=1e-3)
        record = readiness.read_ready(tmp_path / "ready")
        assert record["models"] == ["custom"] and record["artifacts"] == str(root)
        assert "vgg12" in record["failed"]
    finally:
        shared.batcher.close()


def test_the_unfamiliar_image_gate_loads_after_the_first_model_answers(
    trained, tmp_path, monkeypatch
):
    # Loaded first, on a fresh server drawing its first page, the gate held every answer back
    # by seconds; the Live page says "not checked yet" while gate_warming() is true.
    import threading

    from core.serving import unfamiliar

    root = tmp_path / "artifacts"
    for name in ("custom", "vgg12"):
        shutil.copytree(trained / "custom", root / name)
    started, seen = threading.Event(), []
    holder = {}

    def gate_load(root_):
        started.wait(10)
        seen.append((list(holder["loading"].shared.models), holder["loading"].gate_warming()))
        return None

    monkeypatch.setattr(unfamiliar.GateRunner, "load", staticmethod(gate_load))
    loading = warming.start(["custom", "vgg12"], str(root), lambda: None)
    holder["loading"] = loading
    started.set()
    shared, _ = loading.result(timeout=120)
    try:
        assert seen == [(["custom"], True)]  # one model answering, the gate not yet there
        assert not loading.gate_warming() and list(shared.models) == ["custom", "vgg12"]
    finally:
        shared.batcher.close()

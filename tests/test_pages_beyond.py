"""AppTest tests of the mistakes, calibration/robustness and report pages, and of Grad-CAM on
the live and per-class pages, over the small artifacts of conftest.py's fake_root."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.analysis import abstain, calibration, mistakes
from core.data.cifar10 import CLASS_NAMES
from core.store import artifacts
from core.store.samples import load_test_images
from tests.conftest import FAKE_MODELS
from tests.live_answers import answer_rows
from tests.page_tables import table_with

ROOT = Path(__file__).resolve().parent.parent
NEW_PAGES = ["pages/mistakes.py", "pages/trust.py", "pages/report.py"]


def _app(page: str, root, monkeypatch) -> AppTest:
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(root))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    _ok(at)
    at.switch_page(page).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _captions(at: AppTest) -> list[str]:
    return [c for img in at.get("image") for c in img.captions]


def _shipped_ready() -> list[str]:
    from core.models.registry import REGISTRY

    root = artifacts.artifacts_root()
    return [n for n in REGISTRY if artifacts.Artifact(n, root).status().ready]


def _title(name: str) -> str:
    from core.models.registry import REGISTRY

    return REGISTRY[name].title


def test_mistakes_page_counts_the_first_shipped_models_wrong_answers(monkeypatch):
    ready = _shipped_ready()
    at = _app("pages/mistakes.py", artifacts.artifacts_root(), monkeypatch)
    assert at.selectbox[0].options == [_title(n) for n in ready]
    preds = np.load(artifacts.artifacts_root() / ready[0] / "test_predictions.npz")
    wrong = int((preds["probs"].argmax(1) != preds["y_true"]).sum())
    assert f"wrong answers of {_title(ready[0])} match (of {wrong:,})" in _texts(at.markdown)


def test_trust_page_states_each_shipped_models_robustness(monkeypatch):
    at = _app("pages/trust.py", artifacts.artifacts_root(), monkeypatch)
    shown = _texts(at.markdown)
    for name in _shipped_ready():
        stored = artifacts.artifacts_root() / name / "robustness.json"
        if stored.exists():
            mean = __import__("json").loads(stored.read_text())["mean_corrupted_accuracy"]
            assert f"**{_title(name)}**: {mean:.3f} mean accuracy under corruption" in shown


def test_trust_page_says_when_models_were_measured_on_different_subsets(
    fake_root, tmp_path, monkeypatch
):
    root = tmp_path / "artifacts"
    shutil.copytree(fake_root, root)
    stored = json.loads((root / "custom" / "robustness.json").read_text())
    smaller = {**stored, "model": "vgg12", "n_images": 10, "subset": "10 test images"}
    (root / "vgg12" / "robustness.json").write_text(json.dumps(smaller))
    text = _texts(_app("pages/trust.py", root, monkeypatch).markdown)
    assert "Not every model was measured on the same subset" in text
    assert "(10 test images)" in text and f"({stored['n_images']:,} test images)" in text
    assert "Accuracy on the same test images" not in text
    (root / "vgg12" / "robustness.json").write_text(json.dumps({**stored, "model": "vgg12"}))
    text = _texts(_app("pages/trust.py", root, monkeypatch).markdown)
    assert "Accuracy on the same test images after six common corruptions" in text


def test_report_page_shows_each_shipped_models_card(monkeypatch):
    at = _app("pages/report.py", artifacts.artifacts_root(), monkeypatch)
    cards = _texts(at.markdown)
    for name in _shipped_ready():
        assert f"# {_title(name)} (`{name}`)" in cards


@pytest.mark.parametrize("page", NEW_PAGES)
def test_new_pages_render_without_models(page, tmp_path, monkeypatch):
    at = _app(page, tmp_path, monkeypatch)
    assert at.title
    assert "No model is trained yet" in _texts(at.info)


def test_mistakes_gallery_filters_and_explains(fake_root, monkeypatch):
    at = _app("pages/mistakes.py", fake_root, monkeypatch)
    samples = load_test_images(fake_root)
    probs = {n: artifacts.Artifact(n, fake_root).predictions()["probs"] for n in FAKE_MODELS}
    at.selectbox(key="mis_true").set_value("cat").run()
    _ok(at)
    expected = mistakes.confident_mistakes(
        samples.labels, probs, "custom", true_class=3, min_confidence=0.0
    )
    at.slider[0].set_value((0.0, 1.0)).run()
    _ok(at)
    assert f"**{len(expected):,}** wrong answers of Custom CNN match" in _texts(at.markdown)
    gallery = [c for c in _captions(at) if c.startswith("test image")]
    shown = min(24, len(expected))
    # the most confident first (laid out row by row, so AppTest lists them column by column)
    assert sorted(gallery) == sorted(f"test image {r}" for r in expected["row"][:shown])
    answers = _texts(at.markdown)
    assert "true: **cat**" in answers and "Model 1 (12-layer VGG):" in answers

    at.toggle(key="mis_cam").set_value(True).run()
    _ok(at)
    cams = [c for c in _captions(at) if c.startswith("Grad-CAM: Custom CNN for ")]
    assert len(cams) == shown


def test_possibly_mislabelled_counts_what_core_finds(fake_root, monkeypatch):
    at = _app("pages/mistakes.py", fake_root, monkeypatch)
    samples = load_test_images(fake_root)
    probs = {n: artifacts.Artifact(n, fake_root).predictions()["probs"] for n in FAKE_MODELS}
    at.slider[1].set_value(0.5).run()
    _ok(at)
    expected = mistakes.possibly_mislabelled(samples.labels, probs, min_confidence=0.5)
    assert f"**{len(expected):,}** test images." in _texts(at.markdown)


def test_trust_page_shows_calibration_and_robustness(fake_root, monkeypatch):
    at = _app("pages/trust.py", fake_root, monkeypatch)
    table = table_with(at, "model", "ECE", "temperature T")
    assert list(table["model"]) == ["Custom CNN", "Model 1 (12-layer VGG)"]
    for i, name in enumerate(FAKE_MODELS):
        core = calibration.for_artifact(name, fake_root)
        assert table["ECE"][i] == pytest.approx(core["test"]["ece_before"])
        assert float(table["temperature T"][i]) == pytest.approx(core["temperature"], abs=5e-4)
        assert float(table["ECE after T"][i]) == pytest.approx(core["test"]["ece_after"], abs=5e-5)
    markdown = _texts(at.markdown)
    assert "**Custom CNN**: " in markdown and "mean accuracy under corruption" in markdown
    # reliability diagram, risk-coverage curves, one per corruption
    assert len(at.get("plotly_chart")) == 2 + 6
    abstaining = table_with(at, "model", "accuracy answering all")
    assert list(abstaining["model"]) == ["Custom", "Model 1"]
    for i, name in enumerate(FAKE_MODELS):
        preds = artifacts.Artifact(name, fake_root).predictions()
        t = calibration.for_artifact(name, fake_root)["temperature"]
        curve = abstain.risk_coverage(preds["y_true"], preds["probs"], t)
        accuracy = float((preds["probs"].argmax(1) == preds["y_true"]).mean())
        assert abstaining["accuracy answering all"][i] == pytest.approx(accuracy)
        assert abstaining["accuracy answering 80%"][i] == pytest.approx(
            abstain.accuracy_at(curve, 0.8)
        )
    assert "python -m core.robustness vgg12" in _texts(at.info)


def test_report_page_offers_the_report_and_shows_model_cards(fake_root, monkeypatch):
    at = _app("pages/report.py", fake_root, monkeypatch)
    assert [e.label for e in at.expander] == [
        "Custom CNN (`custom`)",
        "Model 1 (12-layer VGG) (`vgg12`)",
    ]
    assert "Tiny custom" in _texts(at.markdown)
    slides = [b.proto for b in at.get("download_button")]
    assert [b.label for b in slides] == ["Download slides (.pptx)"]
    assert slides[0].deferred_file_id, "the deck is built when the button is clicked"
    at.button[0].click().run()
    _ok(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download report.html", "Download slides (.pptx)"]


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_live_page_draws_a_heatmap_beside_each_prediction(fake_root, monkeypatch):
    at = _app("pages/live.py", fake_root, monkeypatch)
    at.file_uploader[0].set_value([("red.png", _png((200, 30, 30)), "image/png")]).run()
    _ok(at)
    cams = [c for c in _captions(at) if c.startswith("Grad-CAM for ")]
    assert len(cams) == len(FAKE_MODELS)
    at.selectbox(key="live_cam_class").set_value("cat").run()
    _ok(at)
    assert [c for c in _captions(at) if c.startswith("Grad-CAM")] == ["Grad-CAM for cat"] * 2
    at.toggle(key="live_cam").set_value(False).run()
    _ok(at)
    assert not [c for c in _captions(at) if c.startswith("Grad-CAM")]


def test_live_page_marks_answers_below_the_abstain_slider_not_sure(fake_root, monkeypatch):
    at = _app("pages/live.py", fake_root, monkeypatch)
    at.toggle(key="live_cam").set_value(False)
    at.slider(key="live_abstain").set_value(1.0)
    at.file_uploader[0].set_value([("red.png", _png((200, 30, 30)), "image/png")]).run()
    _ok(at)
    unsure = [m.value for m in at.markdown if "**not sure**" in m.value]
    assert len(unsure) == len(FAKE_MODELS), "every confidence is below 100%"
    assert all(text.endswith("< 100%)") for text in unsure)
    assert len(answer_rows(at)) == 3 * len(FAKE_MODELS), "the answers stay shown"
    at.slider(key="live_abstain").set_value(0.0).run()
    _ok(at)
    assert not [m for m in at.markdown if "**not sure**" in m.value], "0 turns it off"


def test_per_class_cell_images_get_grad_cam_on_request(fake_root, monkeypatch):
    at = _app("pages/per_class.py", fake_root, monkeypatch)
    cm = np.array(artifacts.Artifact("custom", fake_root).metrics()["confusion_matrix"])
    t, p = np.unravel_index(cm.argmax(), cm.shape)
    at.selectbox(key="cell_true").set_value(CLASS_NAMES[t])
    at.selectbox(key="cell_pred").set_value(CLASS_NAMES[p]).run()
    _ok(at)
    assert not [c for c in _captions(at) if c.startswith("test image")], "off by default"
    at.toggle(key="cell_cam").set_value(True).run()
    _ok(at)
    assert len([c for c in _captions(at) if c.startswith("test image")]) == min(24, cm[t, p])

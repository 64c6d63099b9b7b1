"""An added model (``python -m core.add_model``) on every page, marked imported, in a style of
its own; the Live page's model picker; the Train page's upload.

The artifacts root is a temporary folder of links to the shipped artifacts plus the added
model, so the repository's artifacts/ is never written. The added model is the tiny [-1, 1]
network of tests/test_add_model.py; its data pairs the tiny training images (which it learns,
so the import's validation check passes) with the shipped test images, so the pages compare it
with the shipped models on the same images.
"""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.data.cifar10 import Cifar10, save_npz
from core.store import artifacts
from core.training import add_model
from tests.conftest import make_tiny_dataset
from tests.test_add_model import tiny_network

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "artifacts"
NAME, TITLE = "tiny_net", "Tiny net"
LABEL = f"{TITLE} (imported)"
SKIP = ["--skip", "robustness,ood,embedding"]
WAIT_S = 90  # the longest a test waits for a background import


def _farm(root: Path, names: list[str] | None = None) -> Path:
    """``root`` holding links to the shipped artifacts (``names`` only, if given) and test
    images: read from, never written."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in SHIPPED.iterdir():
        if entry.name == "test_images.npz" or names is None or entry.name in names:
            (root / entry.name).symlink_to(entry)
    return root


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The tiny network as a .keras file, its data (.npz) and a root where it is added."""
    from core.store.samples import load_test_images

    folder = tmp_path_factory.mktemp("own_model")
    tiny = make_tiny_dataset(n_train=600, n_test=200)
    net = tiny_network(tiny, epochs=10)
    net.save(folder / "net.keras")
    shipped = load_test_images(SHIPPED)
    data = Cifar10(
        tiny.x_train,
        tiny.y_train,
        shipped.images,
        shipped.labels.astype(np.int64),
        "tiny training images, shipped test images",
        shipped.dataset_id,
        "1" * 64,
    )
    save_npz(data, folder / "data.npz")
    root = _farm(folder / "root")
    argv = [str(folder / "net.keras"), "--name", NAME, "--title", TITLE, *SKIP]
    argv += ["--data", str(folder / "data.npz"), "--artifacts", str(root), "--quiet"]
    assert add_model.main(argv) == 0
    return {"folder": folder, "root": root, "data": folder / "data.npz"}


def _app(root: Path, page: str | None, monkeypatch) -> AppTest:
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(root))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120).run()
    _ok(at)
    if page:
        at.switch_page(str(REPO / "pages" / f"{page}.py")).run()
        _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _page_text(at: AppTest) -> str:
    """What a reader sees: text, captions, alerts, tables, widget labels and choices."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text"):
        parts += [str(e.value) for e in at.get(kind)]
    for kind in ("info", "warning", "error", "success"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [e.value.to_string() for e in at.get("dataframe")]
    parts += [str(e.label) for e in at.get("expander")]
    for kind in ("selectbox", "multiselect", "radio"):
        for widget in at.get(kind):
            parts += [str(o) for o in widget.options]  # as shown (format_func applied)
    return "\n".join(parts)


PAGES = ["overview", "comparison", "agreement", "per_class", "mistakes", "embedding", "trust"]


@pytest.mark.parametrize("page", [*PAGES, "report"])
def test_each_page_shows_the_added_model_marked_imported(page, own, monkeypatch):
    at = _app(own["root"], page, monkeypatch)
    assert LABEL in _page_text(at), f"{page} does not name {LABEL}"
    # the sidebar's list of models too
    assert any(LABEL in str(c.value) for c in at.sidebar.caption)


def test_overview_table_says_where_the_added_model_came_from(own, monkeypatch):
    at = _app(own["root"], "overview", monkeypatch)
    table = at.dataframe[0].value
    assert list(table[table["model"] == LABEL]["source"]) == ["imported"]
    assert LABEL in [m.label for m in at.metric], "its accuracy card"


def test_comparison_tests_the_added_model_against_any_shipped_one(own, monkeypatch):
    at = _app(own["root"], "comparison", monkeypatch)
    at.selectbox(key="cmp_a").set_value(NAME).run()
    _ok(at)
    b = at.selectbox(key="cmp_b")
    assert b.value != NAME and b.value in [p.name for p in SHIPPED.iterdir() if p.is_dir()]
    assert f"{LABEL} right" in _page_text(at), "the McNemar table names it"


def test_the_report_and_slides_list_the_added_model(own, monkeypatch):
    from core.reporting import slides

    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(own["root"]))
    results = slides.load_results(own["root"], n_boot=10)
    assert NAME in results.names and slides.title(NAME) == LABEL


def test_its_style_differs_from_every_shipped_model_and_is_fixed_by_name(own, monkeypatch):
    from core.models.registry import REGISTRY
    from core.reporting import charts, palette

    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(own["root"]))
    mine = palette.style(NAME)
    for name in REGISTRY:
        shipped = palette.style(name)
        assert shipped.dash == "solid" and shipped.pattern == ""
        assert (mine.dash, mine.marker, mine.pattern) != (
            shipped.dash,
            shipped.marker,
            shipped.pattern,
        ), f"{NAME} is drawn like {name}: told apart by colour alone"
    # the same in another process (str hashes change per process), whatever else is added
    code = f"from core.reporting.palette import style; print(repr(style({NAME!r})))"
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.stdout.strip() == repr(mine), shown.stderr[-500:]
    # and in the charts: dashed line and patterned bars, by its label
    metrics = {
        label: artifacts.Artifact(name, own["root"]).metrics()
        for name, label in (("custom", "Custom CNN"), (NAME, LABEL))
    }
    bars = {t.name: t.marker.pattern.shape for t in charts.per_class_figure(metrics).data}
    assert bars[LABEL] == mine.pattern and not bars["Custom CNN"]
    from core.analysis.calibration import reliability

    rel = {}
    for name, label in (("custom", "Custom CNN"), (NAME, LABEL)):
        preds = artifacts.Artifact(name, own["root"]).predictions()
        rel[label] = reliability(preds["y_true"], preds["probs"])
    lines = {t.name: t for t in charts.reliability_figure(rel).data}
    assert lines[LABEL].line.dash == mine.dash and lines[LABEL].marker.symbol == mine.marker
    assert lines[LABEL].line.color == mine.colour
    assert lines["Custom CNN"].line.dash in (None, "solid")


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _answers(at: AppTest) -> list[str]:
    """The short labels of the models whose answer cards are shown."""
    return [
        m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and "**:" in m.value
    ]


def test_live_answers_with_the_picked_models_and_says_which_have_no_heatmap(
    own, tmp_path, monkeypatch
):
    import keras
    import tensorflow as tf

    root = _farm(tmp_path / "root", [])
    (root / NAME).symlink_to(own["root"] / NAME)
    net = keras.models.load_model(own["folder"] / "net.keras")
    lite = tmp_path / "net.tflite"
    lite.write_bytes(tf.lite.TFLiteConverter.from_keras_model(net).convert())
    argv = [str(lite), "--name", "lite_net", *SKIP, "--data", str(own["data"])]
    assert add_model.main([*argv, "--artifacts", str(root), "--quiet"]) == 0
    at = _app(root, "live", monkeypatch)
    assert at.multiselect(key="live_models").value == ["lite_net", NAME], "all by default"
    at.file_uploader[0].set_value([("red.png", _png(), "image/png")]).run()
    _ok(at)
    assert _answers(at) == ["lite_net (imported)", LABEL]
    cams = [c for image in at.get("image") for c in image.captions if c.startswith("Grad-CAM")]
    assert len(cams) == 1, "the Keras model's heatmap"
    lines = [c.value for c in at.caption if "Grad-CAM" in c.value]
    assert lines == ["Grad-CAM is not available for a TFLite model: it has no layers to follow."]
    at.multiselect(key="live_models").set_value([NAME]).run()
    _ok(at)
    assert _answers(at) == [LABEL], "only the picked model answers"


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


def _wait_for(at: AppTest, kind: str, text: str) -> str:
    """Rerun the page until an element of ``kind`` holds ``text`` (the import runs in a
    background thread); fails after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        at.run()
        _ok(at)
        found = [str(e.value) for e in at.get(kind) if text in str(e.value)]
        if found:
            return found[0]
        time.sleep(0.5)
    pytest.fail(f"no {kind} with {text!r} after {WAIT_S} s: {_page_text(at)[-800:]}")


def test_train_page_refuses_a_non_model_file_and_adds_a_good_one(own, tmp_path, monkeypatch):
    from core.training import import_job

    # The slow analyses (about a minute here) are left out, as `--skip` does; the rest is the
    # import the Train page runs.
    monkeypatch.setattr(import_job, "SKIP", ("robustness", "ood", "embedding"))
    monkeypatch.setenv("CIFAR10_DATA_ROOTS", str(own["folder"]))
    root = _farm(tmp_path / "root", [])
    before = sorted(p.name for p in root.iterdir())
    at = _app(root, "train", monkeypatch)
    at.text_input(key="add_data").set_value(str(own["data"]))
    at.text_input(key="add_name").set_value("from_page")
    at.file_uploader(key="add_file").set_value(("notes.keras", b"just some text\n", "text/plain"))
    _click(at, "Add the model")
    _ok(at)
    error = _wait_for(at, "error", "notes.keras was not added")
    assert "\n" not in error and "not a model file" in error, error
    assert sorted(p.name for p in root.iterdir()) == before, "a refusal writes nothing"

    keras_file = (own["folder"] / "net.keras").read_bytes()
    at.file_uploader(key="add_file").set_value(("net.keras", keras_file, "application/zip"))
    at.text_input(key="add_title").set_value("From the page")
    _click(at, "Add the model")
    _ok(at)
    success = _wait_for(at, "success", "Added")
    assert "From the page (imported)" in success
    added = artifacts.Artifact("from_page", root)
    assert added.status().ready and added.config()["imported"]["file"] == "net.keras"
    assert added.config()["imported"]["scaling"]["chosen"] == "symmetric"

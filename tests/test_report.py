"""The HTML report: self-contained, every ready model with its numbers (core.reporting.report)."""

import re
from html.parser import HTMLParser

import pytest

from core.models.registry import REGISTRY
from core.reporting import report
from core.store import artifacts
from tests.conftest import FAKE_MODELS


class _Resources(HTMLParser):
    """Every tag and the attributes that could make a browser fetch something."""

    def __init__(self):
        super().__init__()
        self.tags, self.urls, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href", "srcset", "poster", "data", "action") and value:
                self.urls.append((tag, key, value))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def html(fake_root):
    return report.build_report(fake_root, n_examples=2, n_boot=100)


def test_report_names_every_ready_model_with_its_accuracy(html, fake_root):
    for name in FAKE_MODELS:
        accuracy = artifacts.Artifact(name, fake_root).metrics()["accuracy"]
        assert REGISTRY[name].title in html
        assert f"{accuracy:.4f} [" in html, "accuracy with its interval"
    for section in (
        "Models",
        "Is the difference real?",
        "Reference comparison",
        "Confusion matrices",
        "Calibration",
        "Accuracy under corruptions",
        "Grad-CAM",
        "Model cards",
    ):
        assert section in html
    assert "Gaussian noise" in html, "custom's robustness.json is charted"
    assert "python -m core.robustness vgg12" in html, "the missing one says how to get it"
    assert "<td>accuracy</td>" in html, "the model card's table is rendered"


def test_report_is_self_contained(html):
    parser = _Resources()
    parser.feed(html)
    assert "script" in parser.tags and "img" in parser.tags
    outside = [u for u in parser.urls if not u[2].startswith(("data:", "#"))]
    assert outside == [], "only inline data: resources"
    assert "<link" not in html.lower().split("<body", 1)[0], "no external stylesheet"
    assert "@import" not in html and "@font-face" not in html
    assert html.count("<script") == html.count("</script>")
    assert "<script src" not in html.replace(" ", " ")


def test_cli_writes_the_file_atomically(fake_root, tmp_path, capsys):
    out = tmp_path / "meeting" / "report.html"
    args = ["--out", str(out), "--artifacts", str(fake_root), "--examples", "1"]
    assert report.main(args) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    assert "self-contained" in capsys.readouterr().out


def test_report_with_no_trained_model_says_so(tmp_path):
    text = report.build_report(tmp_path, n_examples=0)
    assert "No model is trained yet" in text


def test_report_holds_the_agreement_sets_and_the_risk_coverage_curves(html, fake_root):
    from core.analysis import abstain, agreement

    preds = {n: artifacts.Artifact(n, fake_root).predictions() for n in FAKE_MODELS}
    y_true = preds[FAKE_MODELS[0]]["y_true"]
    correct = agreement.correctness(y_true, {n: p["probs"] for n, p in preds.items()})
    table = agreement.patterns(correct, {"custom": "Custom", "vgg12": "Model 1"})
    assert "Agreement sets" in html and "The largest patterns" in html
    for pattern, images in zip(table["pattern"], table["images"], strict=True):
        assert re.search(rf"<td>{pattern}</td>\s*<td>{images}</td>", html), pattern
    assert "Risk-coverage" in html and "share of images answered (coverage)" in html
    t = abstain.temperature("custom", fake_root)
    curve = abstain.risk_coverage(y_true, preds["custom"]["probs"], t)
    assert f"<td>{abstain.accuracy_at(curve, 0.9):.1%}</td>" in html


def test_report_shows_the_embedding_map_of_the_most_accurate_model(html, fake_root, tmp_path):
    import shutil

    import numpy as np

    from core.analysis import embedding

    assert "the embedding map" not in html  # no model of fake_root has a map
    root = tmp_path / "artifacts"
    shutil.copytree(fake_root, root)
    accuracy = {n: artifacts.Artifact(n, root).metrics()["accuracy"] for n in FAKE_MODELS}
    best, worst = max(accuracy, key=accuracy.get), min(accuracy, key=accuracy.get)
    rng = np.random.default_rng(0)
    for name in (best, worst):
        n = len(artifacts.Artifact(name, root).predictions()["y_true"])
        pca = {"mean": np.zeros(8, np.float32), "axes": np.eye(2, 8, dtype=np.float32)}
        embedding.write(
            root / name, rng.normal(size=(n, 2)), pca | {"projected": rng.normal(size=(n, 2))}
        )
    page = report.build_report(root, n_examples=0, n_boot=50)
    assert f"How {REGISTRY[best].title} sees the test images: the embedding map" in page
    assert f"How {REGISTRY[worst].title} sees" not in page

"""Agreement sets (core.analysis.agreement) on hand-made predictions, and the Agreement sets page
over a small artifacts folder of hand-made predictions (no TensorFlow, seconds)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.analysis import agreement
from core.reporting import charts
from core.store import artifacts
from core.store.metrics import compute_metrics
from core.store.samples import load_test_images
from tests.page_tables import table_with

ROOT = Path(__file__).resolve().parent.parent


def probs_for(y_true: np.ndarray, right: np.ndarray, confidence: float = 0.8) -> np.ndarray:
    """(N, 10) probabilities whose top class is the label where ``right``, else the next class."""
    y_true = np.asarray(y_true)
    answer = np.where(right, y_true, (y_true + 1) % 10)
    probs = np.full((len(y_true), 10), (1 - confidence) / 9)
    probs[np.arange(len(y_true)), answer] = confidence
    return probs


# Six images, three models: which model is right on which image.
Y = np.array([0, 1, 2, 3, 4, 5])
RIGHT = {
    "custom": np.array([1, 1, 0, 0, 0, 1], bool),
    "resnet50_transfer": np.array([1, 1, 1, 0, 0, 0], bool),
    "efficientnet_lite0_transfer": np.array([1, 1, 1, 0, 1, 0], bool),
}
LABELS = {
    "custom": "Custom",
    "resnet50_transfer": "ResNet50",
    "efficientnet_lite0_transfer": "Lite0",
}


def _table(groups=None) -> pd.DataFrame:
    correct = agreement.correctness(Y, {n: probs_for(Y, r) for n, r in RIGHT.items()})
    return agreement.patterns(correct, LABELS, groups)


def test_every_pattern_is_counted_once_the_largest_first_with_a_readable_name():
    table = _table(agreement.default_groups(RIGHT))
    assert dict(zip(table["pattern"], table["images"], strict=True)) == {
        "all right": 2,
        "only the transfer models right": 1,
        "all wrong": 1,
        "only Lite0 right": 1,
        "only Custom right": 1,
    }
    assert list(table["images"]) == [2, 1, 1, 1, 1]
    assert table["images"].sum() == len(Y) and table["share"].sum() == pytest.approx(1.0)
    only_transfer = table[table["pattern"] == "only the transfer models right"].iloc[0]
    assert [only_transfer[n] for n in RIGHT] == [False, True, True]
    assert only_transfer["models right"] == 2


def test_without_groups_the_shorter_list_names_the_pattern():
    names = set(_table()["pattern"])
    assert "only Custom wrong" in names, "two right, one wrong: the wrong one is named"
    models = ["a", "b", "c", "d"]
    assert agreement.pattern_name(["a", "b"], models) == "only a and b right"
    assert agreement.pattern_name(["a", "b", "c"], models) == "only d wrong"
    assert agreement.pattern_name(["a"], models, {"a": "A"}) == "only A right"
    assert agreement.pattern_name([], models) == "all wrong"
    assert agreement.pattern_name(models, models) == "all right"
    groups = {"the pair": ["a", "b"], "the lone one": ["c"]}
    assert agreement.pattern_name(["c", "d"], models, groups=groups) == "only the pair wrong"
    assert agreement.pattern_name(["c"], models, groups=groups) == "only c right", "1 member"


def test_pattern_rows_are_the_images_of_that_pattern():
    correct = agreement.correctness(Y, {n: probs_for(Y, r) for n, r in RIGHT.items()})
    assert list(agreement.pattern_rows(correct, RIGHT)) == [0, 1]
    assert list(agreement.pattern_rows(correct, [])) == [3]
    assert list(
        agreement.pattern_rows(correct, ["resnet50_transfer", "efficientnet_lite0_transfer"])
    ) == [2]
    assert list(agreement.pattern_rows(correct, ["custom"])) == [5]


def test_upset_figure_has_sorted_bars_over_a_dot_per_model_and_pattern():
    table = _table()
    fig = charts.upset_figure(table, LABELS, {"Custom": "#E69F00"})
    bars, *dots = fig.data
    assert list(bars.y) == list(table["images"]) and list(bars.x) == list(table["pattern"])
    assert [d.y[0] for d in dots] == ["Custom", "ResNet50", "Lite0"]
    assert all(list(d.x) == list(table["pattern"]) for d in dots), "shared x: the patterns"
    custom = list(dots[0].marker.color)
    assert custom == ["#E69F00" if r else charts.WRONG_DOT for r in table["custom"]]
    assert len(charts.upset_figure(table, LABELS, max_patterns=2).data[0].x) == 2


def test_correctness_refuses_predictions_of_another_test_set():
    with pytest.raises(ValueError, match="do not cover the 6 test images"):
        agreement.correctness(Y, {"a": probs_for(Y[:5], RIGHT["custom"][:5])})


def test_mcnemar_rows_count_the_images_only_one_model_gets_right():
    rows = agreement.mcnemar_rows(Y, {n: probs_for(Y, r) for n, r in RIGHT.items()}, LABELS)
    first = rows.iloc[0]
    assert (first["model A"], first["model B"]) == ("Custom", "ResNet50")
    assert (first["only A right"], first["only B right"]) == (1, 1)
    assert first["verdict"] == "no clear difference"
    assert len(rows) == 3


# --- the page ----------------------------------------------------------------------------------
# Over the 10,000 shipped test images: by test row modulo 10, which models are right.
PAGE_RIGHT = {  # row % 10 -> right models
    **{k: ("custom", "resnet50_transfer", "efficientnet_lite0_transfer") for k in range(5)},
    5: ("resnet50_transfer", "efficientnet_lite0_transfer"),
    6: ("resnet50_transfer", "efficientnet_lite0_transfer"),
    7: (),
    8: ("custom",),
    9: ("custom", "resnet50_transfer"),
}
PAGE_COUNTS = {
    "all right": 5000,
    "only the transfer models right": 2000,
    "all wrong": 1000,
    "only Custom right": 1000,
    "only Lite0 wrong": 1000,
}


@pytest.fixture(scope="module")
def hand_made_root(tmp_path_factory):
    """Three ready artifacts whose stored test predictions follow ``PAGE_RIGHT`` (no model
    inside: the page only reads predictions)."""
    root = tmp_path_factory.mktemp("hand_made")
    labels = load_test_images(root).labels
    fake_model = root / "model.keras"
    fake_model.write_bytes(b"not a model: the agreement page never loads one")
    for name in RIGHT:
        right = np.array([name in PAGE_RIGHT[i % 10] for i in range(len(labels))])
        probs = probs_for(labels, right).astype(np.float32)
        config = {"dataset": {"id": "hand-made"}}
        artifacts.write_artifact(
            name, fake_model, compute_metrics(labels, probs), {}, config, labels, probs, "", root
        )
    return root


def _agreement_page(root, monkeypatch) -> AppTest:
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(root))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    at.switch_page("pages/agreement.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_agreement_page_counts_every_pattern_and_shows_its_images(hand_made_root, monkeypatch):
    at = _agreement_page(hand_made_root, monkeypatch)
    assert [t.value for t in at.title] == ["Agreement sets"]
    texts = "\n".join(str(m.value) for m in at.markdown)
    assert "All right: **5,000** · all wrong: **1,000** · 5 of the 8 possible patterns" in texts
    patterns = table_with(at, "pattern", "images")
    assert dict(zip(patterns["pattern"], patterns["images"], strict=True)) == PAGE_COUNTS
    tests = table_with(at, "verdict")
    assert len(tests) == 3, "McNemar's test of every pair beside the chart"
    assert len(at.get("plotly_chart")) == 1

    # The default: the largest pattern other than "all right".
    shown = at.selectbox(key="agree_pattern")
    assert shown.value == "only the transfer models right"
    assert "**only the transfer models right: 2,000** test images" in texts
    captions = sorted(c for img in at.get("image") for c in img.captions)
    first = [r for r in range(10_000) if r % 10 in (5, 6)][:24]  # in test order
    assert captions == sorted(f"test image {r}" for r in first)

    shown.set_value("only Custom right").run()
    at.selectbox(key="agree_limit").set_value(12).run()
    assert not at.exception
    captions = sorted(c for img in at.get("image") for c in img.captions)
    assert captions == sorted(f"test image {r}" for r in range(8, 120, 10))
    answers = "\n".join(str(m.value) for m in at.markdown)
    assert ":green[✓] Custom:" in answers and ":red[✗] ResNet50:" in answers

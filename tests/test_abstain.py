"""Abstaining (core.analysis.abstain): risk-coverage values on hand-made predictions, the
temperature."""

import json

import numpy as np
import pytest

from core.analysis import abstain, calibration
from core.reporting import charts

# Ten images answered with falling confidence; right, right, right, wrong, right, wrong, ...
CONFIDENCE = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5])
RIGHT = np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 0], bool)
Y = np.arange(10) % 10


def _probs(y_true, right, confidence):
    answer = np.where(right, y_true, (y_true + 1) % 10)
    probs = np.repeat(((1 - confidence) / 9)[:, None], 10, axis=1)
    probs[np.arange(len(y_true)), answer] = confidence
    return probs


PROBS = _probs(Y, RIGHT, CONFIDENCE)


def test_the_curve_answers_the_most_confident_first():
    curve = abstain.risk_coverage(Y, PROBS, n_points=10)
    assert list(curve["answered"]) == list(range(1, 11))
    assert curve["coverage"].tolist() == pytest.approx(np.arange(1, 11) / 10)
    expected = np.cumsum(RIGHT) / np.arange(1, 11)  # 1, 1, 1, 3/4, 4/5, 4/6, 5/7, 5/8, 5/9, 1/2
    assert curve["accuracy"].tolist() == pytest.approx(expected)
    assert curve["risk"].tolist() == pytest.approx(1 - expected)
    assert curve["threshold"].tolist() == pytest.approx(CONFIDENCE)
    assert abstain.accuracy_at(curve, 1.0) == pytest.approx(RIGHT.mean()), "plain accuracy"
    assert abstain.accuracy_at(curve, 0.5) == pytest.approx(0.8)


def test_order_of_the_images_does_not_matter():
    shuffled = np.random.default_rng(0).permutation(10)
    curve = abstain.risk_coverage(Y[shuffled], PROBS[shuffled], n_points=10)
    expected = np.cumsum(RIGHT) / np.arange(1, 11)
    assert curve["accuracy"].tolist() == pytest.approx(expected)


def test_a_confidence_that_ranks_well_gains_accuracy_by_answering_less():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 2000)
    confidence = rng.uniform(0.3, 1.0, 2000)
    right = rng.uniform(size=2000) < confidence  # right as often as it is confident
    curve = abstain.risk_coverage(y, _probs(y, right, confidence), n_points=20)
    assert curve["accuracy"].iloc[-1] == pytest.approx(right.mean())
    assert curve["accuracy"].iloc[1] > curve["accuracy"].iloc[-1] + 0.15
    assert np.all(np.diff(curve["threshold"]) <= 0), "a lower bar answers more"
    ranked = abstain.risk_coverage(y, _probs(y, np.sort(right)[::-1], np.sort(confidence)[::-1]))
    assert np.all(np.diff(ranked["accuracy"]) <= 1e-12), "right ones most confident: monotone"


def test_temperature_scales_the_confidence_not_the_answers():
    assert abstain.confidence(PROBS).tolist() == pytest.approx(CONFIDENCE)
    assert abstain.confidence(PROBS[0]) == pytest.approx(0.95), "one row"
    hotter = abstain.confidence(PROBS, 2.0)
    assert np.all(hotter < CONFIDENCE)
    assert hotter == pytest.approx(calibration.apply_temperature(PROBS, 2.0).max(axis=1))
    curve = abstain.risk_coverage(Y, PROBS, temperature=2.0, n_points=10)
    assert abstain.accuracy_at(curve, 1.0) == pytest.approx(0.5)
    assert curve["threshold"].tolist() == pytest.approx(hotter)


def test_summary_and_figure_name_each_model():
    curves = {"Custom": abstain.risk_coverage(Y, PROBS, n_points=10)}
    row = abstain.summary_rows(curves, coverages=(0.5,)).iloc[0]
    assert row["model"] == "Custom"
    assert row["accuracy answering all"] == pytest.approx(0.5)
    assert row["accuracy answering 50%"] == pytest.approx(0.8)
    assert row["abstain below (for 50%)"] == pytest.approx(0.75)
    fig = charts.risk_coverage_figure(curves, {"Custom": "#E69F00"})
    (line,) = fig.data
    assert line.name == "Custom" and line.line.color == "#E69F00"
    assert list(line.y) == pytest.approx(list(curves["Custom"]["accuracy"]))


def test_temperature_comes_from_calibration_json_else_the_validation_predictions(tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    assert abstain.temperature("custom", tmp_path) is None
    calibration.write_val_predictions(folder, Y, PROBS)
    fitted = calibration.fit_temperature(Y, PROBS)
    assert abstain.temperature("custom", tmp_path) == pytest.approx(fitted)
    (folder / calibration.CALIBRATION_FILE).write_text(json.dumps({"temperature": 1.7}))
    assert abstain.temperature("custom", tmp_path) == 1.7

"""ECE, reliability diagrams, temperature scaling and the validation backfill."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from core.analysis import calibration
from core.data.cifar10 import load_cifar10, scale, split_validation
from core.store import artifacts
from tests.conftest import make_tiny_dataset


def _calibrated(n: int, seed: int = 0):
    """Probabilities with labels drawn from them: calibrated by construction."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(10, 0.3), size=n)
    cumulative = probs.cumsum(axis=1)
    labels = (rng.random((n, 1)) > cumulative).sum(axis=1).clip(0, 9)
    return labels, probs


def test_ece_is_near_zero_when_calibrated_and_large_when_over_confident():
    labels, probs = _calibrated(20_000)
    assert calibration.ece(labels, probs) < 0.02
    over_confident = calibration.apply_temperature(probs, 0.3)  # logits x 3.3
    assert calibration.ece(labels, over_confident) > 0.2


def test_temperature_scaling_lowers_the_nll_of_an_over_confident_model():
    labels, probs = _calibrated(5000, seed=1)
    over_confident = calibration.apply_temperature(probs, 0.4)
    t = calibration.fit_temperature(labels, over_confident)
    assert t == pytest.approx(2.5, rel=0.1)  # undoes the 1/0.4 sharpening
    scaled = calibration.apply_temperature(over_confident, t)
    assert calibration.nll(labels, scaled) < calibration.nll(labels, over_confident) - 0.1
    assert (scaled.argmax(axis=1) == over_confident.argmax(axis=1)).all()


def test_reliability_bins_cover_every_image_once():
    labels, probs = _calibrated(3000)
    rel = calibration.reliability(labels, probs)
    assert len(rel.edges) == calibration.N_BINS + 1 and rel.count.sum() == 3000
    records = rel.records()
    assert sum(r["count"] for r in records) == 3000
    assert all(r["bin_low"] <= r["confidence"] <= r["bin_high"] for r in records)


def test_summary_fits_on_validation_and_reports_test_before_and_after():
    y_val, p_val = _calibrated(4000, seed=2)
    y_test, p_test = _calibrated(4000, seed=3)
    sharp_val, sharp_test = (calibration.apply_temperature(p, 0.5) for p in (p_val, p_test))
    summary = calibration.summarise(y_test, sharp_test, y_val, sharp_val)
    assert summary["temperature"] > 1.5
    assert summary["test"]["ece_after"] < summary["test"]["ece_before"]
    assert summary["validation"]["nll_after"] < summary["validation"]["nll_before"]
    assert calibration.summarise(y_test, sharp_test)["temperature"] is None


def test_backfill_stores_the_training_runs_validation_split(trained, tiny_npz, tmp_path, capsys):
    shutil.copytree(trained / "custom", tmp_path / "custom")
    from_training = calibration.load_val_predictions(
        "custom", tmp_path
    )  # core.training.train wrote it
    args = ["custom", "--backfill", "--data", str(tiny_npz), "--artifacts", str(tmp_path)]
    assert calibration.main(args) == 0
    stored = calibration.load_val_predictions("custom", tmp_path)
    assert np.array_equal(from_training["y_true"], stored["y_true"])
    assert np.allclose(from_training["probs"], stored["probs"], atol=1e-5)
    dataset = load_cifar10(tiny_npz, progress=False)
    split = split_validation(dataset.x_train, dataset.y_train, 0.1, seed=0)
    assert np.array_equal(stored["y_true"], split.y_val)
    model = artifacts.Artifact("custom", tmp_path).load_model()
    expected = model.predict(scale(split.x_val), verbose=0)
    assert np.allclose(stored["probs"], expected, atol=1e-5)
    saved = json.loads((tmp_path / "custom" / calibration.CALIBRATION_FILE).read_text())
    assert saved["temperature"] > 0 and saved["validation"]["n"] == len(split.y_val)
    assert "temperature" in capsys.readouterr().out
    assert not list((tmp_path / "custom").glob(".*tmp")), "no temporary files left"


def test_backfill_refuses_data_the_model_was_not_trained_on(trained, tmp_path, capsys):
    from core.data.cifar10 import save_npz

    shutil.copytree(trained / "custom", tmp_path / "custom")
    (tmp_path / "custom" / calibration.VAL_PREDICTIONS_FILE).unlink()  # as a shipped old artifact
    other = tmp_path / "other.npz"
    save_npz(replace(make_tiny_dataset(seed=1), content_hash="1" * 64), other)
    args = ["custom", "--backfill", "--data", str(other), "--artifacts", str(tmp_path)]
    assert calibration.main(args) == 1
    assert "is not what it was trained on" in capsys.readouterr().err
    assert calibration.load_val_predictions("custom", tmp_path) is None

"""Corruptions, the class-balanced subset and the robustness.json an artifact stores."""

import json
import shutil

import numpy as np
import pytest

from core.analysis import robustness
from core.store import artifacts
from core.store.samples import load_test_images


@pytest.fixture(scope="module")
def images():
    samples = load_test_images()
    return samples.images[robustness.balanced_subset(samples.labels, 100, seed=0)]


@pytest.mark.parametrize("name", list(robustness.CORRUPTIONS))
def test_severities_are_monotone(images, name):
    change = [
        np.abs(robustness.corrupt(images, name, s).astype(float) - images).mean()
        for s in robustness.SEVERITIES
    ]
    assert change[0] > 0.5, f"{name} at severity 1 changes the images ({change})"
    assert all(b > a for a, b in zip(change, change[1:], strict=False)), change


@pytest.mark.parametrize("name", list(robustness.CORRUPTIONS))
def test_corruptions_are_reproducible_uint8_images(images, name):
    first = robustness.corrupt(images, name, 3, seed=0)
    assert first.dtype == np.uint8 and first.shape == images.shape
    assert np.array_equal(first, robustness.corrupt(images, name, 3, seed=0))


def test_balanced_subset_is_fixed_and_class_balanced():
    labels = load_test_images().labels
    rows = robustness.balanced_subset(labels, 2000, seed=0)
    assert len(rows) == 2000 and len(set(rows)) == 2000 and (np.diff(rows) > 0).all()
    assert (np.bincount(labels[rows], minlength=10) == 200).all()
    assert np.array_equal(rows, robustness.balanced_subset(labels, 2000, seed=0))
    assert not np.array_equal(rows, robustness.balanced_subset(labels, 2000, seed=1))


def test_run_stores_accuracy_per_corruption_and_severity(trained, tmp_path, capsys):
    shutil.copytree(trained / "custom", tmp_path / "custom")
    args = ["custom", "--n", "20", "--artifacts", str(tmp_path), "--quiet"]
    assert robustness.main(args) == 0
    stored = json.loads((tmp_path / "custom" / robustness.ROBUSTNESS_FILE).read_text())
    assert stored == robustness.load("custom", tmp_path)
    assert set(stored["corruptions"]) == set(robustness.CORRUPTIONS)
    assert all(len(c["accuracy"]) == 5 for c in stored["corruptions"].values())
    # the clean accuracy is the model's own on those 20 shipped test images
    samples = load_test_images(tmp_path)
    rows = robustness.balanced_subset(samples.labels, 20, seed=0)
    model = artifacts.Artifact("custom", tmp_path).load_model()
    probs = model.predict(samples.images[rows].astype(np.float32) / 255.0, verbose=0)
    clean = (probs.argmax(axis=1) == samples.labels[rows]).mean()
    assert stored["clean_accuracy"] == pytest.approx(clean)
    means = [a for c in stored["corruptions"].values() for a in c["accuracy"]]
    assert stored["mean_corrupted_accuracy"] == pytest.approx(np.mean(means))
    assert stored["command"] == "python -m core.robustness custom --n 20"
    assert "mean accuracy under corruption" in capsys.readouterr().out


def test_an_interrupted_run_leaves_the_previous_file_alone(trained, tmp_path, monkeypatch):
    shutil.copytree(trained / "custom", tmp_path / "custom")
    target = tmp_path / "custom" / robustness.ROBUSTNESS_FILE
    target.write_text('{"previous": true}\n')
    real_corrupt, calls = robustness.corrupt, []

    def interrupted(*args, **kwargs):  # Ctrl-C during the eighth corrupted set
        calls.append(args[1:3])
        if len(calls) == 8:
            raise KeyboardInterrupt
        return real_corrupt(*args, **kwargs)

    monkeypatch.setattr(robustness, "corrupt", interrupted)
    with pytest.raises(KeyboardInterrupt):
        robustness.run("custom", tmp_path, n=20, progress=False)
    assert target.read_text() == '{"previous": true}\n'
    assert sorted(p.name for p in target.parent.iterdir() if p.name.startswith(".")) == []


def test_a_run_started_again_goes_on_from_its_last_finished_pass(trained, tmp_path, monkeypatch):
    shutil.copytree(trained / "custom", tmp_path / "custom")
    full = robustness.run("custom", tmp_path, n=20, progress=False)
    real_corrupt, calls, stop_at = robustness.corrupt, [], [8]

    def counted(*args, **kwargs):  # Ctrl-C during the eighth corrupted set, the first time
        calls.append(args[1:3])
        if len(calls) in stop_at:
            raise KeyboardInterrupt
        return real_corrupt(*args, **kwargs)

    monkeypatch.setattr(robustness, "corrupt", counted)
    with pytest.raises(KeyboardInterrupt):
        robustness.run("custom", tmp_path, n=20, progress=False)
    progress_file = artifacts.work_dir("custom", tmp_path) / robustness.PROGRESS_FILE
    assert len(json.loads(progress_file.read_text())["done"]) == 1 + 7  # clean + 7 corrupted
    calls.clear()
    stop_at.clear()
    again = robustness.run("custom", tmp_path, n=20, progress=False)
    assert len(calls) == 30 - 7  # only the passes not finished before
    assert again["corruptions"] == full["corruptions"]
    assert again["clean_accuracy"] == full["clean_accuracy"]
    assert not progress_file.exists()
    # another seed is another run: nothing kept from this one is reused
    monkeypatch.setattr(robustness, "corrupt", real_corrupt)
    progress_file.write_text(json.dumps({"key": "another run", "done": {"clean/0": 2.0}}))
    assert robustness.run("custom", tmp_path, n=20, progress=False)["clean_accuracy"] <= 1.0


def test_a_write_that_fails_halfway_leaves_no_partial_file(tmp_path):
    from core.analysis.calibration import write_json

    target = tmp_path / "robustness.json"
    target.write_text('{"previous": true}\n')
    # not serialisable: a writer streaming json.dump into the target would leave half a file
    with pytest.raises(TypeError):
        write_json(target, {"model": "custom", "bad": object()})
    assert target.read_text() == '{"previous": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["robustness.json"]


def test_summary_line_gives_mean_and_drop():
    result = {"clean_accuracy": 0.9, "mean_corrupted_accuracy": 0.7, "drop": 0.2, "n_images": 2000}
    line = robustness.summary_line(result)
    assert line.startswith("0.700 mean accuracy under corruption, 0.200 below its clean 0.900")

"""Train -> artifact -> evaluate -> predict, on tiny data, through the real CLIs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from core.data.cifar10 import CLASS_NAMES
from core.serving import predict
from core.store import artifacts
from core.training import evaluate, train
from core.training.jobs import TrainingLocked, training_lock
from core.training.runspec import RunSpec

ROOT = Path(__file__).resolve().parent.parent


def test_artifact_is_complete(trained):
    folder = trained / "custom"
    for name in (*artifacts.REQUIRED_FILES, artifacts.CARD_FILE):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["hyperparameters"]["epochs"] == 2 and config["seed"] == 0
    assert config["dataset"]["n_fit"] + config["dataset"]["n_val"] == 200
    assert config["dataset"]["n_test"] == 60 and len(config["dataset"]["content_hash"]) == 64
    assert {"tensorflow", "keras", "numpy"} <= set(config["versions"])
    assert config["wall_time_s"] > 0 and config["machine"]["cpu_count"]
    history = json.loads((folder / "history.json").read_text())
    assert len(history["loss"]) == 2 and len(history["val_accuracy"]) == 2
    assert artifacts.Artifact("custom", trained).status().ready
    assert not list(trained.glob(".custom*")), "staging folders must not be left behind"


def test_stored_probabilities_are_the_models_outputs(trained, tiny_npz):
    art = artifacts.Artifact("custom", trained)
    preds = art.predictions()
    with np.load(tiny_npz) as z:
        x_test, y_test = z["x_test"], z["y_test"]
    np.testing.assert_array_equal(preds["y_true"], y_test)
    model = keras.saving.load_model(art.path / "model.keras")
    assert not model.compiled, "shipped for inference: no optimizer state in the file"
    np.testing.assert_allclose(preds["probs"], model.predict(x_test / 255.0, verbose=0), atol=1e-5)


def test_evaluate_reproduces_metrics_exactly(trained, capsys):
    assert evaluate.main(["custom", "--artifacts", str(trained)]) == 0
    assert "matches" in capsys.readouterr().err
    metrics = artifacts.Artifact("custom", trained).metrics()
    assert list(metrics["per_class"]) == list(CLASS_NAMES)
    assert [c["support"] for c in metrics["per_class"].values()] == [6] * 10
    assert sum(map(sum, metrics["confusion_matrix"])) == 60


def test_evaluate_detects_a_tampered_metrics_file(trained, tmp_path, capsys):
    import shutil

    shutil.copytree(trained / "custom", tmp_path / "custom")
    metrics = json.loads((tmp_path / "custom" / "metrics.json").read_text())
    metrics["accuracy"] += 0.01
    (tmp_path / "custom" / "metrics.json").write_text(json.dumps(metrics))
    assert evaluate.main(["custom", "--artifacts", str(tmp_path)]) == 1
    assert "accuracy" in capsys.readouterr().err


def test_predict_classifies_any_size_and_format_and_reports_bad_files(trained, tmp_path, capsys):
    jpeg, png, bad = tmp_path / "big.jpg", tmp_path / "odd.png", tmp_path / "notes.jpg"
    Image.new("RGB", (640, 480), (200, 30, 30)).save(jpeg)
    Image.new("RGBA", (17, 45), (0, 90, 200, 255)).save(png)
    bad.write_text("this is not an image")
    code = predict.main(
        [str(jpeg), str(bad), str(png), "--json", "--top-k", "2", "--artifacts", str(trained)]
    )
    captured = capsys.readouterr()
    assert code == 1
    results = json.loads(captured.out)
    assert [r["file"] for r in results] == [str(jpeg), str(bad), str(png)]
    assert "not a recognised image file" in results[1]["error"]
    assert "notes.jpg" in captured.err and len(captured.err.strip().splitlines()) == 1
    for r in (results[0], results[2]):
        top = r["predictions"]["custom"]
        assert len(top) == 2 and top[0]["probability"] >= top[1]["probability"]


def test_predict_exit_zero_when_all_files_are_good(trained, tmp_path, capsys):
    image = tmp_path / "a.webp"
    Image.new("RGB", (50, 50), (1, 2, 3)).save(image)
    assert predict.main([str(image), "--models", "custom", "--artifacts", str(trained)]) == 0
    assert "custom" in capsys.readouterr().out


def test_predict_refuses_unknown_and_untrained_models(trained, tmp_path, capsys):
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(image)
    assert predict.main([str(image), "--models", "vgg19", "--artifacts", str(trained)]) == 2
    assert predict.main([str(image), "--models", "custom,vgg12", "--artifacts", str(trained)]) == 1
    assert "vgg12 is missing" in capsys.readouterr().err


def test_killed_run_resumes_from_its_checkpoint(tiny_npz, tmp_path, trained):
    import shutil

    shutil.copytree(trained / "custom", tmp_path / "custom")  # the previous, good artifact
    previous_model = (tmp_path / "custom" / "model.keras").read_bytes()
    args = [
        "custom",
        "--data",
        str(tiny_npz),
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--artifacts",
        str(tmp_path),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.train", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    progress_file = artifacts.work_dir("custom", tmp_path) / "progress.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if progress_file.exists() and train.read_history(progress_file)[0].get("loss"):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first, _ = train.read_history(progress_file)
    done = len(first["loss"])
    assert 1 <= done < 4, "the run should have been killed mid-way"
    assert artifacts.Artifact("custom", tmp_path).status().ready, "the previous one stays"
    assert (tmp_path / "custom" / "model.keras").read_bytes() == previous_model

    # The interrupted run continues with its own settings, not this call's --epochs.
    assert train.main([*args, "--resume", "--epochs", "9"]) == 0
    history = artifacts.Artifact("custom", tmp_path).history()
    assert len(history["loss"]) == 4
    assert history["loss"][:done] == first["loss"]  # the past is kept, not redone
    progress = [
        json.loads(line)
        for line in (artifacts.work_dir("custom", tmp_path) / "progress.jsonl")
        .read_text()
        .splitlines()
    ]
    epochs_logged = [p["epoch"] for p in progress if p["event"] == "epoch"]
    assert epochs_logged == list(range(4)), "each epoch trained exactly once across both runs"


def test_mirrored_strategy_runs_one_epoch_on_cpu(tiny_npz, tmp_path):
    assert (
        train.main(
            [
                "custom",
                "--data",
                str(tiny_npz),
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--distribute",
                "mirrored",
                "--artifacts",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    config = artifacts.Artifact("custom", tmp_path).config()
    assert config["distribute"] == "mirrored" and config["epochs_trained"] == 1


def _shipped_views_follow_validation(art: artifacts.Artifact) -> str:
    """The shipped model is the candidate with the best validation accuracy; its rule says so."""
    config = art.config()
    validation = config["validation"]
    best = max(validation, key=lambda k: (validation[k], k == "accuracy"))
    model = keras.saving.load_model(art.path / "model.keras")
    expected = {
        "accuracy": ("custom", "single view"),
        "accuracy_tta_flip": ("custom_tta", "image + mirror:"),
        "accuracy_tta_flip_shift": ("custom_tta", "image + mirror + one-pixel shifts"),
    }[best]
    assert model.name == expected[0]
    assert config["selection"]["test_time_views"].startswith(expected[1])
    return best


def test_tta_flip_is_shipped_only_if_it_raises_validation_accuracy(tiny_npz, tmp_path):
    args = ["custom", "--data", str(tiny_npz), "--epochs", "1", "--batch-size", "32"]
    assert train.main([*args, "--tta-flip", "--artifacts", str(tmp_path), "--quiet"]) == 0
    art = artifacts.Artifact("custom", tmp_path)
    validation = art.config()["validation"]
    assert set(validation) == {"accuracy", "accuracy_tta_flip"}
    assert all(0.0 <= v <= 1.0 for v in validation.values())
    _shipped_views_follow_validation(art)


def test_tta_shift_candidates_are_measured_on_validation(tiny_npz, tmp_path):
    args = ["custom", "--data", str(tiny_npz), "--epochs", "1", "--batch-size", "32"]
    flags = ["--tta-flip", "--tta-shift", "--artifacts", str(tmp_path), "--quiet"]
    assert train.main([*args, *flags]) == 0
    art = artifacts.Artifact("custom", tmp_path)
    config = art.config()
    assert set(config["validation"]) == {"accuracy", "accuracy_tta_flip", "accuracy_tta_flip_shift"}
    assert config["hyperparameters"]["tta_shift"] is True
    _shipped_views_follow_validation(art)


def test_run_spec_is_saved_and_the_command_is_what_a_user_types(tiny_npz, tmp_path):
    args = ["custom", "--data", str(tiny_npz), "--epochs", "1", "--lr", "0.01", "--no-flip"]
    assert train.main([*args, "--artifacts", str(tmp_path), "--quiet"]) == 0
    config = artifacts.Artifact("custom", tmp_path).config()
    spec = RunSpec.from_dict(config["run_spec"])
    assert (spec.epochs, spec.lr, spec.augment.flip) == (1, 0.01, False)
    assert spec.batch_size == RunSpec.for_model("custom").batch_size  # the recipe's
    assert config["command"] == (
        f"python -m core.train custom --epochs 1 --lr 0.01 --data {tiny_npz} --no-flip"
    )
    assert str(tmp_path) not in config["command"], "--artifacts is the machine's, not the run's"


def test_transfer_model_trains_end_to_end_without_imagenet_weights(tiny_npz, tmp_path):
    code = train.main(
        [
            "vgg16_transfer",
            "--weights",
            "none",
            "--input-size",
            "32",
            "--data",
            str(tiny_npz),
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--head-epochs",
            "1",
            "--limit-train",
            "64",
            "--limit-test",
            "20",
            "--artifacts",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    config = artifacts.Artifact("vgg16_transfer", tmp_path).config()
    assert config["hyperparameters"]["weights"] is None and config["epochs_trained"] == 2
    assert "accuracy_frozen_backbone" in config["validation"]  # the head-only stage's figure
    # The card's training time is the training's: the evaluations are named as coming after it.
    card = (tmp_path / "vgg16_transfer" / artifacts.CARD_FILE).read_text()
    stages = config["stage_times_s"]
    assert f"Training took {config['wall_time_s'] / 60:.1f} min (caching frozen features" in card
    assert f"; then validation {stages['validation_s'] / 60:.1f} min, test evaluation" in card


def test_second_run_of_the_same_model_is_refused(tmp_path):
    with (
        training_lock("custom", tmp_path),
        pytest.raises(TrainingLocked, match="already"),
        training_lock("custom", tmp_path),
    ):
        pass
    assert not (artifacts.work_dir("custom", tmp_path) / "lock").exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    lock = artifacts.work_dir("custom", tmp_path) / "lock"
    lock.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(str(dead.pid))
    with training_lock("custom", tmp_path):
        assert lock.read_text() == str(os.getpid())


def test_missing_data_is_a_one_line_error(tmp_path, capsys):
    code = train.main(["custom", "--data", str(tmp_path / "none"), "--artifacts", str(tmp_path)])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err

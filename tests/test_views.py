"""Choosing a trained artifact's test-time views again, on tiny data, through the real CLIs."""

import json

import keras
import numpy as np
import pytest

from core.models.builders import with_tta
from core.store import artifacts
from core.training import evaluate, train, views

FILES = ("model.keras", "metrics.json", "config.json", "test_predictions.npz")


@pytest.fixture(scope="module")
def single_view(tiny_npz, tmp_path_factory):
    """A `custom` model trained without test-time views, and its files' bytes."""
    root = tmp_path_factory.mktemp("views")
    args = ["custom", "--data", str(tiny_npz), "--epochs", "1", "--batch-size", "32"]
    assert train.main([*args, "--artifacts", str(root), "--quiet"]) == 0
    folder = root / "custom"
    return root, {name: (folder / name).read_bytes() for name in FILES}


def _ship_with_mirror_view(folder) -> keras.Model:
    """Rewrite ``folder``'s model as its recipe had chosen the image + mirror views (as a
    trained ``resnet50_transfer`` was); returns the network inside."""
    network = keras.saving.load_model(folder / "model.keras")
    train.save_for_inference(with_tta(network), folder / "model.keras")
    config = json.loads((folder / "config.json").read_text())
    config["selection"]["test_time_views"] = "image + mirror: the candidate views with the best"
    (folder / "config.json").write_text(json.dumps(config))
    return network


def test_other_views_ship_with_the_same_weights_and_one_test_evaluation(tiny_npz, tmp_path):
    args = ["custom", "--data", str(tiny_npz), "--epochs", "1", "--batch-size", "32"]
    assert train.main([*args, "--artifacts", str(tmp_path), "--quiet"]) == 0
    art = artifacts.Artifact("custom", tmp_path)
    network = _ship_with_mirror_view(art.path)
    # What the same weights leave true is carried over; the old views' robustness is not.
    (art.path / "embedding.json").write_text('{"model": "custom"}')
    (art.path / "robustness.json").write_text('{"model": "custom", "clean_accuracy": 0.1}')
    old_config, old_history = art.config(), (art.path / "history.json").read_text()

    # The recipe of `custom` has no test-time views, so validation can only pick the image.
    validation, target = views.choose_again("custom", str(tiny_npz), artifacts_dir=str(tmp_path))
    assert set(validation) == {"accuracy"} and target == art.path
    config = art.config()
    rule = config["selection"]["test_time_views"]
    assert rule.startswith("single view") and "python -m core.training.views custom" in rule
    assert config["validation"] == old_config["validation"] == validation
    assert config["command"] == old_config["command"]
    for key in ("wall_time_s", "machine", "versions"):  # the training's record
        assert config[key] == old_config[key]
    assert (art.path / "history.json").read_text() == old_history
    assert (art.path / "embedding.json").read_text() == '{"model": "custom"}'
    assert not (art.path / "robustness.json").exists()
    model = keras.saving.load_model(art.path / "model.keras")
    assert model.name == "custom"  # the network itself, no views around it
    for new, old in zip(model.get_weights(), network.get_weights(), strict=True):
        np.testing.assert_array_equal(new, old)
    with np.load(tiny_npz) as z:
        x_test = z["x_test"]
    probs = art.predictions()["probs"]
    np.testing.assert_allclose(probs, model.predict(x_test / 255.0, verbose=0), atol=1e-5)
    assert evaluate.main(["custom", "--artifacts", str(tmp_path)]) == 0  # metrics match them
    assert art.status().ready
    # Asked again, validation picks what now ships: nothing is rewritten.
    now = {name: (art.path / name).read_bytes() for name in FILES}
    assert views.choose_again("custom", str(tiny_npz), artifacts_dir=str(tmp_path))[1] is None
    assert {name: (art.path / name).read_bytes() for name in FILES} == now


def test_unchanged_views_leave_the_artifact_as_it_is(single_view, tiny_npz, capsys):
    root, before = single_view
    folder = root / "custom"
    # Both views score alike on this data, and a tie keeps the single view that ships.
    validation, target = views.choose_again(
        "custom", str(tiny_npz), artifacts_dir=str(root), tta_flip=True, verbose=0
    )
    assert set(validation) == {"accuracy", "accuracy_tta_flip"} and target is None
    capsys.readouterr()
    assert views.main(["custom", "--artifacts", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('validation accuracy: {"accuracy": ')
    assert "artifact unchanged" in out
    assert {name: (folder / name).read_bytes() for name in FILES} == before


def test_cli_names_a_missing_artifact_in_one_line(tmp_path, capsys):
    assert views.main(["custom", "--artifacts", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: No trained custom") and "\n" not in err


def test_an_older_artifact_without_a_run_spec_is_read_from_its_hyperparameters():
    config = artifacts.Artifact("vgg12_opt").config()  # shipped before config.json had run_spec
    assert "run_spec" not in config
    spec = views.trained_spec(config, "elsewhere.npz")
    assert (spec.model, spec.epochs, spec.lr, spec.seed) == ("vgg12_opt", 30, 0.4, 0)
    assert spec.tta_shift and spec.val_fraction == 0.1 and spec.data == "elsewhere.npz"

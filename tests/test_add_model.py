"""python -m core.add_model: a tiny model trained here on inputs in [-1, 1], saved in every format
the studio takes, added, and checked against a direct evaluation; every hostile or wrong file
refused in one line with nothing written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.data.cifar10 import save_npz, scale
from core.training import add_model
from tests.conftest import make_tiny_dataset

REPO = Path(__file__).resolve().parent.parent
SKIP = ["--skip", "robustness,ood,embedding"]


def symmetric(images: np.ndarray) -> np.ndarray:
    """The tiny network's own input convention: pixels in [-1, 1]."""
    return images.astype(np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def tiny():
    """Tiny data whose class is the image's brightness (600 training, 200 test images)."""
    return make_tiny_dataset(n_train=600, n_test=200)


def tiny_network(tiny, epochs: int = 40):
    """A small CNN trained on the tiny data with inputs in [-1, 1] (logits out)."""
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    net.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    net.fit(symmetric(tiny.x_train), tiny.y_train, epochs=epochs, batch_size=32, verbose=0)
    return net


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny):
    """The data as .npz and a small CNN trained on it in [-1, 1], saved as .keras, .h5, a
    SavedModel folder and .tflite; with its own test accuracy."""
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("model_files")
    save_npz(tiny, folder / "tiny.npz")
    net = tiny_network(tiny)
    net.save(folder / "net.keras")
    net.save(folder / "net.h5")
    net.export(str(folder / "net_savedmodel"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder / "net_savedmodel"))
    (folder / "net.tflite").write_bytes(converter.convert())
    logits = net.predict(symmetric(tiny.x_test), verbose=0)
    accuracy = float((logits.argmax(axis=1) == tiny.y_test).mean())
    assert accuracy > 0.9, "the tiny network must learn the brightness classes"
    return {"folder": folder, "data": folder / "tiny.npz", "net": net, "accuracy": accuracy}


def listing(root: Path) -> list[str]:
    """Every path under ``root``, hidden ones included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def run(argv: list[str], capfd) -> tuple[int, str, str]:
    """``python -m core.add_model`` in this process; (status, stdout, stderr) at the fd level."""
    status = add_model.main([*argv, "--quiet"])
    out, err = capfd.readouterr()
    return status, out, err


FORMATS = {
    "keras": "net.keras",
    "h5": "net.h5",
    "savedmodel": "net_savedmodel",
    "tflite": "net.tflite",
}


@pytest.fixture(scope="module")
def added(tmp_path_factory, files):
    """An artifacts root holding the network added from each format (analyses skipped)."""
    root = tmp_path_factory.mktemp("added")
    for fmt, filename in FORMATS.items():
        argv = [str(files["folder"] / filename), "--name", f"net_{fmt}", "--data"]
        argv += [str(files["data"]), "--artifacts", str(root), "--title", f"Tiny {fmt}", *SKIP]
        assert add_model.main([*argv, "--quiet"]) == 0
    return root


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_scores_as_a_direct_evaluation_with_the_scaling_found(fmt, added, files):
    from core.store.artifacts import Artifact

    art = Artifact(f"net_{fmt}", added)
    assert art.status().ready
    assert art.metrics()["accuracy"] == pytest.approx(files["accuracy"], abs=0.005)
    imported = art.config()["imported"]
    assert imported["format"] == fmt
    assert imported["scaling"]["chosen"] == "symmetric"
    candidates = imported["scaling"]["candidates"]
    assert set(candidates) == {"unit", "byte", "symmetric", "imagenet", "caffe"}
    assert max(candidates, key=lambda s: candidates[s]["accuracy"]) == "symmetric"
    assert imported["outputs"]["kind"] == "logits" and imported["outputs"]["softmax_applied"]
    expected_file = "model.keras" if fmt in ("keras", "h5") else "model.tflite"
    assert imported["stored_as"] == expected_file and (art.path / expected_file).is_file()
    assert len(imported["sha256"]) == 64 and imported["size_bytes"] > 0
    card = (art.path / "MODEL_CARD.md").read_text()
    assert "**Imported**" in card and "Training data and recipe: not known to the studio" in card
    assert imported["sha256"] in card
    assert art.config()["validation"]["accuracy"] > 0.9
    assert (art.path / "val_predictions.npz").is_file()
    assert json.loads((art.path / "calibration.json").read_text())["temperature"] > 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_added_model_answers_through_the_predictor(fmt, added, files, tiny):
    from core.serving.predictor import Predictor
    from core.store.artifacts import Artifact

    name = f"net_{fmt}"
    predictor, failed = Predictor.from_artifacts([name], added)
    assert failed == {} and list(predictor.models) == [name]
    probs = predictor.predict(scale(tiny.x_test))[name]
    assert probs.shape == (200, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    stored = Artifact(name, added).predictions()["probs"]
    assert np.allclose(probs, stored, atol=1e-4)
    assert (probs.argmax(axis=1) == tiny.y_test).mean() == pytest.approx(
        files["accuracy"], abs=0.005
    )


def test_grad_cam_explains_an_added_keras_model_and_says_why_not_for_tflite(added, tiny):
    from core.analysis import gradcam
    from core.store.artifacts import Artifact

    keras_model = Artifact("net_keras", added).load_model()
    assert Artifact("net_keras", added).config()["imported"]["gradcam_layer"] == "conv_b"
    heatmaps = gradcam.GradCam.for_model("net_keras", keras_model, added)(tiny.x_test[:2])
    assert heatmaps.heatmaps.shape == (2, 32, 32)
    tflite_model = Artifact("net_tflite", added).load_model()
    with pytest.raises(gradcam.GradCamUnavailable, match="not available for a TFLite model"):
        gradcam.GradCam.for_model("net_tflite", tflite_model, added)
    assert Artifact("net_tflite", added).config()["imported"]["gradcam_layer"] is None


def test_the_catalog_lists_added_models_after_the_shipped_ones(added):
    from core.models.registry import REGISTRY
    from core.store import catalog

    names = catalog.list_models(added)
    assert names[: len(REGISTRY)] == list(REGISTRY)
    assert names[len(REGISTRY) :] == sorted(f"net_{fmt}" for fmt in FORMATS)
    spec = catalog.spec_of("net_h5", added)
    assert spec.family == "imported" and spec.title == "Tiny h5"
    assert catalog.spec_of("custom", added) is REGISTRY["custom"]


# --- refusals: one line on stderr, status 2, nothing written ----------------------------------


def _hostile_files(folder: Path, net) -> dict[str, Path]:
    import keras
    import tensorflow as tf

    out = {}
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3))
    doubled = keras.layers.Lambda(lambda t: t * 1.0, name="sneaky")(inputs)
    lam = keras.Model(inputs, net(doubled))
    for suffix in ("keras", "h5"):
        out[f"lambda_{suffix}"] = folder / f"lambda.{suffix}"
        lam.save(out[f"lambda_{suffix}"])

    @keras.saving.register_keras_serializable(package="elsewhere")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2

    custom = keras.Sequential([keras.Input((32, 32, 3)), Doubler(name="doubler"), net])
    out["custom_layer"] = folder / "custom.keras"
    custom.save(out["custom_layer"])
    seven = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(7)]
    )
    out["seven_outputs"] = folder / "seven.keras"
    seven.save(out["seven_outputs"])
    flat = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])
    out["not_an_image"] = folder / "flat.keras"
    flat.save(out["not_an_image"])
    constant = keras.Sequential(  # the same answer for every image
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, kernel_initializer="zeros", bias_initializer="random_normal"),
        ]
    )
    out["chance"] = folder / "constant.keras"
    constant.save(out["chance"])
    good = out["seven_outputs"].read_bytes()
    out["truncated"] = folder / "truncated.keras"
    out["truncated"].write_bytes(good[: len(good) // 2])
    out["random"] = folder / "random.h5"
    out["random"].write_bytes(np.random.default_rng(0).bytes(4096))
    out["oversized"] = folder / "huge.keras"
    with open(out["oversized"], "wb") as f:
        f.truncate(201 * 2**20)  # sparse: refused before it is read

    class WritesFiles(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(folder / "written.txt"), tf.strings.as_string(tf.reduce_sum(x)))
            return tf.tile(tf.reduce_mean(x, axis=[1, 2])[:, :1], [1, 10])

    module = WritesFiles()
    out["savedmodel_writes_files"] = folder / "writes_sm"
    tf.saved_model.save(module, str(out["savedmodel_writes_files"]), signatures=module.serve)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module
    )
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    out["tflite_flex_ops"] = folder / "flex.tflite"
    out["tflite_flex_ops"].write_bytes(converter.convert())
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, files):
    return _hostile_files(tmp_path_factory.mktemp("hostile"), files["net"])


REFUSALS = {
    "lambda_keras": "Lambda layer 'sneaky'",
    "lambda_h5": "Lambda layer 'sneaky'",
    "custom_layer": "layer 'doubler'",
    "seven_outputs": "outputs shaped (None, 7), not 10 class scores",
    "not_an_image": "input shaped (None, 784), not images",
    "chance": "near chance under every input scaling",
    "truncated": "damaged or truncated .keras file",
    "random": "not a model file",
    "oversized": "over the 200 MiB cap",
    "savedmodel_writes_files": "runs file or system operations when loaded or called (WriteFile)",
    "tflite_flex_ops": "FlexWriteFile",
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_wrong_or_hostile_file_is_refused_in_one_line_and_nothing_is_written(
    case, hostile, added, files, capfd
):
    before = listing(added)
    argv = [str(hostile[case]), "--name", "intruder", "--data", str(files["data"])]
    status, out, err = run([*argv, "--artifacts", str(added), *SKIP], capfd)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert REFUSALS[case] in err
    assert "Traceback" not in err + out
    assert listing(added) == before
    assert not (hostile["savedmodel_writes_files"].parent / "written.txt").exists()


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("../x", [], "is not a plain identifier"),
        ("custom", [], "custom is a shipped model"),
        ("custom", ["--replace"], "custom is a shipped model"),
        ("net_keras", [], "net_keras is already added; give --replace"),
    ],
)
def test_a_bad_or_taken_name_is_refused_and_nothing_is_written(
    name, extra, message, added, files, capfd
):
    before = listing(added)
    argv = [str(files["folder"] / "net.keras"), "--name", name, "--data", str(files["data"])]
    status, _, err = run([*argv, "--artifacts", str(added), *SKIP, *extra], capfd)
    assert (status, err.count("\n")) == (2, 1) and message in err, err
    assert listing(added) == before


def test_a_permuted_model_is_refused_with_the_classes_to_give_and_then_added(
    tmp_path, files, tiny, capfd
):
    import keras

    from core.data.cifar10 import CLASS_NAMES
    from core.store.artifacts import Artifact

    net = keras.models.clone_model(files["net"])
    net.set_weights(files["net"].get_weights())
    order = np.random.default_rng(3).permutation(10)  # output j holds class order[j]
    kernel, bias = net.get_layer("logits").get_weights()
    net.get_layer("logits").set_weights([kernel[:, order], bias[order]])
    net.save(tmp_path / "permuted.keras")
    root = tmp_path / "root"
    argv = [str(tmp_path / "permuted.keras"), "--name", "permuted", "--data", str(files["data"])]
    argv += ["--artifacts", str(root), *SKIP]
    status, _, err = run(argv, capfd)
    classes = ",".join(CLASS_NAMES[k] for k in order)
    assert status == 2 and f"add --classes {classes}" in err and listing(root) == []
    status, _, err = run([*argv, "--classes", classes], capfd)
    assert status == 0, err
    art = Artifact("permuted", root)
    assert art.metrics()["accuracy"] == pytest.approx(files["accuracy"], abs=0.005)
    assert art.config()["imported"]["classes"] == classes.split(",")


def test_unsafe_lets_the_operator_add_a_lambda_model_of_their_own(hostile, tmp_path, files, capfd):
    from core.store.artifacts import Artifact

    argv = [str(hostile["lambda_keras"]), "--name", "own", "--data", str(files["data"])]
    status, _, err = run([*argv, "--artifacts", str(tmp_path), "--unsafe", *SKIP], capfd)
    assert status == 0, err
    art = Artifact("own", tmp_path)
    assert art.config()["imported"]["safe_mode"] is False
    assert art.metrics()["accuracy"] == pytest.approx(files["accuracy"], abs=0.005)
    art.load_model()  # loads outside safe mode, as recorded


def test_an_import_stopped_midway_leaves_the_old_artifact_and_no_staging(
    added, files, monkeypatch, capfd
):
    from core.analysis import calibration

    before = listing(added)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(calibration, "write_calibration", killed)
    argv = [str(files["folder"] / "net.h5"), "--name", "net_keras", "--replace"]
    argv += ["--data", str(files["data"]), "--artifacts", str(added), *SKIP]
    with pytest.raises(KeyboardInterrupt):
        add_model.main(argv)
    capfd.readouterr()
    after = listing(added)
    # only the work folder's progress log of that name changed; the artifact is the old one
    assert [p for p in after if not p.startswith(".work")] == [
        p for p in before if not p.startswith(".work")
    ]


def test_remove_deletes_an_added_model_and_never_a_shipped_one(tmp_path, files, capfd):
    argv = [str(files["folder"] / "net.tflite"), "--name", "gone", "--data", str(files["data"])]
    assert run([*argv, "--artifacts", str(tmp_path), *SKIP], capfd)[0] == 0
    status, _, err = run(["--remove", "custom", "--artifacts", str(tmp_path)], capfd)
    assert status == 2 and "shipped model" in err
    status, out, _ = run(["--remove", "gone", "--artifacts", str(tmp_path)], capfd)
    assert status == 0 and "removed gone" in out
    assert [p for p in listing(tmp_path) if not p.startswith(".work")] == []


def test_the_command_line_adds_a_tflite_model_with_every_analysis(tmp_path, files):
    """The real command, in its own process: progress lines, then the analyses the shipped
    models have (the map needs CIFAR-10's own test set, so the tiny data records why not)."""
    env = {**os.environ, "CIFAR10_ARTIFACTS": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "core.add_model", str(files["folder"] / "net.tflite")]
        + ["--name", "lite", "--data", str(files["data"])],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "[6/10] robustness" in result.stdout and "added lite to" in result.stdout
    assert "Traceback" not in result.stderr
    folder = tmp_path / "lite"
    robustness = json.loads((folder / "robustness.json").read_text())
    assert robustness["n_images"] == 2000
    ood = json.loads((folder / "ood.json").read_text())
    assert ood["features_from"] == "log-probabilities" and "energy" not in ood["test_all"]
    analyses = json.loads((folder / "config.json").read_text())["imported"]["analyses"]
    assert analyses["robustness"] == analyses["ood"] == "done"
    assert analyses["embedding"].startswith("not computed")


def test_an_import_killed_midway_leaves_no_artifact_and_the_next_one_clears_its_staging(
    tmp_path, files, capfd
):
    import signal
    import time

    from core.io.progress import read_records
    from core.store import catalog

    argv = [str(files["folder"] / "net.tflite"), "--name", "lite", "--data", str(files["data"])]
    process = subprocess.Popen(
        [sys.executable, "-m", "core.add_model", *argv, "--artifacts", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = tmp_path / ".work" / "lite" / "progress.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if any(r.get("stage") == "robustness" for r in read_records(log)):
            break
        time.sleep(0.2)
    assert process.poll() is None, "the import ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not (tmp_path / "lite").exists() and "lite" not in catalog.list_models(tmp_path)
    assert list(tmp_path.glob(".lite.import-*"))  # the dead run's staging, hidden
    status, _, err = run([*argv, "--artifacts", str(tmp_path), *SKIP], capfd)
    assert status == 0, err
    assert (tmp_path / "lite").is_dir() and not list(tmp_path.glob(".lite.import-*"))

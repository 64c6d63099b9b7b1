import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests' servers and app runs load the models only where a test needs them: a server that
# only shows stored results would otherwise load all of them (ui.common.WARM_UP_ENV). The one
# that tests the warm-up turns it on.
os.environ.setdefault("CIFAR10_STUDIO_WARM_UP", "0")
# Nor do they answer with fast-start copies or make them (core.serving.fast_start), whatever the
# cache of the machine holds: tests/test_fast_start.py turns them on.
os.environ.setdefault("CIFAR10_STUDIO_FAST_START", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.data.cifar10 import Cifar10, save_npz  # noqa: E402


def make_tiny_dataset(n_train: int = 200, n_test: int = 60, seed: int = 0) -> Cifar10:
    """Random images whose mean brightness depends on the class, so a model can learn a bit."""
    rng = np.random.default_rng(seed)

    def draw(n):
        labels = np.arange(n) % 10
        base = (labels * 25)[:, None, None, None]
        images = np.clip(base + rng.integers(0, 30, size=(n, 32, 32, 3)), 0, 255).astype(np.uint8)
        return images, labels.astype(np.int64)

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Cifar10(x_train, y_train, x_test, y_test, "tiny", "tiny", "0" * 64)


def centre_photo(array: np.ndarray, size: int = 224) -> np.ndarray:
    """A photo's centre square resized to ``size`` (bicubic), RGB floats in [0, 1]: the input
    of the ImageNet port tests."""
    from PIL import Image

    image = Image.fromarray(np.asarray(array)[..., :3]).convert("RGB")
    w, h = image.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return np.asarray(image.crop(box).resize((size, size), Image.BICUBIC), np.float32) / 255.0


@pytest.fixture(autouse=True)
def _not_a_viewer(monkeypatch):
    """The tests choose viewer mode themselves; a CIFAR10_STUDIO_VIEWER=1 left in the shell that
    runs them would hide the Train page from every test that uses it."""
    monkeypatch.delenv("CIFAR10_STUDIO_VIEWER", raising=False)


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    save_npz(make_tiny_dataset(), path)
    return path


@pytest.fixture(scope="session")
def trained(tiny_npz, tmp_path_factory):
    """An artifacts folder holding a `custom` model trained for 2 epochs on the tiny data."""
    from core.training import train

    root = tmp_path_factory.mktemp("artifacts")
    args = ["custom", "--data", str(tiny_npz), "--epochs", "2", "--batch-size", "32"]
    assert train.main([*args, "--artifacts", str(root), "--quiet"]) == 0
    return root


# --- a small artifacts folder for the page, report, calibration and Grad-CAM tests -----------
# Two tiny untrained CNNs whose stored test predictions are their real outputs on the shipped
# test images, so every page and the report have consistent data in seconds: ``custom`` (a
# Sequential with the registry's ``last_conv``) and ``vgg12`` (a functional model whose layers
# are not named as the registry says, like the shipped vgg12). Both store validation
# predictions; ``custom`` also a robustness result.

FAKE_MODELS = ("custom", "vgg12")


def _tiny_cnn(name: str, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    if name == "custom":
        return keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                layers.Conv2D(4, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv"),
                layers.GlobalAveragePooling2D(),
                layers.Dense(10, activation="softmax"),
            ]
        )
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def build_fake_root(root):
    from core.analysis import robustness
    from core.analysis.calibration import write_val_predictions
    from core.store import artifacts
    from core.store.samples import load_test_images
    from core.training.evaluate import compute_metrics

    samples = load_test_images(root)
    x = samples.images.astype(np.float32) / 255.0
    for seed, name in enumerate(FAKE_MODELS):
        model = _tiny_cnn(name, seed)
        probs = model.predict(x, batch_size=2000, verbose=0).astype(np.float32)
        model_file = root / f"{name}.keras"
        model.save(model_file)
        config = {
            "parameters": model.count_params(),
            "epochs_trained": 2,
            "wall_time_s": 120.0,
            "command": f"python -m core.train {name}",
            "dataset": {"id": "tiny"},
            "machine": {"cpu_count": 2, "platform": "test"},
        }
        history = {
            "loss": [2.2, 2.0 - seed / 10],
            "accuracy": [0.15, 0.2],
            "val_loss": [2.1, 2.0],
            "val_accuracy": [0.18, 0.21],
        }
        card = f"# Tiny {name}\n\n| metric | value |\n|---|---|\n| accuracy | tiny |\n"
        path = artifacts.write_artifact(
            name,
            model_file,
            compute_metrics(samples.labels, probs),
            history,
            config,
            samples.labels,
            probs,
            card,
            root=root,
        )
        model_file.unlink()
        # stand-in validation predictions: the model's answers on 1,000 other images
        rng = np.random.default_rng(seed)
        val_rows = rng.choice(len(x), 1000, replace=False)
        write_val_predictions(path, samples.labels[val_rows], probs[val_rows])
    robustness.run("custom", root, n=20, progress=False)
    return root


@pytest.fixture(scope="session")
def fake_root(tmp_path_factory):
    """The artifacts folder above, built once per test session."""
    return build_fake_root(tmp_path_factory.mktemp("fake_artifacts"))


@pytest.fixture(scope="session")
def imagenet_archives():
    """The ResNet50 and VGG16 weight archives, fetched into the usual cache on first use by the
    code behind `python -m core.weights_archives`; without a registry, one line naming it."""
    from core.weights import archives

    try:
        return {name: archives.fetch(name) for name in archives.ARCHIVES}
    except archives.WeightsArchiveError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)

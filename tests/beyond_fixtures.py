"""A small artifacts folder for the calibration, robustness, Grad-CAM and report tests.

Two tiny untrained CNNs whose stored test predictions are their real outputs on the shipped
test images, so every page and the report have consistent data in seconds: ``custom`` (a
Sequential with the registry's ``last_conv``) and ``vgg12`` (a functional model whose layers are
not named as the registry says, like the shipped vgg12). Both store validation predictions;
``custom`` also a robustness result. Import the fixture into a test module to use it.
"""

from __future__ import annotations

import numpy as np
import pytest

FAKE_MODELS = ("custom", "vgg12")


def tiny_cnn(name: str, seed: int):
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


def build_root(root):
    from core import artifacts, robustness
    from core.calibration import write_val_predictions
    from core.evaluate import compute_metrics
    from core.samples import load_test_images

    samples = load_test_images(root)
    x = samples.images.astype(np.float32) / 255.0
    for seed, name in enumerate(FAKE_MODELS):
        model = tiny_cnn(name, seed)
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
        history = {"loss": [2.3, 2.2], "accuracy": [0.1, 0.12]}
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


_BUILT: list = []  # one folder per session, whichever test modules import the fixture


@pytest.fixture(scope="session")
def beyond_root(tmp_path_factory):
    if not _BUILT:
        _BUILT.append(build_root(tmp_path_factory.mktemp("beyond_artifacts")))
    return _BUILT[0]

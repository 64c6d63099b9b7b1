"""Grad-CAM: maps of the input's size, per class, through wrappers and nested backbones."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from core.analysis.gradcam import GradCam, overlay
from core.models.builders import with_tta
from core.store import artifacts
from core.store.samples import load_test_images


@pytest.fixture(scope="module")
def images():
    samples = load_test_images()
    return samples.images[:4]


def _cnn(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="features")(x)
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="tiny")


def _transfer(seed: int = 0) -> keras.Model:
    """Like the transfer models: upscaling, then a nested backbone holding the layer."""
    keras.utils.set_random_seed(seed)
    b_in = keras.Input((48, 48, 3))
    b = layers.Conv2D(8, 3, strides=2, activation="relu")(b_in)
    b = layers.Conv2D(16, 3, activation="relu", name="backbone_out")(b)
    backbone = keras.Model(b_in, b, name="backbone")
    inputs = keras.Input((32, 32, 3))
    x = layers.Resizing(48, 48)(inputs)
    x = backbone(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(layers.Dense(12, activation="relu")(x))
    return keras.Model(inputs, outputs, name="transfer")


@pytest.mark.parametrize("build, layer", [(_cnn, "features"), (_transfer, "backbone_out")])
def test_map_has_the_inputs_size_and_changes_with_the_target_class(images, build, layer):
    model = build()
    cam = GradCam(model, layer)
    predicted = cam(images)
    assert predicted.heatmaps.shape == (4, 32, 32)
    assert predicted.heatmaps.min() >= 0 and predicted.heatmaps.max() <= 1
    assert np.array_equal(predicted.class_index, model.predict(images / 255.0, verbose=0).argmax(1))
    other = (predicted.class_index + 1) % 10
    changed = cam(images, class_index=other)
    assert np.array_equal(changed.class_index, other)
    assert np.abs(changed.heatmaps - predicted.heatmaps).mean() > 0.02
    assert cam(images[0]).heatmaps.shape == (1, 32, 32), "one image, (H, W, 3)"


def test_a_test_time_view_wrapper_is_explained_through_its_single_view_network(images):
    inner = _transfer(seed=1)  # two levels down: wrapper -> network -> backbone
    wrapper = with_tta(inner, shift=True)
    cam = GradCam(wrapper, "backbone_out")
    assert cam.single_view
    for k in (0, 7):
        np.testing.assert_allclose(
            cam(images, k).heatmaps, GradCam(inner, "backbone_out")(images, k).heatmaps, atol=1e-5
        )
    whole = wrapper.predict(images / 255.0, verbose=0).argmax(axis=1)
    assert np.array_equal(cam(images).class_index, whole), "the class the whole model answers"


def test_a_saved_sequential_model_loads_and_explains(trained, images):
    # A loaded Sequential's layer.output is off its graph; the gradient must still flow.
    model = artifacts.Artifact("custom", trained).load_model()
    cam = GradCam.for_model("custom", model)
    assert cam.layer_name == "last_conv"
    predicted = cam(images)
    first = predicted.heatmaps
    second = cam(images, (predicted.class_index + 1) % 10).heatmaps
    assert first.shape == (4, 32, 32) and first.max() == pytest.approx(1.0)
    assert np.abs(first - second).mean() > 0.02


def test_registry_layer_missing_falls_back_to_the_deepest_convolution(images):
    cam = GradCam.for_model("vgg12", _cnn())  # the registry names conv4_3; _cnn has none
    assert cam.layer_name == "features"
    assert cam(images).heatmaps.shape == (4, 32, 32)


def test_unknown_layer_is_refused():
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        GradCam(_cnn(), "nope")


def test_overlay_is_an_enlarged_rgb_picture(images):
    heatmap = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    picture = overlay(images[0], heatmap, scale=4)
    assert picture.shape == (128, 128, 3) and picture.dtype == np.uint8
    assert not np.array_equal(picture[::4, ::4], images[0])


# Six models' heatmaps, each for several batch sizes, in a fresh process: TensorFlow's retracing
# warning counts per process and says so at most twice per function, so earlier tests in this
# one could have used it up. Before each model's graph kept its own count, this printed two
# "triggered tf.function retracing" warnings (the report's slides, six shipped models).
_SEVERAL_MODELS_SCRIPT = textwrap.dedent(
    """
    import json, logging
    import numpy as np
    from core.analysis.gradcam import GradCam
    from tests.test_gradcam import _cnn, _transfer

    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    logging.getLogger("tensorflow").addHandler(handler)
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    cams = [GradCam(build(seed), layer) for seed in range(3)
            for build, layer in ((_cnn, "features"), (_transfer, "backbone_out"))]
    for n in (1, 3, 5):
        for cam in cams:
            cam(images[:n])
    traces = [cam._graph.experimental_get_tracing_count() for cam in cams]
    print(json.dumps({"warnings": warnings, "traces": traces}))
    """
)


def test_several_models_heatmaps_trace_each_graph_once_and_warn_nothing():
    result = subprocess.run(
        [sys.executable, "-c", _SEVERAL_MODELS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"warnings": [], "traces": [1] * 6}


# --- heatmaps that point somewhere ------------------------------------------------------------
# A heatmap scaled to a peak of 1 localises when its coldest point is well below its hottest.
# Threshold: the median over 32 test images of (max - min) must reach 0.5. Measured on the
# shipped models: 1.0 for every model at its chosen layer; 0.376 for Model 1 at its last
# convolution (2x2 cells), the "uniform wash" a stakeholder saw; 0 for any 1x1 layer.
LOCALISES = 0.5


def localisation(heatmaps: np.ndarray) -> float:
    return float(np.median(heatmaps.max(axis=(1, 2)) - heatmaps.min(axis=(1, 2))))


@pytest.fixture(scope="module")
def probe_images():
    samples = load_test_images()
    return samples.images[np.random.default_rng(0).choice(len(samples.labels), 32, replace=False)]


def _shipped(name):
    art = artifacts.Artifact(name)
    if not art.status().ready:
        pytest.skip(f"{name} is not shipped")
    return art.load_model()


@pytest.mark.parametrize(
    "name",
    [
        "custom",
        "vgg12",
        "vgg12_opt",
        "resnet50_transfer",
        "vgg16_transfer",
        "efficientnet_lite0_transfer",
    ],
)
def test_every_shipped_models_heatmaps_localise(name, probe_images):
    cam = GradCam.for_model(name, _shipped(name))
    assert localisation(cam(probe_images).heatmaps) >= LOCALISES, cam.layer_name


def test_model_1s_2x2_last_convolution_fails_the_check(probe_images):
    from core.analysis.gradcam import cells

    model = _shipped("vgg12")
    last = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)][-1].name
    assert cells(model, last) == 2
    assert localisation(GradCam(model, last)(probe_images).heatmaps) < LOCALISES
    assert cells(model, GradCam.for_model("vgg12", model).layer_name) == 4


def test_a_1x1_layer_fails_the_check(probe_images):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(32)(x)
    x = layers.Conv2D(16, 1, activation="relu", name="one_by_one")(x)
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    assert localisation(GradCam(model, "one_by_one")(probe_images).heatmaps) < LOCALISES

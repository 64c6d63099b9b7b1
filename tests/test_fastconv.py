"""The training-time convolution gradient must equal TensorFlow's own."""

import numpy as np
import pytest
import tensorflow as tf

from core.training import fastconv


@pytest.mark.parametrize(
    ("size", "channels_in", "channels_out", "kernel"),
    [(2, 8, 16, 3), (5, 3, 4, 3), (8, 4, 4, 1), (7, 2, 3, 5)],
)
def test_gradients_match_tensorflow(size, channels_in, channels_out, kernel):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, size, size, channels_in)), tf.float32)
    w = tf.constant(rng.normal(size=(kernel, kernel, channels_in, channels_out)), tf.float32)
    dy = tf.constant(rng.normal(size=(3, size, size, channels_out)), tf.float32)

    def grads(conv):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = conv(x, w)
        return y, tape.gradient(y, [x, w], output_gradients=dy)

    y_ref, (dx_ref, dw_ref) = grads(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME"))
    y_fast, (dx_fast, dw_fast) = grads(fastconv.conv2d_same)
    np.testing.assert_allclose(y_fast, y_ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dx_fast, dx_ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dw_fast, dw_ref, rtol=1e-5, atol=1e-4)


def test_keras_conv_layers_use_it_only_where_exact():
    import threading

    import keras

    calls, here = [], threading.get_ident()
    original = fastconv.conv2d_same
    x = np.ones((1, 8, 8, 3), np.float32)

    def counted(x, k):
        # Only this test's own layers: a model another test left warming up in a thread of this
        # process may run its convolutions meanwhile (one suite run counted one of those).
        if threading.get_ident() == here:
            calls.append(k.shape)
        return original(x, k)

    try:
        fastconv.conv2d_same = counted
        with fastconv.enabled():
            keras.layers.Conv2D(4, 3, padding="same")(x)
            keras.layers.Conv2D(4, 3, padding="valid")(x)  # not "same": TensorFlow's own op
            keras.layers.Conv2D(4, 2, padding="same")(x)  # even kernel: asymmetric padding
            keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
        keras.layers.Conv2D(4, 3, padding="same")(x)  # after the block: Keras' own again
    finally:
        fastconv.conv2d_same = original
    assert calls == [(3, 3, 3, 4)]

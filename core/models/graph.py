"""A model run as one compiled TensorFlow graph: how the Predictor answers and how robustness
measures, so both run a model the same way."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def compiled(model) -> Callable[[np.ndarray], object]:
    """``model`` called as one compiled TensorFlow graph rather than eagerly, op by op: a single
    image through the six-view Model 2 took 355 ms eagerly (p50, ``bench/models.py``).

    The graph takes float32 batches of any size shaped like the model's input and gives what
    the model gives (a tensor, or a list of them), in inference mode. An added TFLite model
    (``core.models.tflite``) runs in its own interpreter and is returned as it is.
    """
    import tensorflow as tf

    from core.models.tflite import TFLiteModel
    from core.models.traced import traced

    if isinstance(model, TFLiteModel):
        return model

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
    views = _views_in_one_pass(model)
    if views is None:
        return traced(lambda x: model(x, training=False), [spec])
    to_views, network, average = views

    def one_pass(x):
        stacked = to_views(x, training=False)
        probs = network(tf.concat(stacked, axis=0), training=False)
        return average(tf.split(probs, len(stacked), axis=0), training=False)

    return traced(one_pass, [spec])


def _views_in_one_pass(model):
    """(views, network, average) of a test-time-augmentation wrapper
    (``core.models.builders.with_tta``), else None.

    The wrapper calls its network once per view, so its graph holds six copies of ResNet50:
    traced and optimised six times, 8.5 s of a fresh server's warm-up. Run as views -> the
    network once over all of them stacked -> the wrapper's own averaging, the graph holds one
    copy (1.7 s), gives the same numbers, and a single upload runs one batch of six.
    """
    import keras

    from core.models.builders import single_view_network

    network = single_view_network(model)
    if network is model:
        return None
    try:
        calls = list(network._inbound_nodes)  # one per view, in the wrapper's order
        if len(calls) < 2:
            return None
        to_views = keras.Model(model.inputs, [c.input_tensors[0] for c in calls])
        average = keras.Model([c.output_tensors[0] for c in calls], model.outputs)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None  # not the wrapper's shape after all: the model runs as it is
    return to_views, network, average

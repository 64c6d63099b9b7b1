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
    return traced(lambda x: model(x, training=False), [spec])

"""Training across several worker processes (``--distribute multiworker``, set ``TF_CONFIG``).

Every worker runs every step (the collectives wait for all of them); only the chief writes
the artifact. Keras 3's ``fit`` gets two reductions wrong under MultiWorkerMirroredStrategy
with more than one worker (keras-team/keras#20585); ``allow_multiworker_fit`` works around
both, for one model, until Keras fixes them.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf


def is_chief() -> bool:
    """Whether this process writes the artifact: always, except a non-chief multi-worker task."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task, cluster = config.get("task") or {}, config.get("cluster") or {}
    if task.get("type", "chief") == "chief":
        return True
    return (
        task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in cluster
    )


def allow_multiworker_fit(model: keras.Model) -> None:
    """Keras builds the model from the first (x, y) batch reduced across workers with
    ``Strategy.reduce``, which refuses a tuple; building needs only shapes, so this model
    builds from this worker's own batch. And Keras reduces each step's scalar logs with
    ``reduce(MEAN, axis=0)``, which needs an axis: the steps here return them with one.
    """

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(_local_value, next(batches))
                break
        with model.distribute_strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build
    for name in ("train_step", "test_step"):
        step = getattr(model, name)
        setattr(model, name, lambda data, step=step: tf.nest.map_structure(_with_axis, step(data)))


def _local_value(value):
    return value.values[0] if isinstance(value, tf.distribute.DistributedValues) else value


def _with_axis(value):
    return tf.reshape(value, [1])

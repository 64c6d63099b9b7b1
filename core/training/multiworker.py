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

# How long a worker may go without a heartbeat before TensorFlow ends the run on every worker.
# Its 10 s default ended runs whose workers were both alive, on a 2-core machine busy with
# other work ("heartbeat timeout" on each task).
HEARTBEAT_TIMEOUT_S = 120


def is_chief() -> bool:
    """Whether this process writes the artifact: always, except a non-chief multi-worker task."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task, cluster = config.get("task") or {}, config.get("cluster") or {}
    if task.get("type", "chief") == "chief":
        return True
    return (
        task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in cluster
    )


def strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy from ``TF_CONFIG``, with a heartbeat timeout that a busy
    machine does not trip. TensorFlow configures its coordination service itself only when
    none is configured yet, the same way, with the timeout left at its default."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = resolver.cluster_spec()
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
        for job in ("chief", "worker")
        if job in spec.jobs
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs,
        heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000,
    )
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


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

"""Loaded models answering in memory: one ``Predictor`` per process, shared by every session.

The dashboard's live page, ``core.classify`` and the ``core.predict`` command all use it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from core import artifacts
from core.data import CLASS_NAMES
from core.models import REGISTRY


@dataclass(frozen=True)
class Prediction:
    model: str
    probs: np.ndarray  # (10,) softmax probabilities in CIFAR-10 label order

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs)[:k]
        return [(CLASS_NAMES[i], float(self.probs[i])) for i in order]


class Predictor:
    """Loaded models by name; one copy per process, safe to call from several threads."""

    def __init__(self, models: dict):
        self.models = models
        self._locks = {name: threading.Lock() for name in models}
        self._graphs = {name: compiled(model) for name, model in models.items()}

    @classmethod
    def from_artifacts(
        cls,
        names: list[str] | None = None,
        root=None,
        verify_with: tuple[str, np.ndarray] | None = None,
    ) -> tuple[Predictor, dict]:
        """Load every ready artifact among ``names``; returns the predictor and the failures.

        ``verify_with`` = (dataset id, its first uint8 test images in test order): a model
        trained on that dataset that does not reproduce its artifact's stored predictions is
        refused as broken.
        """
        models, failed = {}, {}
        for name in names or list(REGISTRY):
            art = artifacts.Artifact(name, root)
            status = art.status()
            if not status.ready:
                failed[name] = f"{status.state}: {status.reason}"
                continue
            try:
                model = art.load_model()
                trained_on = art.config().get("dataset", {}).get("id")
                if verify_with and trained_on == verify_with[0]:
                    art.verify_model(model, verify_with[1])
                models[name] = model
            except artifacts.ArtifactError as exc:
                failed[name] = f"broken: {exc}"
        return cls(models), failed

    def predict(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 32, 32, 3) floats in [0, 1] -> {model: (N, 10) probabilities}."""
        batch = np.asarray(batch, dtype=np.float32)
        out = {}
        for name, graph in self._graphs.items():
            with self._locks[name]:
                out[name] = np.asarray(graph(batch), dtype=np.float32)
        return out


def compiled(model):
    """``model`` called as one compiled TensorFlow graph rather than eagerly, op by op: a single
    image through the six-view Model 2 took 355 ms eagerly (p50, ``bench/models.py``)."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])

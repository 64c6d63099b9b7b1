"""Loaded models answering in memory: one ``Predictor`` per process, shared by every session.

``core.serving.classify`` and the ``core.serving.predict`` command use it directly; the dashboard
puts it behind
a ``SharedPredictor``, which batches the requests of concurrent sessions.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from core.analysis import ood
from core.data.cifar10 import CLASS_NAMES, scale
from core.models import graph
from core.serving.batcher import DynamicBatcher
from core.store import artifacts
from core.store.catalog import list_models


@dataclass(frozen=True)
class Prediction:
    model: str
    probs: np.ndarray  # (10,) softmax probabilities in CIFAR-10 label order

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs)[:k]
        return [(CLASS_NAMES[i], float(self.probs[i])) for i in order]


def judge_for(names: list[str], root, gate=None) -> ood.Judge | None:
    """The model whose own score flags unfamiliar images: with the ImageNet ``gate``, the one
    its rule was chosen with (when among ``names``), else the best of ``names``."""
    own = gate.gate.present_model if gate is not None else None
    return ood.Judge.from_artifacts([own] if own in names else list(names), root)


class Predictor:
    """Loaded models by name; one copy per process, safe to call from several threads."""

    def __init__(
        self, models: dict, judge: ood.Judge | None = None, expected: tuple = (), gate=None
    ):
        self.models = models
        # The ImageNet gate of unfamiliar images (core.serving.unfamiliar.GateRunner), if any.
        self.gate = gate
        # The model whose features decide the unfamiliar-image flag (core.analysis.ood), if
        # loaded or among the ``expected`` models still to be ``add``ed.
        keep = judge is not None and (judge.model in models or judge.model in expected)
        self.judge = judge if keep else None
        # Answers come in this order, whatever order the models were added in.
        self.order = [*models, *[n for n in expected if n not in models]]
        # Models answering with their fast-start copy (core.serving.fast_start) whose Keras
        # model is not loaded yet: no Grad-CAM, and no unfamiliar-image score from the judge.
        self.fast: set[str] = set()
        self._locks = {name: threading.Lock() for name in models}
        self._graphs = {
            name: compiled(model, self.judge if self.judge and name == self.judge.model else None)
            for name, model in models.items()
        }

    @classmethod
    def from_artifacts(
        cls,
        names: list[str] | None = None,
        root=None,
        verify_with: tuple[str, np.ndarray] | None = None,
        between: Callable[[], None] | None = None,
    ) -> tuple[Predictor, dict]:
        """Load every ready artifact among ``names`` (default: the shipped and the added
        models, ``core.store.catalog.list_models``); returns the predictor and the failures.

        ``verify_with`` = (dataset id, its first uint8 test images in test order): a model
        trained on that dataset that does not reproduce its artifact's stored predictions is
        refused as broken. ``between`` is called before each model (it may raise to stop the
        loading: ``core.serving.background.checkpoint``).
        """
        models, failed = {}, {}
        for name in names or list_models(root):
            if between is not None:
                between()
            model, reason = cls.load_one(name, root, verify_with)
            if model is None:
                failed[name] = reason
            else:
                models[name] = model
        from core.serving.unfamiliar import GateRunner

        gate = GateRunner.load(root) if models else None
        return cls(models, judge_for(list(models), root, gate), gate=gate), failed

    @staticmethod
    def load_one(name: str, root=None, verify_with: tuple[str, np.ndarray] | None = None):
        """(the model, "") of a ready artifact that passes the check of ``from_artifacts``,
        else (None, why it is not loaded)."""
        art = artifacts.Artifact(name, root)
        status = art.status()
        if not status.ready:
            return None, f"{status.state}: {status.reason}"
        try:
            model = art.load_model()
            trained_on = art.config().get("dataset", {}).get("id")
            if verify_with and trained_on == verify_with[0]:
                art.verify_model(model, verify_with[1])
        except artifacts.ArtifactError as exc:
            return None, f"broken: {exc}"
        return model, ""

    def add(self, name: str, model, verify: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Put one more loaded model in, its graph traced first: callers see it only once it
        answers at full speed (the warm-up adds the models one by one, fastest first).

        ``verify`` = (uint8 test images, the artifact's stored probabilities of them): checked
        through the traced graph, as ``Artifact.verify_model`` does eagerly (an eager run of
        ResNet50's six views cost as much as tracing its graph); raises ``ArtifactError``.
        """
        judged = self.judge is not None and name == self.judge.model
        graph = compiled(model, self.judge if judged else None)
        if verify is None:
            graph(np.zeros((1, 32, 32, 3), np.float32))  # the trace, on what callers send
        else:
            _check(name, graph, verify, "model file")
        if name in self.fast and not judged and self._copy_is_faster(name, graph):
            # The checked copy, made from this very file, goes on answering; the model is for
            # Grad-CAM. Small models pay TensorFlow's per-call overhead: custom's and Lite0's
            # copies answered 5-10x faster here. In LiteRT, Model 2's, VGG16's and ResNet50's
            # came within 25% of their graphs (ResNet50's holding 660 MB of its own); in
            # OpenVINO they answer 1.3-1.7x as fast (bench/README.md).
            self.models[name] = model
        else:
            self._answer_with(name, graph, model)
        self.fast.discard(name)

    def add_fast(
        self, name: str, copy, verify: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        """Answer with ``name``'s fast-start copy (``core.serving.fast_start.FastCopy``); it
        goes on answering once the Keras model is ``add``ed (for Grad-CAM), except for the
        judge's, whose graph also gives the unfamiliar-image features. ``verify`` as in ``add``
        (raises ``ArtifactError``)."""
        if verify is not None:
            _check(name, copy, verify, "fast-start copy")
        self._answer_with(name, copy, copy)
        self.fast.add(name)

    # A copy goes on answering only if this much faster than the traced graph: each holds
    # memory of its own (a process kept all six at 2.4 GB, none at 1.5 GB).
    COPY_SPEED_UP = 1.2

    def _copy_is_faster(self, name: str, graph, calls: int = 3) -> bool:
        """Whether ``name``'s fast-start copy answers one image ``COPY_SPEED_UP`` times as fast
        as ``graph`` here."""
        probe = np.zeros((1, 32, 32, 3), np.float32)

        def seconds(fn) -> float:
            times = []
            for _ in range(calls + 1):  # the first call warms
                started = time.perf_counter()
                fn(probe)
                times.append(time.perf_counter() - started)
            return float(np.median(times[1:]))

        with self._locks[name]:  # the copy is not thread-safe
            copy_s = seconds(self._graphs[name])
        return copy_s * self.COPY_SPEED_UP < seconds(graph)

    def answers_with_copy(self, name: str) -> bool:
        """Whether ``name``'s predictions come from its fast-start copy."""
        return getattr(self._graphs.get(name), "fast_start", False)

    def runtime(self, name: str) -> str:
        """What runs ``name``'s predictions: its fast-start copy's runtime ("OpenVINO" or
        "LiteRT"), else "TensorFlow"."""
        graph = self._graphs.get(name)
        return graph.runtime if getattr(graph, "fast_start", False) else "TensorFlow"

    def withdraw(self, name: str) -> None:
        """Stop answering with ``name`` (its fast-start copy, when its Keras model failed)."""
        self.fast.discard(name)
        self.models.pop(name, None)
        self._graphs.pop(name, None)

    def _answer_with(self, name: str, graph, model) -> None:
        self._locks[name] = threading.Lock()
        self._graphs[name] = graph
        if name not in self.order:
            self.order.append(name)
        self.models[name] = model

    def predict(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 32, 32, 3) floats in [0, 1] -> {model: (N, 10) probabilities}; raises the first
        model's error if any fails."""
        out = self.predict_each(batch)
        for answer in out.values():
            if isinstance(answer, Exception):
                raise answer
        return out

    def predict_each(
        self, batch: np.ndarray, models: Iterable[str] | None = None
    ) -> dict[str, np.ndarray | Exception]:
        """Like ``predict``, but a model that fails gives its exception, not the whole call.
        ``models``: only these of the loaded models (default: all), in loading order.

        With a ``judge`` (among ``models``), ``out[ood.SCORE_KEY]`` holds its unfamiliar-image
        scores, taken from the same call as its probabilities.
        """
        batch = np.asarray(batch, dtype=np.float32)
        wanted = None if models is None else set(models)
        out: dict[str, np.ndarray | Exception] = {}
        for name in [n for n in list(self.order) if n in self._graphs]:  # added meanwhile: safe
            if wanted is not None and name not in wanted:
                continue
            try:
                probs, features = self._run(name, batch)
                out[name] = probs
                if features is not None:
                    out[ood.SCORE_KEY] = self.judge.scorer.score(features)
            except Exception as exc:  # noqa: BLE001 - reported as this model's answer
                out[name] = exc
        return out

    def predict_one(self, name: str, batch: np.ndarray) -> np.ndarray:
        """(N, 10) probabilities of model ``name`` alone."""
        return self._run(name, np.asarray(batch, dtype=np.float32))[0]

    def _run(self, name: str, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(probabilities, penultimate features of the judge, else None) of one model."""
        with self._locks[name]:
            answer = self._graphs[name](batch)
        if isinstance(answer, (list, tuple)):
            return np.asarray(answer[0], np.float32), np.asarray(answer[1], np.float32)
        return np.asarray(answer, dtype=np.float32), None

    def latency_ms(self, name: str, repeats: int = 20) -> float:
        """Median milliseconds for one 32x32 image through ``name``'s compiled graph, the path
        every prediction takes (after one warm-up call, which traces it)."""
        x = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
        times = []
        for i in range(repeats + 1):
            started = time.perf_counter()
            self._run(name, x)
            elapsed = time.perf_counter() - started
            if i:  # the first call traces the graph
                times.append(elapsed)
        return float(np.median(times) * 1000)


class SharedPredictor:
    """The dashboard's one ``Predictor`` for every session, behind a ``DynamicBatcher``.

    Predictions of concurrent sessions run as one batch per model; Grad-CAM requests are batched
    per model too, and wait until no prediction has been asked for a moment (the heatmaps come
    after the answers, everyone's).
    """

    PREDICT = "predict"
    # Heatmaps start once no prediction has been asked for 0.4 s per prediction asked in the
    # last 2 s, time for those answers to be drawn first (bench/concurrent_sessions.py).
    GRADCAM_AFTER_QUIET_S = 0.4

    def __init__(self, predictor: Predictor, batcher: DynamicBatcher | None = None):
        self.predictor = predictor
        self.models = predictor.models
        self.judge = predictor.judge
        self.gate = predictor.gate
        self.batcher = batcher or DynamicBatcher()
        self.batcher.register(self.PREDICT, predictor.predict_each, priority=0)
        self._cams: dict = {}
        self._subsets: set = set()
        self._kinds_lock = threading.Lock()
        for name in self.models:
            self._register_gradcam(name)

    def add(self, name: str, model, verify: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """``Predictor.add``: the model answers from now on, its Grad-CAM requests too."""
        self._register_gradcam(name)
        self.predictor.add(name, model, verify)

    def add_fast(
        self, name: str, copy, verify: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        """``Predictor.add_fast``: the copy answers; its Grad-CAM requests get the one-line
        reason (GradCamUnavailable) until the Keras model takes over."""
        self._register_gradcam(name)
        self.predictor.add_fast(name, copy, verify)

    def warm_up(self, between: Callable[[], None] | None = None) -> None:
        """Trace every model's prediction and Grad-CAM graphs now, before any session asks:
        traced on first use, in the worker, they held up the next sessions' predictions by
        seconds. ``between`` is called before each trace (it may raise to stop the warm-up)."""
        probe = np.zeros((1, 32, 32, 3), np.float32)
        between = between or (lambda: None)
        for name in list(self.models):
            between()
            self.predictor.predict_one(name, probe)
            between()
            if name not in self._cams:
                try:
                    cam = self._new_cam(name)
                except ValueError:  # GradCamUnavailable: a request gets the one-line reason
                    continue
                cam(probe, 0)
                self._cams.setdefault(name, cam)

    def predict_each(
        self, batch: np.ndarray, models: Iterable[str] | None = None
    ) -> dict[str, np.ndarray | Exception]:
        """``Predictor.predict_each`` of this caller's rows, batched with other callers' that
        ask the same ``models`` (default: all). Raises ``core.serving.batcher.Busy`` when the
        queue is full or no answer came in time."""
        kind = self.PREDICT
        if models is not None:
            chosen = tuple(n for n in self.models if n in set(models))
            if chosen != tuple(self.models):
                kind = (self.PREDICT, chosen)
                with self._kinds_lock:  # each subset gets its own queue, once
                    if kind not in self._subsets:
                        fn = functools.partial(self.predictor.predict_each, models=chosen)
                        self.batcher.register(kind, fn, priority=0)
                        self._subsets.add(kind)
        return self.batcher(kind, np.asarray(batch, dtype=np.float32))

    def gradcam(self, name: str, images: np.ndarray, class_index) -> np.ndarray:
        """(N, H, W) Grad-CAM heatmaps of loaded model ``name`` (``core.analysis.gradcam``) for
        ``class_index`` (one class for all images, or one per image)."""
        images = np.asarray(images)
        images = scale(images) if images.dtype == np.uint8 else images.astype(np.float32)
        images = images[None] if images.ndim == 3 else images
        targets = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (len(images),))
        return self.batcher(("gradcam", name), images, targets)

    def _new_cam(self, name: str):
        from core.analysis.gradcam import GradCam, GradCamUnavailable

        if name in self.predictor.fast:
            raise GradCamUnavailable(f"{name}: its Keras model is still loading")

        return GradCam.for_model(name, self.models[name])

    def _register_gradcam(self, name: str) -> None:
        self.batcher.register(
            ("gradcam", name),
            self._gradcam_fn(name),
            priority=1,
            after_quiet_s=self.GRADCAM_AFTER_QUIET_S,
        )

    def _gradcam_fn(self, name: str):
        def heatmaps(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
            if name not in self._cams:  # not warmed up (yet): the worker builds its own
                self._cams.setdefault(name, self._new_cam(name))
            return self._cams[name](images, targets).heatmaps

        return heatmaps


def _check(name: str, graph, verify: tuple[np.ndarray, np.ndarray], what: str) -> None:
    """Raise ``ArtifactError`` unless ``graph`` reproduces the artifact's stored probabilities
    of ``verify`` = (uint8 test images, stored probabilities) within 1e-3."""
    images, stored = verify
    answer = graph(scale(images))
    probs = np.asarray(answer[0] if isinstance(answer, (list, tuple)) else answer)
    stored = stored[: len(images)]
    if probs.shape != stored.shape or not np.allclose(probs, stored, atol=1e-3):
        raise artifacts.ArtifactError(
            f"{name}: its {what} does not reproduce its stored test predictions "
            "(the model and its metrics come from different runs)"
        )


def compiled(model, judge: ood.Judge | None = None):
    """``model`` as one compiled TensorFlow graph (``core.models.graph.compiled``).

    With the ``judge`` of unfamiliar images, the graph gives [probabilities, the features its
    score needs] (``core.analysis.ood.serving_model``).
    """
    parts = judge and tuple(name for name, _ in judge.scorer.layout)
    return graph.compiled(ood.serving_model(model, parts) if parts else model)


def order_for_warm_up(names: list[str], root=None) -> list[str]:
    """``names`` smallest model file first: loading and tracing grow with the model, so the
    fast models answer first while the large ones still warm up."""

    def size(name: str) -> int:
        path = artifacts.Artifact(name, root).model_path
        try:
            return path.stat().st_size
        except OSError:
            return 1 << 62

    return sorted(names, key=size)

"""The models warming up one by one, each answering as soon as it is warm.

A fresh server used to answer an upload only once all six models were loaded, checked and
traced (~44 s here). ``start`` loads them in a background thread, smallest (fastest) first,
and adds each to one shared ``SharedPredictor`` the moment its prediction graph is traced: the
Live page shows the answers of the warm models and "warming up" for the rest. The ImageNet
gate of unfamiliar images comes right after the first model: loaded first, on a server busy
drawing its first page, it held the first answer back by 5 s, and until it is there the Live
page says that the answers are not checked yet. The Grad-CAM graphs are traced after every
model answers; the ready file (``core.serving.readiness``) is written after that.

Models with a fast-start copy (``core.serving.fast_start``, made once by ``python -m
core.fast_start``) answer with it before all of that, within seconds of the start; their Keras
models load behind them for Grad-CAM, and the traced graph takes over where the copy is not
clearly faster. Until the model the gate is combined with has its graph (the copy gives no
score), the answers count as not checked yet. Once warm, the server makes the copies that are
missing, for its next start.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from core.serving import readiness
from core.serving.background import checkpoint, in_background
from core.store import artifacts


@dataclass
class Warming:
    """``shared`` answers with the models warm so far; ``future`` holds (shared, failures)
    once every model is (the dashboard's earlier interface, kept for its callers)."""

    shared: object  # SharedPredictor
    order: list[str]  # the models, in the order they warm up
    failures: dict[str, str] = field(default_factory=dict)
    future: Future = field(default_factory=Future)
    gate_loaded: bool = False  # the unfamiliar-image gate's load was tried (it may be None)
    # Fast-start copies that did not reproduce their stored predictions: {model: why}.
    copies_refused: dict[str, str] = field(default_factory=dict)

    def pending(self) -> list[str]:
        """The models neither answering yet nor failed, in warm-up order."""
        return [n for n in self.order if n not in self.shared.models and n not in self.failures]

    def done(self) -> bool:
        return self.future.done()

    def gate_warming(self) -> bool:
        """Whether uploads answered now miss part of the unfamiliar-image check still loading:
        the gate, or the score of the model it is combined with (a fast-start copy gives none)."""
        judge = self.shared.predictor.judge
        judge_fast = judge is not None and judge.model in self.shared.predictor.fast
        return (not self.gate_loaded or judge_fast) and not self.done()

    def result(self, timeout: float | None = None):
        return self.future.result(timeout=timeout)

    def add_done_callback(self, fn: Callable[[Future], None]) -> None:
        self.future.add_done_callback(fn)


def _stored(name: str, root: str, check) -> tuple[np.ndarray, np.ndarray] | None:
    """(test images, stored probabilities) to check ``name`` against, if it was trained on the
    dataset of ``check`` = (dataset id, test images)."""
    art = artifacts.Artifact(name, root)
    if check is None or art.config().get("dataset", {}).get("id") != check[0]:
        return None
    return check[1], art.predictions()["probs"]


def _answer_with_copy(warming: Warming, name: str, root: str, check_images) -> None:
    """Let ``name``'s fast-start copy answer, if it has one that passes the check (a function
    of its own: a copy the traced graph takes over from later must not stay referenced)."""
    from core.serving import fast_start

    copy = fast_start.load(name, root)
    if copy is None:
        return
    try:
        warming.shared.add_fast(name, copy, _stored(name, root, check_images()))
    except artifacts.ArtifactError as exc:
        warming.copies_refused[name] = str(exc)  # its Keras model answers instead


def start(
    names: list[str],
    root: str,
    verify_with: Callable[[], tuple[str, np.ndarray] | None] = lambda: None,
) -> Warming:
    """Start warming ``names`` (shown in this order) from the artifacts in ``root``.

    ``verify_with()`` gives (dataset id, its first test images) to check each model file against
    its stored predictions (``Predictor.from_artifacts``), or None. Stoppable between steps
    (``core.serving.background``): a server stopped during the warm-up exits at once.
    """
    from core.analysis import imagenet_gate, ood
    from core.serving import fast_start
    from core.serving.predictor import Predictor, SharedPredictor, order_for_warm_up

    # The judge is the model the ImageNet gate's rule was chosen with (a small json, read now);
    # the gate's own network loads first in the background.
    rule = imagenet_gate.Gate.load(root)
    own = rule.present_model if rule is not None else None
    judge = ood.Judge.from_artifacts([own] if own in names else list(names), root)
    shared = SharedPredictor(Predictor({}, judge, expected=tuple(names)))
    warming = Warming(shared, order_for_warm_up(names, root))

    def run():
        from core.serving.unfamiliar import GateRunner

        def load_gate():
            checkpoint()
            shared.predictor.gate = shared.gate = GateRunner.load(root)
            warming.gate_loaded = True

        # The test images to check each model against are read while the first model loads
        # (its load imports TensorFlow, seconds on a fresh server).
        check_images = in_background(verify_with, name="test images for the warm-up")
        # Fast-start copies first: every model that has one answers within seconds, before
        # TensorFlow is even imported; its Keras model loads below.
        for name in warming.order:
            checkpoint()
            _answer_with_copy(warming, name, root, check_images.result)
        for name in warming.order:
            checkpoint()
            model, reason = Predictor.load_one(name, root)
            if model is None:
                warming.failures[name] = reason
                shared.predictor.withdraw(name)  # a copy of a model that fails answers nothing
                continue
            checkpoint()
            try:
                shared.add(name, model, _stored(name, root, check_images.result()))
            except artifacts.ArtifactError as exc:
                warming.failures[name] = f"broken: {exc}"
                shared.predictor.withdraw(name)
            if not warming.gate_loaded:  # after the first model: it answers sooner
                load_gate()
        if names and not warming.gate_loaded:
            load_gate()
        warming.gate_loaded = True
        shared.warm_up(between=checkpoint)  # the Grad-CAM graphs, once everything answers
        fast_start.release_memory()  # of the copies the traced graphs took over from
        readiness.mark_ready(list(shared.models), warming.failures, str(root))
        fast_start.build_in_background(list(shared.models), root)  # for the next start
        return shared, warming.failures

    warming.future = in_background(run, name="models warm-up")
    return warming

"""Classify uploaded files with every loaded model: decoding, top-k and agreement in one place.

The dashboard's live page and its tests call ``classify_files``; bad files come back with a
one-line error (from ``core.data.images``) while the good ones are still classified, and a model
that fails leaves the other models' answers standing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from core.analysis import ood
from core.data.images import decode_many, one_line
from core.serving.batcher import Busy
from core.serving.predictor import Prediction, Predictor, SharedPredictor
from core.serving.unfamiliar import Flag

# The first line of an error TensorFlow raised from a compiled graph.
_GRAPH_ERROR = "Graph execution error:"

# Per upload in the dashboard (each file may be up to core.data.images.MAX_BYTES).
MAX_FILES: int = 20


@dataclass(frozen=True)
class Classified:
    name: str
    image: np.ndarray | None  # (32, 32, 3) float32 in [0, 1]: what the models see
    error: str | None
    top: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # model -> top-k
    failed: dict[str, str] = field(default_factory=dict)  # model -> why it gave no answer
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # model -> all 10 probabilities
    # How unlike CIFAR-10 it is: the ImageNet gate with the own score (core.serving.unfamiliar),
    # or the own score alone (core.analysis.ood) without a gate; None if not judged.
    unfamiliar: Flag | ood.Verdict | None = None

    @property
    def top1(self) -> dict[str, str]:
        return {model: top[0][0] for model, top in self.top.items() if top}

    @property
    def agree(self) -> bool | None:
        """Whether every model picks the same class (None with fewer than two models)."""
        picks = set(self.top1.values())
        return None if len(self.top1) < 2 else len(picks) == 1


def classify_files(
    predictor: Predictor | SharedPredictor,
    files: Iterable[tuple[str, bytes | str | os.PathLike]],
    k: int = 3,
    max_files: int | None = None,
    models: Iterable[str] | None = None,
) -> list[Classified]:
    """Decode every (name, bytes or path) and run ``predictor``'s models (only ``models``, when
    given: a page's picker) on the good ones.

    Files past ``max_files`` are refused, not decoded. A ``SharedPredictor`` that is too busy
    (``core.serving.batcher.Busy``) gives every good file that one-line reason instead of answers.
    """
    files = list(files)
    extra = files[max_files:] if max_files is not None else []
    gate = getattr(predictor, "gate", None)
    decoded = decode_many(files[: len(files) - len(extra)], gate.gate_input if gate else None)
    good = [d for d in decoded if d.array is not None]
    probs, busy, likeness = {}, None, None
    if good and predictor.models and (models is None or list(models)):
        try:
            batch = np.stack([d.array for d in good])
            probs = (
                predictor.predict_each(batch)
                if models is None
                else predictor.predict_each(batch, models=list(models))
            )
        except Busy as exc:
            busy = str(exc)
        if gate is not None and not busy:
            likeness = gate.likeness(np.stack([d.also for d in good]))
    scores, judge = probs.pop(ood.SCORE_KEY, None), getattr(predictor, "judge", None)
    results, row = [], 0
    for d in decoded:
        if d.array is None or busy:
            results.append(Classified(d.name, d.array, d.error or busy))
            continue
        answered = {m: p for m, p in probs.items() if not isinstance(p, BaseException)}
        top = {model: Prediction(model, p[row]).top(k) for model, p in answered.items()}
        failed = {m: _reason(e) for m, e in probs.items() if isinstance(e, BaseException)}
        probs_row = {model: p[row] for model, p in answered.items()}
        verdict = judge.verdict(scores[row]) if judge and scores is not None else None
        if likeness is not None:
            verdict = gate.flag(likeness[row], verdict)
        results.append(Classified(d.name, d.array, None, top, failed, probs_row, verdict))
        row += 1
    for name, _ in extra:
        results.append(
            Classified(
                str(name),
                None,
                f"{one_line(str(name))}: not classified, at most {max_files} images per upload "
                f"(this one has {len(files)})",
            )
        )
    return results


def _reason(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    if lines[:1] == [_GRAPH_ERROR]:
        # A compiled graph's error lists where its failing op was defined ("Detected at node
        # ...", indented frames), then the op's own message: the reason worth one line.
        lines = [x for x in lines[1:] if not x.startswith((" ", "Detected at node", "<stack"))]
    first_line = (lines or [""])[0][:200]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__

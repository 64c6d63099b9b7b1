"""Classify uploaded files with every loaded model: decoding, top-k and agreement in one place.

The dashboard's live page and its tests call ``classify_files``; bad files come back with a
one-line error (from ``core.images``) while the good ones are still classified.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from core.images import decode_many
from core.predictor import Prediction, Predictor


@dataclass(frozen=True)
class Classified:
    name: str
    image: np.ndarray | None  # (32, 32, 3) float32 in [0, 1]: what the models see
    error: str | None
    top: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # model -> top-k

    @property
    def top1(self) -> dict[str, str]:
        return {model: top[0][0] for model, top in self.top.items() if top}

    @property
    def agree(self) -> bool | None:
        """Whether every model picks the same class (None with fewer than two models)."""
        picks = set(self.top1.values())
        return None if len(self.top1) < 2 else len(picks) == 1


def classify_files(
    predictor: Predictor, files: Iterable[tuple[str, bytes | str | os.PathLike]], k: int = 3
) -> list[Classified]:
    """Decode every (name, bytes or path) and run all of ``predictor``'s models on the good ones."""
    decoded = decode_many(files)
    good = [d for d in decoded if d.array is not None]
    probs = (
        predictor.predict(np.stack([d.array for d in good])) if good and predictor.models else {}
    )
    results, row = [], 0
    for d in decoded:
        if d.array is None:
            results.append(Classified(d.name, None, d.error))
            continue
        top = {model: Prediction(model, p[row]).top(k) for model, p in probs.items()}
        results.append(Classified(d.name, d.array, None, top))
        row += 1
    return results

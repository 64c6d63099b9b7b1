"""Where does it fail? The most confident wrong answers, and test labels that may be wrong.

    confident_mistakes(y_true, probs_by_model, model, true_class=None, predicted_class=None,
                       min_confidence=0.0, max_confidence=1.0) -> DataFrame
    possibly_mislabelled(y_true, probs_by_model, min_confidence=0.9) -> DataFrame

``probs_by_model`` maps model names to their stored test probabilities (N, 10), all over the
same test images in the same order. Each returned row is one test image: ``row`` (its index in
the test set), ``true`` and, for every model, ``<model>`` (its answer, a class name) and
``<model> confidence`` (the probability it gave that answer), most confident first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.cifar10 import CLASS_NAMES


def _check(y_true: np.ndarray, probs_by_model: dict[str, np.ndarray]) -> None:
    if not probs_by_model:
        raise ValueError("no model predictions given")
    for name, probs in probs_by_model.items():
        if np.shape(probs) != (len(y_true), len(CLASS_NAMES)):
            raise ValueError(
                f"{name}'s predictions {np.shape(probs)} do not cover the {len(y_true):,} "
                "test images"
            )


def answers(
    rows: np.ndarray, y_true: np.ndarray, probs_by_model: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Every model's answer and confidence on the test images ``rows``."""
    table = pd.DataFrame({"row": rows, "true": [CLASS_NAMES[k] for k in np.asarray(y_true)[rows]]})
    for name, probs in probs_by_model.items():
        picked = np.asarray(probs)[rows]
        table[name] = [CLASS_NAMES[k] for k in picked.argmax(axis=1)]
        table[f"{name} confidence"] = picked.max(axis=1).astype(float)
    return table


def confident_mistakes(
    y_true: np.ndarray,
    probs_by_model: dict[str, np.ndarray],
    model: str,
    true_class: int | None = None,
    predicted_class: int | None = None,
    min_confidence: float = 0.0,
    max_confidence: float = 1.0,
) -> pd.DataFrame:
    """``model``'s wrong answers, most confident first, filtered by true class, predicted class
    and the confidence of the wrong answer (inclusive range)."""
    y_true = np.asarray(y_true)
    _check(y_true, probs_by_model)
    probs = np.asarray(probs_by_model[model])
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    keep = (predicted != y_true) & (confidence >= min_confidence) & (confidence <= max_confidence)
    if true_class is not None:
        keep &= y_true == true_class
    if predicted_class is not None:
        keep &= predicted == predicted_class
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(-confidence[rows], kind="stable")]
    return answers(rows, y_true, probs_by_model)


def possibly_mislabelled(
    y_true: np.ndarray, probs_by_model: dict[str, np.ndarray], min_confidence: float = 0.9
) -> pd.DataFrame:
    """Test images on which every model gives the same answer, other than the label, each with
    at least ``min_confidence``; the surest first (by the least confident model's confidence).

    With one model this is just its confident mistakes; the more independent models agree, the
    likelier the label itself is wrong.
    """
    y_true = np.asarray(y_true)
    _check(y_true, probs_by_model)
    stacked = np.stack([np.asarray(p) for p in probs_by_model.values()])  # (models, N, classes)
    predicted, confidence = stacked.argmax(axis=2), stacked.max(axis=2)
    agreed = (predicted == predicted[0]).all(axis=0)
    keep = agreed & (predicted[0] != y_true) & (confidence.min(axis=0) >= min_confidence)
    rows = np.flatnonzero(keep)
    weakest = confidence.min(axis=0)[rows]
    rows = rows[np.argsort(-weakest, kind="stable")]
    table = answers(rows, y_true, probs_by_model)
    table.insert(2, "agreed answer", [CLASS_NAMES[k] for k in predicted[0][rows]])
    table.insert(3, "lowest confidence", confidence.min(axis=0)[rows].astype(float))
    return table

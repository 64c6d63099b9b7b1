"""Is a difference between two models real? Bootstrap intervals and McNemar's exact test.

    bootstrap_interval(y_true, y_pred_or_probs, "accuracy", n_boot=1000, seed=0) -> (low, high)
    headline_intervals(y_true, probs) -> {"accuracy": (low, high), "f1_macro": (low, high)}
    mcnemar(y_true, pred_a, pred_b) -> McNemar (.table 2x2, .p_value, .sentence("A", "B"))

Predictions may be given as class indices (N,) or probabilities (N, classes); probabilities are
turned into their argmax. Intervals are percentile bootstrap intervals over the test images
(``scipy.stats.bootstrap``, paired resampling of (label, prediction), seeded), so the same
inputs always give the same interval. Macro F1 follows ``core.training.evaluate``: scikit-learn's
definition over all ten classes, 0 for a class that is never predicted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, bootstrap

from core.data.cifar10 import NUM_CLASSES

Metric = Callable[..., np.ndarray]


def as_labels(y_pred_or_probs: np.ndarray) -> np.ndarray:
    """Class indices from class indices or from (N, classes) probabilities."""
    arr = np.asarray(y_pred_or_probs)
    return arr.argmax(axis=1) if arr.ndim == 2 else arr.astype(np.int64)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, axis: int = -1) -> np.ndarray:
    """Share of correct answers along ``axis`` (vectorised over bootstrap resamples)."""
    return np.mean(y_true == y_pred, axis=axis)


def f1_macro(
    y_true: np.ndarray, y_pred: np.ndarray, axis: int = -1, n_classes: int = NUM_CLASSES
) -> np.ndarray:
    """Macro F1 along ``axis``, equal to scikit-learn's ``f1_score(average="macro")`` over all
    ``n_classes`` labels with ``zero_division=0`` (vectorised over bootstrap resamples)."""
    scores = []
    for k in range(n_classes):
        is_true, is_pred = y_true == k, y_pred == k
        tp = np.sum(is_true & is_pred, axis=axis)
        denominator = np.sum(is_true, axis=axis) + np.sum(is_pred, axis=axis)  # 2tp + fp + fn
        scores.append(
            np.divide(2.0 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
        )
    return np.mean(scores, axis=0)


METRICS: dict[str, Metric] = {"accuracy": accuracy, "f1_macro": f1_macro}


def bootstrap_interval(
    y_true: np.ndarray,
    y_pred_or_probs: np.ndarray,
    metric: str | Metric = "accuracy",
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over the test images.

    ``metric`` is "accuracy", "f1_macro" or a function ``f(y_true, y_pred, axis=-1)`` that is
    vectorised along ``axis``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = as_labels(y_pred_or_probs)
    if len(y_true) != len(y_pred) or len(y_true) < 2:
        raise ValueError(f"need two or more paired rows, got {len(y_true)} and {len(y_pred)}")
    statistic = METRICS[metric] if isinstance(metric, str) else metric
    result = bootstrap(
        (y_true, y_pred),
        statistic,
        n_resamples=n_boot,
        batch=100,  # 100 resamples of 10,000 rows at a time: a few MB
        vectorized=True,
        paired=True,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def headline_intervals(
    y_true: np.ndarray, probs: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % intervals of the numbers shown for every model: accuracy and macro F1."""
    return {m: bootstrap_interval(y_true, probs, m, n_boot=n_boot, seed=seed) for m in METRICS}


def format_interval(value: float, interval: tuple[float, float], digits: int = 4) -> str:
    """``0.9020 [0.8961, 0.9078]``."""
    low, high = interval
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_p(p: float) -> str:
    """A p-value as people read it, with its relation: ``p = 0.031``, ``p = 2.4e-05``,
    ``p < 1e-300`` (never "p = < 1e-300")."""
    if p < 1e-300:
        return "p < 1e-300"
    return "p = " + (f"{p:.2g}" if p < 0.001 else f"{p:.3f}".rstrip("0").rstrip("."))


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two models on the same test images.

    ``table[i][j]``: images where model A is right (i=0) or wrong (i=1) and model B is right
    (j=0) or wrong (j=1). Only the discordant cells matter: under "equally good", each image
    that exactly one model gets right is equally likely to be A's or B's, so ``p_value`` is the
    two-sided binomial test of ``only_a_right`` out of ``only_a_right + only_b_right``.
    """

    table: tuple[tuple[int, int], tuple[int, int]]
    p_value: float

    @property
    def only_a_right(self) -> int:
        return self.table[0][1]

    @property
    def only_b_right(self) -> int:
        return self.table[1][0]

    @property
    def n(self) -> int:
        return sum(map(sum, self.table))

    def sentence(self, name_a: str = "Model A", name_b: str = "Model B") -> str:
        """The result in one plain sentence."""
        a, b = self.only_a_right, self.only_b_right
        if a == b == 0:
            return (
                f"{name_a} and {name_b} get exactly the same test images right, so this test "
                "sees no difference between them (p = 1)."
            )
        if a == b:
            return (
                f"Neither {name_a} nor {name_b} is better on this test set: of the {a + b:,} "
                f"images only one of them gets right, each gets {a:,} (p = 1)."
            )
        better, worse, won, lost = (name_a, name_b, a, b) if a > b else (name_b, name_a, b, a)
        chance = (
            f"a difference this large would arise by chance with probability "
            f"{format_p(self.p_value)}"
        )
        if self.p_value >= 0.05:
            chance += f", so it may well be luck rather than {better} being better"
        return (
            f"{better} is better than {worse} on this test set (right on {won:,} images "
            f"{worse} gets wrong, wrong on {lost:,} it gets right); {chance}."
        )


def mcnemar(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> McNemar:
    """McNemar's exact test; predictions as class indices or probabilities."""
    y_true = np.asarray(y_true, dtype=np.int64)
    right_a, right_b = as_labels(pred_a) == y_true, as_labels(pred_b) == y_true
    if not len(right_a) == len(right_b) == len(y_true):
        raise ValueError("the two models were evaluated on different test sets")
    table = (
        (int(np.sum(right_a & right_b)), int(np.sum(right_a & ~right_b))),
        (int(np.sum(~right_a & right_b)), int(np.sum(~right_a & ~right_b))),
    )
    discordant = table[0][1] + table[1][0]
    p_value = binomtest(table[0][1], discordant, 0.5).pvalue if discordant else 1.0
    return McNemar(table, float(min(1.0, p_value)))

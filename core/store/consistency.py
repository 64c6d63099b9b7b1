"""Does an artifact agree with itself? Its metrics with its stored predictions, its model with
them. One home for these checks, used by ``core.store.artifacts`` (status, verify) and by the
``core.training.evaluate`` command."""

from __future__ import annotations

import numpy as np

from core.data.cifar10 import NUM_CLASSES, scale
from core.store.metrics import compute_metrics, metrics_differences


def metrics_mismatches(
    stored: dict, y_true: np.ndarray, probs: np.ndarray, rel_tol: float = 0.0
) -> tuple[dict, list[str]]:
    """(metrics recomputed from the predictions, how the stored ones differ from them)."""
    recomputed = compute_metrics(y_true, probs)
    return recomputed, metrics_differences(stored, recomputed, rel_tol=rel_tol)


def headline_mismatches(
    stored: dict, y_true: np.ndarray, probs: np.ndarray, rel_tol: float = 0.0
) -> list[str]:
    """How the stored test count, accuracy and confusion matrix differ from the predictions'.

    NumPy only, for the artifact's status, which every page shows first: scikit-learn takes
    about a second to import. The matrix fixes every per-class and macro figure; ``python -m
    core.evaluate`` recomputes all of them with scikit-learn (``metrics_mismatches``).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(probs).argmax(axis=1)
    recomputed = {
        "n_test": int(len(y_true)),
        "accuracy": float(np.mean(y_pred == y_true)),
        "confusion_matrix": np.bincount(y_true * NUM_CLASSES + y_pred, minlength=NUM_CLASSES**2)
        .reshape(NUM_CLASSES, NUM_CLASSES)
        .tolist(),
    }
    return metrics_differences({k: stored.get(k) for k in recomputed}, recomputed, rel_tol)


def model_mismatch(model, test_images: np.ndarray, stored_probs: np.ndarray, atol: float) -> bool:
    """Whether ``model`` fails to reproduce ``stored_probs`` on uint8 ``test_images``."""
    probs = np.asarray(model(scale(test_images), training=False))
    stored = stored_probs[: len(test_images)]
    return probs.shape != stored.shape or not np.allclose(probs, stored, atol=atol)

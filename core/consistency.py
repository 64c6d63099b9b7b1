"""Does an artifact agree with itself? Its metrics with its stored predictions, its model with
them. One home for these checks, used by ``core.artifacts`` (status, verify) and by the
``core.evaluate`` command."""

from __future__ import annotations

import numpy as np

from core.data import scale
from core.metrics import compute_metrics, metrics_differences


def metrics_mismatches(
    stored: dict, y_true: np.ndarray, probs: np.ndarray, rel_tol: float = 0.0
) -> tuple[dict, list[str]]:
    """(metrics recomputed from the predictions, how the stored ones differ from them)."""
    recomputed = compute_metrics(y_true, probs)
    return recomputed, metrics_differences(stored, recomputed, rel_tol=rel_tol)


def model_mismatch(model, test_images: np.ndarray, stored_probs: np.ndarray, atol: float) -> bool:
    """Whether ``model`` fails to reproduce ``stored_probs`` on uint8 ``test_images``."""
    probs = np.asarray(model(scale(test_images), training=False))
    stored = stored_probs[: len(test_images)]
    return probs.shape != stored.shape or not np.allclose(probs, stored, atol=atol)

"""Every metric the product shows, computed by scikit-learn from true labels and probabilities.

Pure functions on arrays and dicts: no artifacts, no models, so every module can use them.
"""

from __future__ import annotations

import math

import numpy as np

from core.data.cifar10 import CLASS_NAMES, NUM_CLASSES, one_hot


def compute_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Every metric the product shows, from true labels and softmax probabilities.

    ``reference_style`` reproduces how the reference reported precision/recall: Keras'
    ``Precision()``/``Recall()`` on the softmax outputs, thresholded at 0.5 and pooled over
    classes, with F1 = 2PR/(P+R). It sits beside ours so comparisons are like for like.
    """
    # Imported here: scikit-learn (with SciPy) takes about a second to import, and the
    # dashboard's first page shows stored metrics without computing any.
    from sklearn import metrics as sk

    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax sums drift from 1
    labels = list(range(NUM_CLASSES))
    y_pred = probs.argmax(axis=1)
    per_p, per_r, per_f, support = sk.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    averaged = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = sk.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        averaged[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}

    truth, above = one_hot(y_true).astype(int), (probs > 0.5).astype(int)
    ref_p = float(sk.precision_score(truth, above, average="micro", zero_division=0))
    ref_r = float(sk.recall_score(truth, above, average="micro", zero_division=0))
    ref_f1 = 2 * ref_p * ref_r / (ref_p + ref_r) if ref_p + ref_r else 0.0

    return {
        "n_test": int(len(y_true)),
        "loss": float(sk.log_loss(y_true, probs, labels=labels)),
        "accuracy": float(sk.accuracy_score(y_true, y_pred)),
        "top3_accuracy": float(sk.top_k_accuracy_score(y_true, probs, k=3, labels=labels)),
        "precision_macro": averaged["macro"]["precision"],
        "recall_macro": averaged["macro"]["recall"],
        "f1_macro": averaged["macro"]["f1"],
        "precision_weighted": averaged["weighted"]["precision"],
        "recall_weighted": averaged["weighted"]["recall"],
        "f1_weighted": averaged["weighted"]["f1"],
        "reference_style": {"precision": ref_p, "recall": ref_r, "f1": float(ref_f1)},
        "per_class": {
            name: {
                "precision": float(per_p[i]),
                "recall": float(per_r[i]),
                "f1": float(per_f[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(CLASS_NAMES)
        },
        "confusion_matrix": sk.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def metrics_differences(
    stored: dict, recomputed: dict, rel_tol: float = 0.0, prefix=""
) -> list[str]:
    """Keys whose values differ between two metric dicts (exactly, or beyond ``rel_tol``)."""
    diffs = []
    for key in sorted(set(stored) | set(recomputed)):
        a, b = stored.get(key), recomputed.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += metrics_differences(a, b, rel_tol, f"{prefix}{key}.")
        elif isinstance(a, float) and isinstance(b, float) and rel_tol:
            if not math.isclose(a, b, rel_tol=rel_tol):
                diffs.append(f"{prefix}{key}: stored {a!r}, recomputed {b!r}")
        elif a != b:
            diffs.append(f"{prefix}{key}: stored {a!r}, recomputed {b!r}")
    return diffs

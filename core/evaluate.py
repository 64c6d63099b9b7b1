"""Metrics from stored test-set probabilities, all computed by scikit-learn.

``python -m core.evaluate MODEL`` recomputes every metric of an artifact from its stored
probabilities and checks the result against its ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    top_k_accuracy_score,
)

from core.data import CLASS_NAMES, NUM_CLASSES, one_hot


def compute_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Every metric the product shows, from true labels and softmax probabilities.

    ``reference_style`` reproduces how the reference reported precision/recall: Keras'
    ``Precision()``/``Recall()`` on the softmax outputs, thresholded at 0.5 and pooled over
    classes, with F1 = 2PR/(P+R). It sits beside ours so comparisons are like for like.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax sums drift from 1
    labels = list(range(NUM_CLASSES))
    y_pred = probs.argmax(axis=1)
    per_p, per_r, per_f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    averaged = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        averaged[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}

    truth, above = one_hot(y_true).astype(int), (probs > 0.5).astype(int)
    ref_p = float(precision_score(truth, above, average="micro", zero_division=0))
    ref_r = float(recall_score(truth, above, average="micro", zero_division=0))
    ref_f1 = 2 * ref_p * ref_r / (ref_p + ref_r) if ref_p + ref_r else 0.0

    return {
        "n_test": int(len(y_true)),
        "loss": float(log_loss(y_true, probs, labels=labels)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "top3_accuracy": float(top_k_accuracy_score(y_true, probs, k=3, labels=labels)),
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
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
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


def format_report(name: str, metrics: dict) -> str:
    lines = [
        f"{name}: {metrics['n_test']} test images",
        f"  loss {metrics['loss']:.4f}  accuracy {metrics['accuracy']:.4f}  "
        f"top-3 {metrics['top3_accuracy']:.4f}",
        f"  macro     precision {metrics['precision_macro']:.4f}  recall "
        f"{metrics['recall_macro']:.4f}  F1 {metrics['f1_macro']:.4f}",
        f"  weighted  precision {metrics['precision_weighted']:.4f}  recall "
        f"{metrics['recall_weighted']:.4f}  F1 {metrics['f1_weighted']:.4f}",
        "  reference-style (Keras Precision/Recall at 0.5, pooled): precision "
        f"{metrics['reference_style']['precision']:.4f}  recall "
        f"{metrics['reference_style']['recall']:.4f}  F1 {metrics['reference_style']['f1']:.4f}",
        f"  {'class':<11}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>9}",
    ]
    for cls, m in metrics["per_class"].items():
        lines.append(
            f"  {cls:<11}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}"
            f"{m['support']:>9}"
        )
    lines.append("  confusion matrix (rows: true, columns: predicted)")
    lines += ["  " + " ".join(f"{v:>5}" for v in row) for row in metrics["confusion_matrix"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from core import artifacts

    parser = argparse.ArgumentParser(prog="python -m core.evaluate", description=__doc__)
    parser.add_argument("model", help="model name (an artifacts/ folder)")
    parser.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = parser.parse_args(argv)

    try:
        art = artifacts.Artifact(args.model, args.artifacts)
        predictions = art.predictions()
        stored = art.metrics()
    except artifacts.ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    recomputed = compute_metrics(predictions["y_true"], predictions["probs"])
    print(json.dumps(recomputed, indent=2) if args.json else format_report(args.model, recomputed))
    diffs = metrics_differences(stored, recomputed)
    if diffs:
        print(f"MISMATCH with {art.path / 'metrics.json'}:", *diffs, sep="\n  ", file=sys.stderr)
        return 1
    print(f"matches {art.path / 'metrics.json'} exactly", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

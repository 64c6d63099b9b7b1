"""Metrics from stored test-set probabilities, all computed by scikit-learn.

``python -m core.evaluate MODEL`` recomputes every metric of an artifact from its stored
probabilities and checks the result against its ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.store import artifacts
from core.store.consistency import metrics_mismatches
from core.store.metrics import compute_metrics  # noqa: F401  (the metric formulas, re-exported)


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
    parser = argparse.ArgumentParser(prog="python -m core.evaluate", description=__doc__)
    parser.add_argument("model", help="model name (an artifacts/ folder)")
    parser.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)

    try:
        art = artifacts.Artifact(args.model, args.artifacts)
        predictions = art.predictions()
        stored = art.metrics()
    except artifacts.ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    recomputed, diffs = metrics_mismatches(stored, predictions["y_true"], predictions["probs"])
    print(json.dumps(recomputed, indent=2) if args.json else format_report(args.model, recomputed))
    if diffs:
        print(f"MISMATCH with {art.path / 'metrics.json'}:", *diffs, sep="\n  ", file=sys.stderr)
        return 1
    print(f"matches {art.path / 'metrics.json'} exactly", file=sys.stderr)
    return 0

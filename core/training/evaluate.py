"""Metrics from stored test-set probabilities, all computed by scikit-learn.

``python -m core.evaluate MODEL`` recomputes every metric of an artifact from its stored
probabilities and checks the result against its ``metrics.json``.

``python -m core.evaluate --images DIR`` evaluates every trained model on your own labelled
photos: DIR (or a ``.zip``) holds one sub-folder per class name (airplane, automobile, ...);
unreadable files are skipped and counted. With ``--json``: ``{"images": N, "skipped": K,
"models": {NAME: {"accuracy": ..., "accuracy_95ci": [low, high], ...}}, "mcnemar": [...],
"worst": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.data.uploads import BatchError, labelled
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
    parser = argparse.ArgumentParser(
        prog="python -m core.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", nargs="?", help="model name (an artifacts/ folder)")
    parser.add_argument(
        "--images",
        metavar="DIR",
        help="your labelled photos: a folder or .zip with one sub-folder per class name",
    )
    parser.add_argument("--models", help="with --images: comma-separated model names")
    parser.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)
    if (args.model is None) == (args.images is None):
        parser.error("give a MODEL to check, or --images DIR to evaluate your photos")
    if args.images is not None:
        return _own_photos(args)

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


def _own_photos(args) -> int:
    """``--images``: every (or each named) trained model on a labelled folder or zip."""
    from core.serving.batch import evaluate_labelled, terminal_progress
    from core.serving.predictor import Predictor
    from core.store.catalog import list_models

    try:
        entries = labelled(args.images)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.models.split(",")] if args.models else None
    known = list_models(args.artifacts)
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        print(
            f"error: unknown model(s) {', '.join(unknown)}; choose from {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    predictor, failed = Predictor.from_artifacts(names, args.artifacts)
    for name, reason in failed.items():
        if names:
            print(f"error: model {name} is {reason}", file=sys.stderr)
    if not predictor.models:
        print(
            "error: no trained model is available; train one with python -m core.train",
            file=sys.stderr,
        )
        return 2
    result, _ = evaluate_labelled(predictor, entries, progress=terminal_progress(len(entries)))
    for skipped in result["skipped_files"]:
        print(f"skipped: {skipped['reason']}", file=sys.stderr)
    if result["images"] == 0:
        print(f"error: no readable image in {args.images}", file=sys.stderr)
        return 2
    for name in result["models"]:
        try:
            cifar = artifacts.Artifact(name, args.artifacts).metrics()
        except artifacts.ArtifactError:
            continue
        result["models"][name]["cifar10_test_accuracy"] = cifar.get("accuracy")
    print(json.dumps(result, indent=2) if args.json else format_own_photos(result))
    return 0


def format_own_photos(result: dict) -> str:
    """The ``--images`` result as text: a line per model, McNemar's sentences, the worst images."""
    lines = [
        f"{result['images']} images evaluated, {result['skipped']} skipped, "
        f"{result['unfamiliar']} flagged as unfamiliar"
    ]
    width = max(len(n) for n in result["models"])
    for name, m in result["models"].items():
        ci = m["accuracy_95ci"]
        interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        cifar = m.get("cifar10_test_accuracy")
        shift = f"  (CIFAR-10 test {cifar:.3f})" if cifar is not None else ""
        lines.append(
            f"  {name:<{width}}  accuracy {m['accuracy']:.3f}{interval}  macro F1 "
            f"{m['f1_macro']:.3f}{shift}"
        )
    if result["mcnemar"]:
        lines.append("McNemar's exact test, every pair:")
        lines += [f"  {pair['sentence']}" for pair in result["mcnemar"]]
    if result["worst"]:
        lines.append("hardest images (most models wrong, then least sure of the true class):")
        for w in result["worst"]:
            answers = ", ".join(f"{n} {a['class']}" for n, a in w["answers"].items())
            lines.append(f"  {w['file']} ({w['label']}): {answers}")
    return "\n".join(lines)

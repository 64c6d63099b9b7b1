"""Classify image files with the trained models.

    python -m core.predict IMAGE... [--models a,b] [--top-k 3] [--json | --csv]

IMAGE may be a file, a folder (every file below it), a glob ("shots/**/*.png", quoted) or a
``.zip``. Images of any common format and size go through ``core.data.images`` (the same
validated path as the dashboard's uploads). A file that cannot be classified gets a one-line
error (and, with --csv, a row that says why); the others are still classified, and the exit
status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.data.uploads import gather
from core.serving.batch import classify_batch, table_rows, terminal_progress, to_csv
from core.serving.predictor import Predictor
from core.store.catalog import list_models


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "images",
        nargs="+",
        help="image files (JPEG, PNG, WebP, BMP, GIF), folders, globs or .zip archives",
    )
    parser.add_argument("--models", help="comma-separated model names (default: all trained)")
    parser.add_argument("--top-k", type=int, default=3)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print results as JSON")
    output.add_argument(
        "--csv",
        action="store_true",
        help="print a CSV table: a header, then one row per image (unreadable ones say why)",
    )
    parser.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    return parser


def _as_json(res) -> dict:
    """One classified file as the --json output gives it."""
    if res.error:
        return {"file": res.name, "error": res.error}
    return {
        "file": res.name,
        "predictions": {
            m: [{"class": c, "probability": round(p, 6)} for c, p in top]
            for m, top in res.top.items()
        },
        **(res.unfamiliar.as_json() if res.unfamiliar else {}),
        **({"failed": res.failed} if res.failed else {}),
    }


def _print_result(res, width: int) -> None:
    """One classified file as text: a line per model, its answers in a column ``width``
    characters after the model names' start."""
    print(res.name)
    if res.unfamiliar and res.unfamiliar.unfamiliar:
        print(f"  warning: {res.unfamiliar.message()}")
    for m, top in res.top.items():
        shown = ", ".join(f"{c} {p:.1%}" for c, p in top)
        print(f"  {m:<{width}} {shown}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
        if names:  # models asked for by name must be usable; absent defaults are just skipped
            print(f"error: model {name} is {reason}", file=sys.stderr)
    if not predictor.models:
        print(
            "error: no trained model is available; train one with python -m core.train",
            file=sys.stderr,
        )
        return 2

    width = max(len(name) for name in predictor.models)
    entries = gather(args.images)
    bar = terminal_progress(len(entries))
    results = []
    classified = classify_batch(predictor, entries, k=args.top_k, progress=bar)
    for res in classified:
        results.append(_as_json(res))
        if res.error:
            print(f"error: {res.error}", file=sys.stderr)
            continue
        for model, reason in res.failed.items():
            print(f"error: {res.name}: model {model} failed ({reason})", file=sys.stderr)
        if not args.json and not args.csv:
            _print_result(res, width)
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.csv:
        sys.stdout.write(to_csv(table_rows(classified, predictor.models)))
    failures = any("error" in r or "failed" in r for r in results)
    return 1 if failures or (names and failed) else 0

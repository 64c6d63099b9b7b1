"""Validation pilot: ResNet50 transfer's recipe against variants of it, on a subset.

    python bench/resnet50_pilot.py --data PATH [--variant="--shift 0.2" ...] [--train 6000]

Each ``--variant`` is a string of ``python -m core.train`` options applied to the registry
recipe ("" is the recipe itself; the default compares the recipe with ``--tune-batchnorm``).
Every variant runs ``core.train``'s own cached-feature path on the same seeded subset of
``--train`` training images, a sixth of them held out for validation, for ``--epochs`` epochs
after the head-only one, and prints each epoch's validation accuracy, the head-only epoch
first. Uses no test image. The cached maps go to a temporary folder, deleted at the end.
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from core.training import runspec, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--variant", action="append", help='core.train options, e.g. "--shift 0.2"')
    parser.add_argument("--train", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2, help="epochs after the head-only one")
    args = parser.parse_args()
    common = ["resnet50_transfer", "--data", args.data, "--limit-train", str(args.train)]
    common += ["--val-fraction", repr(1 / 6), "--epochs", str(args.epochs)]
    strategy, split = train.make_strategy("none"), None
    with tempfile.TemporaryDirectory(prefix="resnet50-pilot-") as work:
        for variant in args.variant or ["", "--tune-batchnorm"]:
            spec = runspec.from_arguments(train.parse_args([*common, *shlex.split(variant)]))
            if split is None:
                _, split = train.load_split(spec, 0)
                print(f"{len(split.y_fit)} training, {len(split.y_val)} validation images")
            keras.utils.set_random_seed(spec.seed)
            model = train.build_and_compile(spec, len(split.y_fit), strategy)
            history, stage_times, started = keras.callbacks.History(), {}, time.time()
            callbacks = [keras.callbacks.Callback(), history]  # [0] is skipped by the head stage
            train._fit_on_cached_features(
                model, split, spec, Path(work), callbacks, stage_times, strategy, 0
            )
            row = {
                "variant": variant or "(the recipe)",
                "val_accuracy": [round(v, 4) for v in history.history["val_accuracy"]],
                "train_accuracy": [round(v, 4) for v in history.history["accuracy"]],
                "seconds": round(time.time() - started),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

"""Pilot on the validation split: ResNet50 transfer's fine-tuned blocks with their BatchNorm
statistics frozen (ImageNet's, the shipped recipe) or trained on CIFAR-10 (``--tune-batchnorm``).

    python bench/resnet50_batchnorm.py --data PATH [--train 6000] [--epochs 2]

Runs ``core.train``'s own cached-feature path (the registry recipe: 160 px, cut at
``conv4_block3``, one head-only epoch) on a seeded subset of ``--train`` training images, a
sixth of them held out for validation, once per setting, and prints each epoch's validation
accuracy, the head-only epoch first. Uses no test image. The cached maps go to a temporary
folder, deleted at the end.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from core.training import train  # noqa: E402
from core.training.runspec import RunSpec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--train", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2, help="epochs after the head-only one")
    args = parser.parse_args()
    base = RunSpec.for_model(
        "resnet50_transfer",
        data=args.data,
        limit_train=args.train,
        val_fraction=1 / 6,
        epochs=args.epochs,
    )
    _, split = train.load_split(base, 0)
    print(f"{len(split.y_fit)} training images, {len(split.y_val)} validation images", flush=True)
    strategy = train.make_strategy("none")
    with tempfile.TemporaryDirectory(prefix="resnet50-batchnorm-") as work:
        for tune in (True, False):
            spec = replace(base, tune_batchnorm=tune)
            keras.utils.set_random_seed(spec.seed)
            model = train.build_and_compile(spec, len(split.y_fit), strategy)
            history, stage_times, started = keras.callbacks.History(), {}, time.time()
            callbacks = [keras.callbacks.Callback(), history]  # [0] is skipped by the head stage
            train._fit_on_cached_features(
                model, split, spec, Path(work), callbacks, stage_times, strategy, 0
            )
            row = {
                "tune_batchnorm": tune,
                "val_accuracy_head_only": stage_times["head_only_val_accuracy"],
                "val_accuracy": [round(v, 4) for v in history.history["val_accuracy"]],
                "train_accuracy": [round(v, 4) for v in history.history["accuracy"]],
                "seconds": round(time.time() - started),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

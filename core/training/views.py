"""Choose a trained model's test-time views again, without training it again.

    python -m core.training.views MODEL --data PATH

When a recipe gains candidate views after its artifact was trained (the one-pixel shifts for
ResNet50), the network need not be trained again to weigh them. This loads the artifact's
single-view network, chooses among the recipe's candidate views on the run's own validation
split (``core.training.train.choose_test_time_views``, the rule training applies) and, only if
the choice differs from the shipped one, evaluates the test set once and replaces the artifact:
the same weights, history, training record and embedding map, with the new views. Its
robustness result is then gone: ``python -m core.robustness MODEL`` measures the new views.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import keras

from core.analysis import embedding
from core.data.cifar10 import DataError
from core.models.builders import single_view_network
from core.models.registry import REGISTRY
from core.store import artifacts
from core.training import train
from core.training.lock import TrainingLocked, training_lock
from core.training.runspec import RunSpec

RECHOSEN = "chosen again after training, with python -m core.training.views {model}"
# Computed from the single-view network's features, so the same weights leave them true. The
# robustness result, measured with the shipped views, is not: run python -m core.robustness.
WEIGHTS_ONLY = (embedding.EMBEDDING_NPZ, embedding.EMBEDDING_JSON)


def trained_spec(config: dict, data: str | None = None) -> RunSpec:
    """The run an artifact's config.json records (``data`` replacing its source if given).

    Older artifacts keep only the hyperparameters and seed: their split used the default
    validation fraction."""
    run = config.get("run_spec") or {**config["hyperparameters"], "seed": config["seed"]}
    run = {**run, "model": config["model"]}
    return RunSpec.from_dict({**run, "data": data} if data else run)


def choose_again(
    model: str,
    data: str | None = None,
    *,
    artifacts_dir: str | None = None,
    tta_flip: bool | None = None,
    tta_shift: bool | None = None,
    verbose: int = 1,
) -> tuple[dict, Path | None]:
    """(validation accuracy of each candidate view set, the replaced artifact or None).

    The candidates are the recipe's (``tta_flip``/``tta_shift`` override it). The artifact is
    left as it is, and no test image is read, unless validation picks other views.
    """
    folder = artifacts.artifacts_root(artifacts_dir) / model
    if not (folder / "config.json").exists():
        raise ValueError(f"No trained {model} in {folder.parent}: train it first.")
    with training_lock(model, artifacts_dir):
        config = json.loads((folder / "config.json").read_text())
        recipe = RunSpec.for_model(model, tta_flip=tta_flip, tta_shift=tta_shift)
        spec = replace(
            trained_spec(config, data), tta_flip=recipe.tta_flip, tta_shift=recipe.tta_shift
        )
        dataset, split = train.load_split(spec, verbose)
        body = single_view_network(keras.saving.load_model(folder / "model.keras"))
        checked = time.time()
        shipped, validation, selection, val_probs = train.choose_test_time_views(body, spec, split)
        note = f" ({RECHOSEN.format(model=model)})"  # on a rule this command chose before
        if (
            config["selection"]["test_time_views"].removesuffix(note)
            == selection["test_time_views"]
        ):
            return validation, None
        selection["test_time_views"] += note
        stage_times = dict(config.get("stage_times_s", {}))
        stage_times["validation_s"] = round(time.time() - checked, 1)
        record = {
            "validation": {**config["validation"], **validation},
            "selection": selection,
            "stage_times_s": stage_times,
            "val_probs": val_probs,
            "trained": {key: config[key] for key in ("machine", "versions")},
        }
        history = json.loads((folder / "history.json").read_text())
        target = train.evaluate_and_write(
            spec,
            body,
            shipped,
            dataset,
            split,
            record,
            history,
            config["wall_time_s"],
            artifacts_dir,
            config["command"],
            keep=WEIGHTS_ONLY,
        )
        return validation, target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.training.views", description=__doc__)
    p.add_argument("model", choices=list(REGISTRY))
    p.add_argument("--data", help="the CIFAR-10 source it was trained on (default: config.json's)")
    p.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    args = p.parse_args(argv)
    try:
        validation, target = choose_again(args.model, args.data, artifacts_dir=args.artifacts)
    except (DataError, TrainingLocked, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("validation accuracy:", json.dumps(validation))
    if target is None:
        print("the shipped views are still the best on validation: artifact unchanged")
        return 0
    metrics = json.loads((target / "metrics.json").read_text())
    print(f"artifact written to {target}")
    print(f"its robustness result is for the old views: python -m core.robustness {args.model}")
    print(json.dumps({k: metrics[k] for k in ("accuracy", "f1_macro", "loss")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

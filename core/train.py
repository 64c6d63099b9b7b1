"""Train a model from the zoo and write its artifact.

    python -m core.train MODEL [--epochs N --batch-size B --lr LR --optimizer adam|adamw|sgd
                                --data PATH --resume --distribute mirrored ...]

Each epoch is checkpointed (Keras' ``BackupAndRestore``) in ``artifacts/.work/MODEL/``, so a
killed run continues with ``--resume``. When training ends the model is evaluated on the test
set and ``artifacts/MODEL/`` is replaced atomically with the new artifact.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core import artifacts
from core.augment import AugmentConfig
from core.data import DataError, load_cifar10, one_hot, split_validation, subset
from core.evaluate import compute_metrics
from core.jobs import TrainingLocked, training_lock
from core.models import (
    REGISTRY,
    TrainDefaults,
    WeightsUnavailable,
    get_spec,
    unfreeze_top,
    with_tta,
)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    augment=None,
    shuffle_seed: int | None = None,
    label_smoothing: float = 0.0,
):
    """uint8 images -> batched, scaled (and augmented) ``tf.data`` pipeline."""
    targets = one_hot(labels)
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda x, y: (tf.cast(x, tf.float32) / 255.0, y), num_parallel_calls=tf.data.AUTOTUNE
    )
    if augment is not None:
        ds = ds.map(
            lambda x, y: (tf.clip_by_value(augment(x, training=True), 0.0, 1.0), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def make_optimizer(name: str, lr, weight_decay: float):
    if name == "adam":
        return keras.optimizers.Adam(lr)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=weight_decay or 1e-4)
    if name == "sgd":
        return keras.optimizers.SGD(
            lr, momentum=0.9, nesterov=True, weight_decay=weight_decay or None
        )
    raise ValueError(f"Unknown optimizer {name!r}; choose adam, adamw or sgd.")


def make_schedule(kind: str, lr: float, total_steps: int):
    """A constant rate, or one cycle: linear warm-up over 20% of steps, then cosine to ~0."""
    if kind == "constant":
        return lr
    if kind == "onecycle":
        warmup = max(1, int(0.2 * total_steps))
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr / 10,
            decay_steps=max(1, total_steps - warmup),
            alpha=0.001,
            warmup_target=lr,
            warmup_steps=warmup,
        )
    raise ValueError(f"Unknown schedule {kind!r}; choose constant or onecycle.")


def make_strategy(kind: str):
    """A ``tf.distribute`` strategy: none (default), mirrored (visible GPUs) or multiworker."""
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {kind!r}; choose none, mirrored or multiworker.")


class ProgressLog(keras.callbacks.Callback):
    """Appends one JSON line per epoch (and every few batches) for the dashboard to follow."""

    def __init__(self, path: Path, epochs: int, steps: int, every: int = 20):
        super().__init__()
        self.path, self.epochs, self.steps, self.every = path, epochs, steps, every
        self.epoch = 0
        self.started = time.time()

    def _write(self, record: dict) -> None:
        record["time"] = round(time.time() - self.started, 2)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            self._write(
                {
                    "event": "batch",
                    "epoch": self.epoch,
                    "batch": batch,
                    "steps": self.steps,
                    "epochs": self.epochs,
                    **logs,
                }
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self._write({"event": "epoch", "epoch": epoch, "epochs": self.epochs, **logs})


def _history_saver(path: Path, history: dict, wall_before: float):
    """Callback keeping the per-epoch history (and wall time so far) on disk for ``--resume``."""
    started = time.time()

    def save(epoch, logs):
        for key, value in (logs or {}).items():
            history.setdefault(key, []).append(float(value))
        history["epochs_done"] = epoch + 1
        history["wall_time_s"] = wall_before + time.time() - started
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(history))
        os.replace(tmp, path)

    return keras.callbacks.LambdaCallback(on_epoch_end=save)


def save_for_inference(model: keras.Model, path: Path) -> None:
    """Save the weights and architecture only: no optimizer state (a third of the size)."""
    # Rebuilt from its config: clone_model would carry the compiled optimizer along, and so
    # would a nested model's "compile_config" (a compiled model wrapped for test-time views).
    export = type(model).from_config(_without_compile_config(model.get_config()))
    export.set_weights(model.get_weights())
    export.save(path)


def _without_compile_config(config):
    if isinstance(config, dict):
        return {k: _without_compile_config(v) for k, v in config.items() if k != "compile_config"}
    if isinstance(config, list):
        return [_without_compile_config(v) for v in config]
    return config


def predict_probs(model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    ds = make_dataset(images, np.zeros(len(images), dtype=np.int64), batch_size)
    return model.predict(ds.map(lambda x, y: x), verbose=0).astype(np.float32)


def accuracy_on(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy, rounded to 4 places as config.json reports it."""
    return round(float((predict_probs(model, images).argmax(1) == labels).mean()), 4)


def library_versions() -> dict:
    import sklearn

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def machine_description() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
    }


def model_card(name: str, config: dict, metrics: dict) -> str:
    spec = get_spec(name)
    ref = metrics["reference_style"]
    rows = [
        ("accuracy", metrics["accuracy"]),
        ("top-3 accuracy", metrics["top3_accuracy"]),
        ("loss (cross-entropy)", metrics["loss"]),
        ("precision (macro)", metrics["precision_macro"]),
        ("recall (macro)", metrics["recall_macro"]),
        ("F1 (macro)", metrics["f1_macro"]),
        ("precision (reference style: Keras, threshold 0.5, pooled)", ref["precision"]),
        ("recall (reference style)", ref["recall"]),
        ("F1 (reference style)", ref["f1"]),
    ]
    per_class = "\n".join(
        f"| {cls} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} |"
        for cls, m in metrics["per_class"].items()
    )
    hp = config["hyperparameters"]
    return (
        f"""# {spec.title} (`{name}`)

{spec.description}

## Data
{config["dataset"]["id"]} ({config["dataset"]["source"]}), content hash
`{config["dataset"]["content_hash"][:16]}`: {config["dataset"]["n_fit"]} images to fit,
{config["dataset"]["n_val"]} held out for validation (from the training set), {metrics["n_test"]}
test images, touched only for this report. Numbers measured on the CIFAR-10 JPEG copy are a
close proxy for, not the same as, numbers on the official files.

## Architecture
{config["parameters"]:,} parameters; input 32x32x3 floats in [0, 1], output softmax over the 10
CIFAR-10 classes. Loads with plain `keras.saving.load_model("model.keras")`.

## Training
`{config["command"]}`

Optimizer {hp["optimizer"]}, learning rate {hp["lr"]} ({hp["schedule"]}), batch size
{hp["batch_size"]}, {config["epochs_trained"]} epochs, label smoothing {hp["label_smoothing"]},
weight decay {hp["weight_decay"]}, augmentation {hp["augment"]}, seed {config["seed"]}.
Wall time {config["wall_time_s"] / 60:.1f} min on {config["machine"]["cpu_count"]} CPU cores
({config["machine"]["platform"]}), TensorFlow {config["versions"]["tensorflow"]}.

## Test metrics
| metric | value |
|---|---|
"""
        + "\n".join(f"| {k} | {v:.4f} |" for k, v in rows)
        + f"""

| class | precision | recall | F1 |
|---|---|---|---|
{per_class}
"""
    )


def train(
    name: str,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    optimizer: str | None = None,
    schedule: str | None = None,
    weight_decay: float | None = None,
    label_smoothing: float | None = None,
    augment: AugmentConfig | None = None,
    tta_flip: bool | None = None,
    tta_shift: bool | None = None,
    data: str | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    resume: bool = False,
    distribute: str = "none",
    weights: str | None = "imagenet",
    input_size: int = 128,
    fine_tune_epochs: int = 0,
    fine_tune_layers: int = 30,
    fine_tune_lr: float = 1e-5,
    limit_train: int | None = None,
    limit_test: int | None = None,
    artifacts_dir: str | None = None,
    verbose: int = 1,
    command: str = "",
) -> Path:
    """Train ``name`` and write ``artifacts/<name>/``; returns the artifact folder."""
    spec = get_spec(name)
    d: TrainDefaults = spec.defaults
    hp = replace(
        d,
        epochs=epochs if epochs is not None else d.epochs,
        batch_size=batch_size or d.batch_size,
        lr=lr if lr is not None else d.lr,
        optimizer=optimizer or d.optimizer,
        schedule=schedule or d.schedule,
        weight_decay=weight_decay if weight_decay is not None else d.weight_decay,
        label_smoothing=label_smoothing if label_smoothing is not None else d.label_smoothing,
        augment=augment if augment is not None else d.augment,
        tta_flip=tta_flip if tta_flip is not None else d.tta_flip,
        tta_shift=tta_shift if tta_shift is not None else d.tta_shift,
    )
    with training_lock(name, artifacts_dir):
        run_file = artifacts.work_dir(name, artifacts_dir) / "run.json"
        run = {
            "hp": {**asdict(hp), "augment": hp.augment.to_dict()},
            "data": str(data) if data else None,
            "val_fraction": val_fraction,
            "seed": seed,
            "limit_train": limit_train,
            "limit_test": limit_test,
            "weights": weights,
            "input_size": input_size,
            "fine_tune": [fine_tune_epochs, fine_tune_layers, fine_tune_lr],
        }
        if resume and run_file.exists():
            # Continue the interrupted run exactly as it was started, whatever this call says.
            run = json.loads(run_file.read_text())
            hp = TrainDefaults(**{**run["hp"], "augment": AugmentConfig(**run["hp"]["augment"])})
            data, val_fraction, seed = run["data"], run["val_fraction"], run["seed"]
            limit_train, limit_test = run["limit_train"], run["limit_test"]
            weights, input_size = run["weights"], run["input_size"]
            fine_tune_epochs, fine_tune_layers, fine_tune_lr = run["fine_tune"]
        else:
            run_file.write_text(json.dumps(run, indent=2))
        keras.utils.set_random_seed(seed)
        if os.environ.get("CIFAR10_FAST_CONV", "1") == "1":
            from core import fastconv

            fastconv.install()

        dataset = load_cifar10(data, progress=verbose > 0)
        if limit_train or limit_test:
            dataset = subset(dataset, limit_train, limit_test, seed=seed)
        split = split_validation(dataset.x_train, dataset.y_train, val_fraction, seed=seed)

        work = artifacts.work_dir(name, artifacts_dir)
        backup_dir, history_path = work / "backup", work / "history.json"
        progress_path = work / "progress.jsonl"
        if not resume:
            shutil.rmtree(backup_dir, ignore_errors=True)
            history_path.unlink(missing_ok=True)
            progress_path.unlink(missing_ok=True)
        elif not backup_dir.exists():
            print(
                f"--resume: no checkpoint in {backup_dir}; starting from scratch.", file=sys.stderr
            )
        history = json.loads(history_path.read_text()) if resume and history_path.exists() else {}
        wall_before = history.get("wall_time_s", 0.0)

        strategy = make_strategy(distribute)
        augmenter = None
        if hp.augment.enabled:
            from core.augment import build_augmenter

            augmenter = build_augmenter(hp.augment, seed=seed)
        train_ds = make_dataset(
            split.x_fit, split.y_fit, hp.batch_size, augmenter, shuffle_seed=seed
        )
        val_ds = make_dataset(split.x_val, split.y_val, 500) if len(split.y_val) else None
        steps = int(np.ceil(len(split.y_fit) / hp.batch_size))

        with strategy.scope():
            model = (
                spec.build(weights=weights, input_size=input_size)
                if spec.transfer
                else spec.build()
            )
            model.compile(
                optimizer=make_optimizer(
                    hp.optimizer,
                    make_schedule(hp.schedule, hp.lr, steps * hp.epochs),
                    hp.weight_decay,
                ),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.label_smoothing),
                metrics=["accuracy"],
            )
        callbacks = [
            keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False),
            _history_saver(history_path, history, wall_before),
            ProgressLog(progress_path, hp.epochs + fine_tune_epochs, steps),
        ]
        if d.early_stopping and val_ds is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    "val_accuracy", patience=d.early_stopping, restore_best_weights=True
                )
            )

        started = time.time()
        stage_times: dict[str, float] = {}
        if spec.cached_features:
            _fit_on_cached_features(
                model, split, hp, work, callbacks, stage_times, strategy, seed, verbose
            )
        else:
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=hp.epochs,
                callbacks=callbacks,
                shuffle=False,  # the tf.data pipeline already shuffles
                verbose=verbose,
            )
        if spec.transfer and fine_tune_epochs:
            with strategy.scope():
                unfreeze_top(model, fine_tune_layers)
                model.compile(
                    optimizer=make_optimizer(hp.optimizer, fine_tune_lr, hp.weight_decay),
                    loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.label_smoothing),
                    metrics=["accuracy"],
                )
            model.fit(
                train_ds,
                validation_data=val_ds,
                initial_epoch=hp.epochs,
                epochs=hp.epochs + fine_tune_epochs,
                callbacks=callbacks[1:],
                shuffle=False,
                verbose=verbose,
            )
        wall = wall_before + time.time() - started

        body = model
        stage_times["fit_s"] = round(time.time() - started - stage_times.get("cache_s", 0.0), 1)
        checked = time.time()
        model, validation, selection = _choose_test_time_views(model, hp, split)
        stage_times["validation_s"] = round(time.time() - checked, 1)

        tested = time.time()
        probs = predict_probs(model, dataset.x_test)
        metrics = compute_metrics(dataset.y_test, probs)
        stage_times["test_s"] = round(time.time() - tested, 1)
        hist = {k: v for k, v in history.items() if isinstance(v, list)}
        config = {
            "model": name,
            "command": command or f"python -m core.train {name}",
            "hyperparameters": {
                **asdict(hp),
                "augment": hp.augment.to_dict(),
                "fine_tune_epochs": fine_tune_epochs,
                "fine_tune_layers": fine_tune_layers,
                "fine_tune_lr": fine_tune_lr,
                **({"weights": weights, "input_size": input_size} if spec.transfer else {}),
            },
            "seed": seed,
            "epochs_trained": len(hist.get("loss", [])),
            "parameters": int(body.count_params()),  # the network, not the fixed TTA maps
            "dataset": {
                "id": dataset.dataset_id,
                "source": dataset.source,
                "content_hash": dataset.content_hash,
                "n_fit": int(len(split.y_fit)),
                "n_val": int(len(split.y_val)),
                "n_test": int(len(dataset.y_test)),
            },
            "validation": validation,
            "selection": {**spec.selection, **selection},
            "stage_times_s": stage_times,
            "distribute": distribute,
            "versions": library_versions(),
            "machine": machine_description(),
            "wall_time_s": round(wall, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        model_tmp = work / "model.keras"
        save_for_inference(model, model_tmp)
        target = artifacts.write_artifact(
            name,
            model_tmp,
            metrics,
            hist,
            config,
            dataset.y_test,
            probs,
            model_card(name, config, metrics),
            root=artifacts_dir,
        )
        model_tmp.unlink(missing_ok=True)
        shutil.rmtree(backup_dir, ignore_errors=True)
        history_path.unlink(missing_ok=True)
        return target


def _choose_test_time_views(model, hp: TrainDefaults, split):
    """Wrap ``model`` in the test-time views its recipe allows, each kept only if it raises
    validation accuracy. Returns (model to ship, validation accuracies, the rule applied)."""
    if not len(split.y_val):
        wrapped = with_tta(model, shift=hp.tta_shift) if hp.tta_flip else model
        return wrapped, {}, {"test_time_views": "as configured (no validation split)"}
    validation = {"accuracy": accuracy_on(model, split.x_val, split.y_val)}
    chosen, best, rule = model, validation["accuracy"], "single view"
    if hp.tta_flip:
        flip = with_tta(model)
        validation["accuracy_tta_flip"] = accuracy_on(flip, split.x_val, split.y_val)
        if validation["accuracy_tta_flip"] > best:
            chosen, best, rule = flip, validation["accuracy_tta_flip"], "image + mirror"
        if hp.tta_shift:
            shifted = with_tta(model, shift=True)
            validation["accuracy_tta_flip_shift"] = accuracy_on(shifted, split.x_val, split.y_val)
            if validation["accuracy_tta_flip_shift"] > best:
                chosen, rule = shifted, "image + mirror + one-pixel shifts"
    return (
        chosen,
        validation,
        {"test_time_views": f"{rule}: the candidate views with the best validation accuracy"},
    )


def _fit_on_cached_features(
    model, split, hp, work, callbacks, stage_times, strategy, seed, verbose
):
    """Train the upper part of a transfer model on cached features of its frozen part."""
    from core import finetune
    from core.efficientnet_lite import split_parts

    started = time.time()
    encoder, top = split_parts(model)
    features = finetune.cache_features(encoder, split, work, verbose)
    stage_times["cache_s"] = round(time.time() - started, 1)
    steps = int(np.ceil(len(split.y_fit) / hp.batch_size))
    with strategy.scope():
        top.compile(
            optimizer=make_optimizer(
                hp.optimizer, make_schedule(hp.schedule, hp.lr, steps * hp.epochs), hp.weight_decay
            ),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.label_smoothing),
            metrics=["accuracy"],
        )
    cells = encoder.output_shape[1]
    batches = finetune.FeatureBatches(
        [features["fit"], features["fit_mirror"]] if hp.augment.flip else [features["fit"]],
        split.y_fit,
        hp.batch_size,
        shift_cells=round(hp.augment.shift * cells),
        seed=seed,
    )
    keep_best = finetune.KeepBest()
    validation = (np.asarray(features["val"]), one_hot(split.y_val)) if "val" in features else None
    top.fit(
        batches,
        validation_data=validation,
        epochs=hp.epochs,
        callbacks=[*callbacks, keep_best] if validation else callbacks,
        verbose=verbose,
    )
    if keep_best.weights is not None:
        top.set_weights(keep_best.weights)
        stage_times["best_epoch"] = keep_best.best_epoch + 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m core.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", choices=list(REGISTRY))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="(peak) learning rate")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"])
    p.add_argument("--schedule", choices=["constant", "onecycle"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--rotation", type=float, help="augmentation: max rotation in degrees")
    p.add_argument("--shift", type=float, help="augmentation: max width/height shift (fraction)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, help="augmentation: h-flip")
    p.add_argument("--zoom", type=float, help="augmentation: max zoom (fraction)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument(
        "--tta-flip",
        action=argparse.BooleanOptionalAction,
        help="ship the model averaging its predictions over the image and its mirror",
    )
    p.add_argument(
        "--tta-shift",
        action=argparse.BooleanOptionalAction,
        help="with --tta-flip: also average over both moved one pixel diagonally each way",
    )
    p.add_argument(
        "--data",
        help="CIFAR-10 source: tarball, cifar-10-batches-py/, class folders "
        "or .npz (default: $CIFAR10_DATA, else the official download)",
    )
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--distribute", choices=["none", "mirrored", "multiworker"], default="none")
    p.add_argument(
        "--weights",
        default="imagenet",
        help="transfer models: 'imagenet' (Keras cache/download) or a weights file",
    )
    p.add_argument("--input-size", type=int, default=128, help="transfer models: upscaled size")
    p.add_argument("--fine-tune-epochs", type=int, default=0)
    p.add_argument("--fine-tune-layers", type=int, default=30)
    p.add_argument("--fine-tune-lr", type=float, default=1e-5)
    p.add_argument("--limit-train", type=int, help="use a random subset of the training set")
    p.add_argument("--limit-test", type=int, help="use a random subset of the test set")
    p.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def _augment_from_args(args, default: AugmentConfig) -> AugmentConfig:
    if args.no_augment:
        return AugmentConfig(rotation=0.0, shift=0.0, flip=False, zoom=0.0)
    overrides = {
        k: v
        for k, v in (
            ("rotation", args.rotation),
            ("shift", args.shift),
            ("flip", args.flip),
            ("zoom", args.zoom),
        )
        if v is not None
    }
    return replace(default, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = get_spec(args.model)
    try:
        target = train(
            args.model,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
            schedule=args.schedule,
            weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing,
            augment=_augment_from_args(args, spec.defaults.augment),
            tta_flip=args.tta_flip,
            tta_shift=args.tta_shift,
            data=args.data,
            val_fraction=args.val_fraction,
            seed=args.seed,
            resume=args.resume,
            distribute=args.distribute,
            weights=None if args.weights == "none" else args.weights,
            input_size=args.input_size,
            fine_tune_epochs=args.fine_tune_epochs,
            fine_tune_layers=args.fine_tune_layers,
            fine_tune_lr=args.fine_tune_lr,
            limit_train=args.limit_train,
            limit_test=args.limit_test,
            artifacts_dir=args.artifacts,
            verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
            command="python -m core.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        )
    except (DataError, WeightsUnavailable, TrainingLocked, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"artifact written to {target}")
    print(
        json.dumps(
            {
                k: v
                for k, v in json.loads((target / "metrics.json").read_text()).items()
                if k in ("accuracy", "f1_macro", "loss")
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

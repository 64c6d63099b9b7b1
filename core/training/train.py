"""Train a model from the zoo and write its artifact.

    python -m core.train MODEL [--epochs N --batch-size B --lr LR --optimizer adam|adamw|sgd
                                --data PATH --resume --distribute mirrored ...]

Every option is a field of ``core.training.runspec.RunSpec``; unset ones follow the model's recipe.

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
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.analysis import calibration
from core.data.cifar10 import (
    Cifar10,
    DataError,
    Split,
    load_cifar10,
    one_hot,
    split_validation,
    subset,
)
from core.io.progress import PROGRESS_FILE, read_history
from core.models.builders import with_tta
from core.models.imagenet import set_batchnorm_trainable
from core.models.registry import REGISTRY, get_spec
from core.store import artifacts
from core.store.metrics import compute_metrics
from core.store.model_card import model_card
from core.training import fastconv, multiworker, runspec
from core.training.lock import TrainingLocked, training_lock
from core.training.runspec import RunSpec
from core.weights.torch_reader import WeightsFileError


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
        # core.data.cifar10.scale, as a TensorFlow op inside the pipeline
        lambda x, y: (tf.cast(x, tf.float32) / 255.0, y),
        num_parallel_calls=tf.data.AUTOTUNE,
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
        return multiworker.strategy()
    raise ValueError(f"Unknown strategy {kind!r}; choose none, mirrored or multiworker.")


class ProgressLog(keras.callbacks.Callback):
    """The run's one log, ``progress.jsonl``: a JSON line per epoch (and every few batches),
    appended to across ``--resume``. ``core.io.progress`` reads it, for the Train page and for the
    artifact's history.json."""

    def __init__(self, path: Path, epochs: int, steps: int, wall_before: float = 0.0, every=20):
        super().__init__()
        self.path, self.epochs, self.steps, self.every = path, epochs, steps, every
        self.epoch = 0
        self.started, self.wall_before = time.time(), wall_before

    def _write(self, record: dict) -> None:
        record["time"] = round(time.time() - self.started, 2)
        record["wall_s"] = round(self.wall_before + time.time() - self.started, 2)
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


RUN_FILE = "run.json"


def train(
    spec: RunSpec,
    *,
    resume: bool = False,
    artifacts_dir: str | None = None,
    verbose: int = 1,
    command: str | None = None,
) -> Path:
    """Run ``spec`` and write ``artifacts/<model>/``; returns the artifact folder."""
    with training_lock(spec.model, artifacts_dir):
        work = artifacts.work_dir(spec.model, artifacts_dir)
        spec = _run_spec(spec, work, resume)
        keras.utils.set_random_seed(spec.seed)
        dataset, split = load_split(spec, verbose)
        wall_before = _prepare_work(work, resume)
        strategy = make_strategy(spec.distribute)
        model = build_and_compile(spec, len(split.y_fit), strategy)
        started, stage_times = time.time(), {}
        fast_conv = os.environ.get("CIFAR10_FAST_CONV", "1") == "1"
        with fastconv.enabled(fast_conv):
            fit(model, spec, split, work, wall_before, stage_times, strategy, verbose)
        wall = wall_before + time.time() - started
        stage_times["fit_s"] = round(time.time() - started - stage_times.get("cache_s", 0.0), 1)
        checked = time.time()
        shipped, validation, selection, val_probs = choose_test_time_views(model, spec, split)
        if "head_only_val_accuracy" in stage_times:  # the reference's recipe, as a figure
            validation["accuracy_frozen_backbone"] = stage_times.pop("head_only_val_accuracy")
        stage_times["validation_s"] = round(time.time() - checked, 1)
        record = {
            "validation": validation,
            "selection": selection,
            "stage_times_s": stage_times,
            "val_probs": val_probs,
        }
        history, _ = read_history(work / PROGRESS_FILE)
        target = evaluate_and_write(
            spec, model, shipped, dataset, split, record, history, wall, artifacts_dir, command
        )
        shutil.rmtree(work / "backup", ignore_errors=True)
        return target


def _run_spec(spec: RunSpec, work: Path, resume: bool) -> RunSpec:
    """The spec to run: with ``resume``, the interrupted run's own (saved when it started)."""
    path = work / RUN_FILE
    if resume and path.exists():
        return RunSpec.from_dict(json.loads(path.read_text()))
    path.write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    return spec


def load_split(spec: RunSpec, verbose: int) -> tuple[Cifar10, Split]:
    """The data source (or a subset of it for quick runs) and its validation hold-out."""
    dataset = load_cifar10(spec.data, progress=verbose > 0)
    if spec.limit_train or spec.limit_test:
        dataset = subset(dataset, spec.limit_train, spec.limit_test, seed=spec.seed)
    split = split_validation(dataset.x_train, dataset.y_train, spec.val_fraction, seed=spec.seed)
    return dataset, split


def _prepare_work(work: Path, resume: bool) -> float:
    """Clear a previous run's checkpoints (unless resuming); returns the wall time so far."""
    backup, progress = work / "backup", work / PROGRESS_FILE
    if not resume:
        shutil.rmtree(backup, ignore_errors=True)
        progress.unlink(missing_ok=True)
        return 0.0
    if not backup.exists():
        print(f"--resume: no checkpoint in {backup}; starting from scratch.", file=sys.stderr)
    return read_history(progress)[1]


def _steps(spec: RunSpec, n_fit: int) -> int:
    """Batches per epoch."""
    return int(np.ceil(n_fit / spec.batch_size))


def _schedule(spec: RunSpec, n_fit: int):
    """The learning rate over the whole run (what the optimizer is compiled with)."""
    return make_schedule(spec.schedule, spec.lr, _steps(spec, n_fit) * spec.epochs)


def build_and_compile(spec: RunSpec, n_fit: int, strategy) -> keras.Model:
    model_spec = get_spec(spec.model)
    with strategy.scope():
        if model_spec.transfer:
            model = model_spec.build(
                weights=spec.weights, input_size=spec.input_size, cut=spec.frozen_cut
            )
        else:
            model = model_spec.build()
        if not model_spec.cached_features:  # that path compiles its own training wrapper
            _compile(model, spec, _schedule(spec, n_fit))
    if spec.distribute == "multiworker":
        multiworker.allow_multiworker_fit(model)
    return model


def _compile(model: keras.Model, spec: RunSpec, lr) -> None:
    model.compile(
        optimizer=make_optimizer(spec.optimizer, lr, spec.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=spec.label_smoothing),
        metrics=["accuracy"],
    )


def _callbacks(spec: RunSpec, work: Path, wall_before: float, steps: int) -> list:
    total = spec.head_epochs + spec.epochs
    return [
        keras.callbacks.BackupAndRestore(str(work / "backup"), delete_checkpoint=False),
        ProgressLog(work / PROGRESS_FILE, total, steps, wall_before),
    ]


def fit(model, spec: RunSpec, split, work, wall_before, stage_times, strategy, verbose) -> None:
    """Fit ``model`` in place: on cached features, or on (augmented) images."""
    callbacks = _callbacks(spec, work, wall_before, _steps(spec, len(split.y_fit)))
    if get_spec(spec.model).cached_features:
        _fit_on_cached_features(model, split, spec, work, callbacks, stage_times, strategy, verbose)
        return
    augmenter = None
    if spec.augment.enabled:
        from core.data.augment import build_augmenter

        augmenter = build_augmenter(spec.augment, seed=spec.seed)
    train_ds = make_dataset(
        split.x_fit, split.y_fit, spec.batch_size, augmenter, shuffle_seed=spec.seed
    )
    val_ds = make_dataset(split.x_val, split.y_val, 500) if len(split.y_val) else None
    if spec.early_stopping and val_ds is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                "val_accuracy", patience=spec.early_stopping, restore_best_weights=True
            )
        )
    kwargs = dict(validation_data=val_ds, shuffle=False, verbose=verbose)  # tf.data shuffles
    model.fit(train_ds, epochs=spec.epochs, callbacks=callbacks, **kwargs)


def evaluate_and_write(
    spec: RunSpec,
    body,
    shipped,
    dataset,
    split,
    record,
    history,
    wall,
    artifacts_dir,
    command,
    keep: tuple[str, ...] = (),
) -> Path:
    """Test-set metrics of the shipped model (the only look at the test set); the artifact,
    with ``keep``'s files carried over from the old one."""
    tested = time.time()
    probs = predict_probs(shipped, dataset.x_test)
    metrics = compute_metrics(dataset.y_test, probs)
    record["stage_times_s"]["test_s"] = round(time.time() - tested, 1)
    work = artifacts.work_dir(spec.model, artifacts_dir)
    config = run_config(spec, body, dataset, split, record, history, wall, command)
    config.update(record.get("trained", {}))  # a model trained earlier: its machine, versions
    model_tmp = work / "model.keras"
    save_for_inference(shipped, model_tmp)
    target = artifacts.write_artifact(
        spec.model,
        model_tmp,
        metrics,
        history,
        config,
        dataset.y_test,
        probs,
        model_card(spec.model, config, metrics),
        root=artifacts_dir,
        keep=keep,
    )
    model_tmp.unlink(missing_ok=True)
    if record["val_probs"] is not None:  # for calibration, fitted on validation only
        calibration.write_val_predictions(target, split.y_val, record["val_probs"])
        calibration.write_calibration(spec.model, artifacts_dir)
    return target


def run_config(spec: RunSpec, body, dataset, split, record, history, wall, command) -> dict:
    """config.json: the run spec, how its settings were chosen, data, versions, machine, time."""
    model_spec = get_spec(spec.model)
    return {
        "model": spec.model,
        "command": command or spec.command(),
        "run_spec": spec.to_dict(),
        "hyperparameters": {
            k: v
            for k, v in spec.to_dict().items()
            if k not in ("model", "data", "val_fraction", "seed", "distribute")
        },
        "seed": spec.seed,
        "val_fraction": spec.val_fraction,
        "epochs_trained": len(history.get("loss", [])),
        "parameters": int(body.count_params()),  # the network, not the fixed test-time views
        "dataset": {
            "id": dataset.dataset_id,
            "source": dataset.source,
            "content_hash": dataset.content_hash,
            "n_fit": int(len(split.y_fit)),
            "n_val": int(len(split.y_val)),
            "n_test": int(len(dataset.y_test)),
        },
        "validation": record["validation"],
        "selection": {**model_spec.selection, **record["selection"]},
        "stage_times_s": record["stage_times_s"],
        "distribute": spec.distribute,
        "versions": library_versions(),
        "machine": machine_description(),
        "wall_time_s": round(wall, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def choose_test_time_views(model: keras.Model, spec: RunSpec, split: Split):
    """Wrap ``model`` in the test-time views its recipe allows, each kept only if it raises
    validation accuracy. Returns (model to ship, validation accuracies, the rule applied, the
    shipped model's validation probabilities or None)."""
    if not len(split.y_val):
        wrapped = with_tta(model, shift=spec.tta_shift) if spec.tta_flip else model
        return wrapped, {}, {"test_time_views": "as configured (no validation split)"}, None

    def scored(candidate):
        probs = predict_probs(candidate, split.x_val)
        return round(float((probs.argmax(1) == split.y_val).mean()), 4), probs

    validation, chosen, rule = {}, model, "single view"
    validation["accuracy"], val_probs = scored(model)
    best = validation["accuracy"]
    candidates = []
    if spec.tta_flip:
        candidates.append(("accuracy_tta_flip", "image + mirror", False))
        if spec.tta_shift:
            shift_rule = "image + mirror + one-pixel shifts"
            candidates.append(("accuracy_tta_flip_shift", shift_rule, True))
    for key, description, shift in candidates:
        wrapped = with_tta(model, shift=shift)
        validation[key], probs = scored(wrapped)
        if validation[key] > best:
            chosen, best, rule, val_probs = wrapped, validation[key], description, probs
    selection = {
        "test_time_views": f"{rule}: the candidate views with the best validation accuracy"
    }
    return chosen, validation, selection, val_probs


def _fit_on_cached_features(model, split, spec, work, callbacks, stage_times, strategy, verbose):
    """Train the upper part of a transfer model on cached features of its frozen part.

    With ``head_epochs``, the new head first trains alone on the frozen backbone (the
    reference's recipe; its validation accuracy is kept), then the upper blocks join it.
    """
    from core.training import finetune

    started = time.time()
    encoder, trainer = finetune.split_parts(model)
    features = finetune.cache_features(encoder, split, work, verbose)
    stage_times["cache_s"] = round(time.time() - started, 1)
    views = [features["fit"], features["fit_mirror"]] if spec.augment.flip else [features["fit"]]
    cells = encoder.output_shape[1]
    batches = finetune.FeatureBatches(
        views, split.y_fit, spec.batch_size, round(spec.augment.shift * cells), spec.seed
    )
    validation = (np.asarray(features["val"]), one_hot(split.y_val)) if "val" in features else None
    kwargs = dict(validation_data=validation, verbose=verbose)
    tuned, head_epochs = trainer.layers[1], spec.head_epochs
    if head_epochs:
        tuned.trainable = False
        with strategy.scope():
            _compile(trainer, spec, spec.lr)
        trainer.fit(batches, epochs=head_epochs, callbacks=callbacks[1:], **kwargs)
        if validation is not None:
            accuracy = trainer.evaluate(*validation, verbose=0, return_dict=True)["accuracy"]
            stage_times["head_only_val_accuracy"] = round(float(accuracy), 4)
        tuned.trainable = True
    set_batchnorm_trainable(tuned, spec.tune_batchnorm)
    with strategy.scope():
        _compile(trainer, spec, _schedule(spec, len(split.y_fit)))
    keep_best = finetune.KeepBest()
    trainer.fit(
        batches,
        initial_epoch=head_epochs,
        epochs=head_epochs + spec.epochs,
        callbacks=[*callbacks, keep_best] if validation else callbacks,
        **kwargs,
    )
    if keep_best.weights is not None:
        trainer.set_weights(keep_best.weights)
        stage_times["best_epoch"] = keep_best.best_epoch + 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m core.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", choices=list(REGISTRY))
    runspec.add_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--artifacts", help="artifacts folder (default: ./artifacts)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.distribute == "multiworker" and not multiworker.is_chief():
        # Only the chief takes the lock and writes the artifact; the others write into scratch.
        with tempfile.TemporaryDirectory(prefix=f"{args.model}-worker-") as scratch:
            args.artifacts = scratch
            return _run(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    spec = runspec.from_arguments(args)
    try:
        target = train(
            spec,
            resume=args.resume,
            artifacts_dir=args.artifacts,
            verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
            command=spec.command(["--resume"] if args.resume else []),
        )
    except (DataError, WeightsFileError, TrainingLocked, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"artifact written to {target}")
    metrics = json.loads((target / "metrics.json").read_text())
    print(json.dumps({k: metrics[k] for k in ("accuracy", "f1_macro", "loss")}))
    return 0

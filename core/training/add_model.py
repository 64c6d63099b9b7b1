"""Add a model trained elsewhere to the studio, beside the shipped ones.

    python -m core.add_model FILE --name NAME [--title T] [--input-scale auto|unit|byte|
        symmetric|imagenet|caffe] [--classes c0,...,c9] [--replace] [--data PATH] [--unsafe]
        [--skip robustness,ood,embedding]
    python -m core.add_model --remove NAME

FILE is a Keras 3 ``.keras`` file, a legacy full-model ``.h5``, a TensorFlow SavedModel folder or
a ``.tflite`` file (at most 200 MiB). The import checks the file without running it, evaluates
it on the studio's validation split (``split_validation``, 10 %, seed 0, as training holds out)
to choose the input scaling and to refuse a model in another class order or near chance, then
writes a full artifact under the artifacts root: predictions, metrics, calibration, robustness,
unfamiliar-image statistics, the embedding map, latency, a model card that says **imported**.
It is assembled in a hidden staging folder inside the root and renamed into place at the end,
so an import killed at any moment leaves no half artifact. A refusal prints one line and exits
with status 2, having written nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.data.cifar10 import (
    CLASS_NAMES,
    DataError,
    Split,
    load_cifar10,
    scale,
    split_validation,
)
from core.io import progress as progress_log
from core.models.model_file import MAX_BYTES, ModelFileError
from core.models.scaling import SCALINGS
from core.store import artifacts, catalog
from core.training.import_choice import (
    ImportRefused,
    check_name,
    choose_scaling,
    output_kind,
    parse_classes,
)
from core.training.import_network import Network, open_network
from core.training.lock import TrainingLocked, pid_alive, training_lock

SEED, VAL_FRACTION = 0, 0.1  # the split core.training.train holds out by default
CHOOSE_N = 2_000  # validation images the best two candidate scalings are scored on
SCREEN_N = 500  # ... and every candidate
ANALYSES = ("robustness", "ood", "embedding")
STAGING = ".{name}.import-{pid}-"


@dataclass
class Request:
    """What to import and how (the command line's options)."""

    file: str
    name: str
    title: str | None = None
    input_scale: str = "auto"
    classes: str | None = None
    replace: bool = False
    data: str | None = None
    unsafe: bool = False
    skip: tuple[str, ...] = ()
    root: str | None = None

    def command(self) -> str:
        """The command as config.json records it: the file's name, never a machine's path."""
        parts = ["python", "-m", "core.add_model", Path(self.file).name, "--name", self.name]
        for flag, value in (
            ("--title", self.title),
            ("--classes", self.classes),
            ("--input-scale", None if self.input_scale == "auto" else self.input_scale),
            ("--skip", ",".join(self.skip) or None),
        ):
            if value:
                parts += [flag, value]
        parts += ["--unsafe"] if self.unsafe else []
        parts += ["--replace"] if self.replace else []
        return " ".join(shlex.quote(p) if " " in p else p for p in parts)


@dataclass
class Progress:
    """Stage lines on the terminal and records for ``core.io.progress`` readers, kept in
    memory until the work folder may be written (a refused import writes nothing)."""

    stages: tuple[str, ...]
    echo: bool = True
    # Called with (step, steps, label) before each stage: the dashboard's progress bar, and
    # its stop-checkpoint (it may raise to stop the import; the staging folder is removed).
    on_stage: Callable[[int, int, str], None] | None = None
    path: Path | None = None
    started: float = field(default_factory=time.time)
    records: list[dict] = field(default_factory=list)

    def stage(self, label: str, note: str = "") -> None:
        step = self.stages.index(label)
        if self.on_stage is not None:
            self.on_stage(step, len(self.stages), label)
        if self.echo:
            elapsed = time.time() - self.started
            shown = f"{label}: {note}" if note else label
            print(f"[{step + 1}/{len(self.stages)}] {shown} ({elapsed:.0f} s)", flush=True)
        record = {
            "event": "batch",
            "epoch": 0,
            "epochs": 1,
            "batch": step,
            "steps": len(self.stages),
            "stage": label,
            "wall_s": round(time.time() - self.started, 2),
        }
        self.records.append(record)
        if self.path is not None:
            progress_log.append(self.path, record)

    def write_to(self, path: Path) -> None:
        """From now on, records go to ``path`` too (the ones so far first)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        for record in self.records:
            progress_log.append(path, record)
        self.path = path


STAGES = (
    "checking the file",
    "loading the data",
    "choosing the input scaling",
    "predicting validation and test images",
    "calibration",
    "robustness",
    "unfamiliar images",
    "embedding map",
    "latency and Grad-CAM",
    "writing the artifact",
)


def add_model(
    request: Request,
    echo: bool = True,
    on_stage: Callable[[int, int, str], None] | None = None,
) -> dict:
    """Import ``request.file`` as ``request.name``; returns the artifact's config.json.
    ``on_stage(step, steps, label)`` is called before each stage (``Progress.on_stage``).

    Raises ``ModelFileError``, ``ImportRefused``, ``DataError`` or ``TrainingLocked`` (one line
    each) before anything is written under the artifacts root."""
    started = time.time()
    log = Progress(STAGES, echo, on_stage)
    check_name(request.name, request.root, request.replace)
    unknown = sorted(set(request.skip) - set(ANALYSES))
    if unknown:
        raise ImportRefused(f"--skip takes {', '.join(ANALYSES)}; not {', '.join(unknown)}")
    order = parse_classes(request.classes) if request.classes else None
    if request.input_scale != "auto" and request.input_scale not in SCALINGS:
        raise ImportRefused(f"--input-scale must be auto or one of {', '.join(SCALINGS)}")

    log.stage("checking the file")
    network = open_network(request.file, request.unsafe)
    log.stage("loading the data")
    dataset = load_cifar10(request.data, progress=echo)
    split = split_validation(dataset.x_train, dataset.y_train, VAL_FRACTION, seed=SEED)
    log.stage("choosing the input scaling")
    decided = decide(network, split, request.input_scale, order)

    root = artifacts.artifacts_root(request.root)
    root.mkdir(parents=True, exist_ok=True)
    with training_lock(request.name, request.root):
        log.write_to(artifacts.work_dir(request.name, request.root) / progress_log.PROGRESS_FILE)
        return _write(request, network, decided, dataset, split, log, started)


@dataclass(frozen=True)
class Decided:
    scaling: str
    how: str
    candidates: dict  # scaling -> {"title", "accuracy"}
    kind: str  # "probabilities" or "logits"
    evidence: str
    order: list[int] | None


def decide(network: Network, split: Split, input_scale: str, order: list[int] | None) -> Decided:
    """Score the candidate scalings on validation images; the choice, or a refusal.

    Every candidate is scored on the first ``SCREEN_N`` images (enough to refuse a permuted
    or chance-level model), the best two on the first ``CHOOSE_N``: a wrong scaling is far
    behind, and each pass costs as much as a twentieth of the whole import."""
    n = min(CHOOSE_N, len(split.y_val))
    x, y = scale(split.x_val[:n]), split.y_val[:n]
    wanted = list(SCALINGS) if input_scale == "auto" else [input_scale]
    titles = {s: SCALINGS[s].title for s in SCALINGS}

    def outputs_of(s: str, rows: slice) -> np.ndarray:
        raw = network.raw_outputs(x[rows], s)
        return raw[:, order] if order is not None else raw

    screen = min(SCREEN_N, n) if len(wanted) > 2 else n
    outputs = {s: outputs_of(s, slice(0, screen)) for s in wanted}
    screened = choose_scaling(outputs, y[:screen], titles)  # refuses permuted or chance models
    scored = {s: screen for s in wanted}
    finalists = sorted(wanted, key=lambda s: -screened.accuracy[s])[:2]
    if screen < n:
        for s in finalists:
            outputs[s] = np.concatenate([outputs[s], outputs_of(s, slice(screen, n))])
            scored[s] = n
    choice = choose_scaling({s: outputs[s] for s in finalists}, y, titles)
    kind, evidence = output_kind(outputs[choice.scaling])
    how = (
        f"the best of {len(wanted)} conventions on the first {n:,} validation images "
        f"(--input-scale auto; the others were left behind after the first {screen:,})"
        if input_scale == "auto"
        else f"given with --input-scale {input_scale} (scored on {n:,} validation images)"
    )
    accuracy = screened.accuracy | choice.accuracy
    candidates = {
        s: {"title": titles[s], "accuracy": round(accuracy[s], 4), "n": scored[s]} for s in wanted
    }
    return Decided(choice.scaling, how, candidates, kind, evidence, order)


def _clear_stale_staging(root: Path, name: str) -> None:
    """Remove staging folders of imports of ``name`` whose process is gone."""
    for folder in root.glob(f".{name}.import-*-*"):
        pid = folder.name.split("-")[1] if folder.name.count("-") >= 2 else ""
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _write(request: Request, network, decided: Decided, dataset, split, log, started) -> dict:
    root = artifacts.artifacts_root(request.root)
    _clear_stale_staging(root, request.name)
    prefix = STAGING.format(name=request.name, pid=os.getpid())
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        samples = root / "test_images.npz"
        if samples.is_file():  # the analyses read the root's test images, as for the others
            (staging / samples.name).symlink_to(samples.resolve())
        config = _assemble(request, network, decided, dataset, split, log, staging, started)
        log.stage("writing the artifact")
        artifacts.swap_in(staging / request.name, root / request.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return config


def _assemble(request, network, decided, dataset, split, log, staging: Path, started) -> dict:
    """The complete artifact in ``staging/NAME``: model, predictions, metrics, analyses."""
    from core.analysis import calibration
    from core.store.metrics import compute_metrics
    from core.store.model_card import model_card

    log.stage("predicting validation and test images")
    stored = network.stored_model(
        decided.scaling, decided.kind == "logits", decided.order, request.name
    )
    filename = network.save(stored, staging)
    config = _config(request, network, decided, dataset, split, filename)
    # Predictions come from the stored file as the studio loads it, not the model in memory.
    model = artifacts.load_model_file(staging / filename, config["imported"], request.name)
    val_probs = _predict(model, split.x_val)
    test_probs = _predict(model, dataset.x_test)
    metrics = compute_metrics(dataset.y_test, test_probs)
    val_accuracy = float((val_probs.argmax(axis=1) == split.y_val).mean())
    config["validation"] = {"accuracy": round(val_accuracy, 4)}
    analyses = config["imported"]["analyses"]
    target = artifacts.write_artifact(
        request.name,
        staging / filename,
        metrics,
        {},
        config,
        dataset.y_test,
        test_probs,
        "",  # the card and config.json are rewritten once latency and time are known
        root=staging,
        model_filename=filename,
    )
    (staging / filename).unlink()
    calibration.write_val_predictions(target, split.y_val, val_probs)
    log.stage("calibration")
    calibration.write_calibration(request.name, staging)
    analyses["calibration"] = "done"
    _analyses(request, staging, log, analyses, dataset.dataset_id)
    log.stage("latency and Grad-CAM")
    config["imported"].update(_latency_and_gradcam(request.name, model))
    config["imported"]["seconds"] = round(time.time() - started, 1)
    config["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (target / artifacts.CONFIG_FILE).write_text(_json(config))
    (target / artifacts.CARD_FILE).write_text(model_card(request.name, config, metrics))
    return config


def _json(payload: dict) -> str:
    import json

    return json.dumps(payload, indent=2, default=str) + "\n"


def _predict(model, images: np.ndarray, batch: int = 250) -> np.ndarray:
    from core.models.graph import compiled

    graph = compiled(model)
    parts = [
        np.asarray(graph(scale(images[i : i + batch])), np.float32)
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(parts)


def _config(request, network: Network, decided: Decided, dataset, split, filename) -> dict:
    from core.training.train import library_versions, machine_description

    found = network.found
    classes = (
        [CLASS_NAMES[decided.order.index(j)] for j in range(len(CLASS_NAMES))]
        if decided.order is not None
        else list(CLASS_NAMES)
    )
    return {
        "model": request.name,
        "command": request.command(),
        "parameters": network.parameters,
        "seed": SEED,
        "val_fraction": VAL_FRACTION,
        "epochs_trained": None,
        "wall_time_s": None,  # not trained here: the import's time is imported.seconds
        "dataset": {
            "id": dataset.dataset_id,
            "source": Path(dataset.source).name,
            "content_hash": dataset.content_hash,
            "n_fit": int(len(split.y_fit)),
            "n_val": int(len(split.y_val)),
            "n_test": int(len(dataset.y_test)),
        },
        "imported": {
            **found.describe(),
            "title": request.title or request.name,
            "added": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "stored_as": filename,
            "safe_mode": not request.unsafe,
            "input_shape": list(network.input_shape),
            "input_size": list(network.input_size),
            "scaling": {
                "chosen": decided.scaling,
                "title": SCALINGS[decided.scaling].title,
                "how": decided.how,
                "candidates": decided.candidates,
            },
            "outputs": {
                "kind": decided.kind,
                "softmax_applied": decided.kind == "logits",
                "evidence": decided.evidence,
            },
            "classes": classes,
            "classes_given": decided.order is not None,
            "class_order": decided.order,
            "analyses": {},
        },
        "versions": library_versions(),
        "machine": machine_description(),
    }


def _analyses(request: Request, staging: Path, log: Progress, done: dict, data_id: str) -> None:
    """Robustness, unfamiliar-image statistics and the map, as for the shipped models; one
    that cannot run here (data other than CIFAR-10's test set) is recorded, not fatal.

    One after the other: the map's t-SNE in a thread beside robustness took 113 s where the
    two took 103 s in turn (bench/add_model.py, two cores)."""
    from core.analysis import embedding, ood, robustness
    from core.store.samples import SamplesUnavailable, load_test_images

    test: dict = {}  # the unfamiliar-image fit extracts the test features the map needs

    def embedding_map() -> None:
        same_images = load_test_images(staging).dataset_id == data_id
        features = test.get("penultimate") if same_images else None
        embedding.backfill(request.name, staging, features=features)

    steps = (
        ("robustness", "robustness", lambda: robustness.run(request.name, staging)),
        (
            "ood",
            "unfamiliar images",
            lambda: ood.backfill(request.name, request.data, staging, test_features=test),
        ),
        ("embedding", "embedding map", embedding_map),
    )
    for key, label, run in steps:
        if key in request.skip:
            log.stage(label, "skipped")
            done[key] = "skipped (--skip)"
            continue
        log.stage(label)
        try:
            run()
            done[key] = "done"
        except (artifacts.ArtifactError, SamplesUnavailable, ValueError, OSError) as exc:
            done[key] = f"not computed: {exc}"
            print(f"warning: {request.name}: {label} not computed: {exc}", file=sys.stderr)


def _latency_and_gradcam(name: str, model) -> dict:
    from core.analysis import gradcam
    from core.serving.predictor import Predictor

    out = {"latency_ms": round(Predictor({name: model}).latency_ms(name), 2)}
    why = gradcam.unavailable(model)
    if why is None:
        try:
            cam = gradcam.GradCam(model, gradcam.localising_layer(model))
            cam(np.zeros((1, 32, 32, 3), np.float32))
            return out | {"gradcam_layer": cam.layer_name}
        except Exception as exc:  # noqa: BLE001 - any failure means no heatmaps for it
            why = f"Grad-CAM failed on this model: {str(exc).splitlines()[0][:200]}"
    return out | {"gradcam_layer": None, "gradcam_unavailable": why}


# --- removal -----------------------------------------------------------------------------------


def remove(name: str, root: str | None = None) -> Path:
    """Delete an added model's artifact (renamed away first, so it vanishes at once)."""
    if catalog.is_shipped(name):
        raise ImportRefused(f"{name} is a shipped model; only added models can be removed")
    base = artifacts.artifacts_root(root)
    if catalog.imported(name, root) is None:
        raise ImportRefused(f"{name} is not an added model in {base.name}/")
    with training_lock(name, root):
        gone = Path(tempfile.mkdtemp(prefix=f".{name}.removed-", dir=base))
        os.rename(base / name, gone / name)
        shutil.rmtree(gone, ignore_errors=True)
    shutil.rmtree(artifacts.work_dir(name, root), ignore_errors=True)
    return base / name


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m core.add_model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", help="the model: .keras, .h5, SavedModel folder, .tflite")
    p.add_argument("--name", help="its name in the studio (letters, digits, _)")
    p.add_argument("--title", help="its title on the pages (default: the name)")
    p.add_argument(
        "--input-scale",
        default="auto",
        choices=["auto", *SCALINGS],
        help="the pixel range the model expects (default: auto, chosen on validation)",
    )
    p.add_argument("--classes", help="the model's output order, e.g. airplane,automobile,...")
    p.add_argument("--replace", action="store_true", help="replace an added model of that name")
    p.add_argument("--data", help="CIFAR-10 source (default: $CIFAR10_DATA)")
    p.add_argument(
        "--unsafe",
        action="store_true",
        help="load Lambda layers (Python code in the file): only for a file you made yourself",
    )
    p.add_argument(
        "--skip",
        default="",
        help=f"comma-separated analyses to leave out ({', '.join(ANALYSES)}), for quick checks",
    )
    p.add_argument("--remove", metavar="NAME", help="remove an added model")
    p.add_argument("--artifacts", help="artifacts folder (default: $CIFAR10_ARTIFACTS, artifacts/)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.remove:
            path = remove(args.remove, args.artifacts)
            print(f"removed {args.remove} ({path})")
            return 0
        if not args.file or not args.name:
            raise ImportRefused("give FILE and --name NAME (or --remove NAME)")
        request = Request(
            file=args.file,
            name=args.name,
            title=args.title,
            input_scale=args.input_scale,
            classes=args.classes,
            replace=args.replace,
            data=args.data,
            unsafe=args.unsafe,
            skip=tuple(s.strip() for s in args.skip.split(",") if s.strip()),
            root=args.artifacts,
        )
        config = add_model(request, echo=not args.quiet)
    except (ModelFileError, ImportRefused, DataError, TrainingLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    imp = config["imported"]
    target = artifacts.artifacts_root(args.artifacts) / args.name
    metrics = artifacts.Artifact(args.name, args.artifacts).metrics()
    print(
        f"added {args.name} to {target}: test accuracy {metrics['accuracy']:.4f} "
        f"({metrics['n_test']:,} images), input {imp['scaling']['title']}, outputs "
        f"{imp['outputs']['kind']}, {imp['seconds']:.0f} s"
    )
    return 0


__all__ = ["MAX_BYTES", "Request", "add_model", "main", "remove"]

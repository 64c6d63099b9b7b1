"""Can we trust the confidence? Expected calibration error, reliability diagrams, temperature.

    python -m core.calibration MODEL...                          # calibration.json from stored
    python -m core.calibration --backfill MODEL... --data PATH   # first predict the val split

A model is calibrated when, of the images it answers with 80 % confidence, 80 % are right.
``ece`` measures the gap over 15 equal-width confidence bins (Guo et al. 2017);
``reliability`` gives the per-bin numbers behind a reliability diagram. Temperature scaling
divides the logits by one number T fitted by minimising the negative log-likelihood on the
**validation split**, never on the test set; it changes confidence, never the predicted class.
The stored softmax outputs stand in for logits: ``softmax(log p / T) == softmax(z / T)``.

API (all from stored probabilities, no model needed):

    ece(y_true, probs, n_bins=15) -> float
    reliability(y_true, probs, n_bins=15) -> Reliability (per-bin confidence, accuracy, count)
    fit_temperature(y_val, probs_val) -> float;  apply_temperature(probs, t) -> probs
    nll(y_true, probs) -> float
    summarise(y_test, p_test, y_val=None, p_val=None) -> dict (what calibration.json holds)
    for_artifact(name, root=None) -> dict;  load_val_predictions(name, root=None) -> dict | None
    write_val_predictions(artifact_dir, y_true, probs)  (for core.training.train, atomically)

``--backfill`` rebuilds each artifact's validation predictions from the deterministic split the
model was trained with (``core.data.cifar10.split_validation`` with the seed in config.json, on
data with the content hash in config.json), and stores them as ``val_predictions.npz`` (y_true,
probs).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from core.data.cifar10 import scale
from core.io.atomic import atomic_file, write_json
from core.store import artifacts
from core.store.each_model import for_each_model

N_BINS = 15
VAL_PREDICTIONS_FILE = "val_predictions.npz"
CALIBRATION_FILE = "calibration.json"
_EPS = 1e-12


def confidences(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(top-1 confidence, predicted class) of each row."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs.max(axis=1), probs.argmax(axis=1)


@dataclass(frozen=True)
class Reliability:
    """Per-bin numbers of a reliability diagram; bin i covers (edges[i], edges[i + 1]]."""

    edges: np.ndarray  # (n_bins + 1,)
    confidence: np.ndarray  # mean confidence in the bin (nan when empty)
    accuracy: np.ndarray  # share right in the bin (nan when empty)
    count: np.ndarray  # images in the bin

    def records(self) -> list[dict]:
        """One dict per non-empty bin, for tables and charts."""
        return [
            {
                "bin_low": float(self.edges[i]),
                "bin_high": float(self.edges[i + 1]),
                "confidence": float(self.confidence[i]),
                "accuracy": float(self.accuracy[i]),
                "count": int(self.count[i]),
            }
            for i in range(len(self.count))
            if self.count[i]
        ]


def reliability(y_true: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> Reliability:
    conf, pred = confidences(probs)
    right = pred == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right-closed bins, (0, 1/15], (1/15, 2/15], ...; a confidence of exactly 0 joins bin 0
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(which, weights=right, minlength=n_bins) / count
    return Reliability(edges, mean_conf, mean_acc, count)


def ece(y_true: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error: sum over bins of (share of images) x |accuracy - confidence|."""
    rel = reliability(y_true, probs, n_bins)
    used = rel.count > 0
    gaps = np.abs(rel.accuracy[used] - rel.confidence[used])
    return float(np.sum(rel.count[used] / rel.count.sum() * gaps))


def _log_probs(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), _EPS, None))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with the logits divided by ``temperature`` (same argmax)."""
    return np.exp(log_softmax(_log_probs(probs) / temperature, axis=1))


def nll(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (the cross-entropy loss)."""
    logp = log_softmax(_log_probs(probs), axis=1)
    return float(-np.mean(logp[np.arange(len(logp)), np.asarray(y_true)]))


def fit_temperature(y_val: np.ndarray, probs_val: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the validation NLL of ``softmax(log p / T)``."""
    logp, y = _log_probs(probs_val), np.asarray(y_val)
    rows = np.arange(len(y))

    def loss(log_t: float) -> float:
        return -float(np.mean(log_softmax(logp / np.exp(log_t), axis=1)[rows, y]))

    best = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(best.x))


def summarise(
    y_test: np.ndarray,
    p_test: np.ndarray,
    y_val: np.ndarray | None = None,
    p_val: np.ndarray | None = None,
    n_bins: int = N_BINS,
) -> dict:
    """ECE and NLL on the test set, and before/after temperature scaling fitted on validation.

    Without validation predictions, ``temperature`` is None and only the "before" numbers exist.
    """
    out: dict = {
        "n_bins": n_bins,
        "test": {
            "n": int(len(y_test)),
            "ece_before": ece(y_test, p_test, n_bins),
            "nll_before": nll(y_test, p_test),
        },
        "temperature": None,
    }
    if y_val is None or p_val is None or not len(y_val):
        return out
    t = fit_temperature(y_val, p_val)
    scaled_test, scaled_val = apply_temperature(p_test, t), apply_temperature(p_val, t)
    out["temperature"] = t
    out["test"].update(
        ece_after=ece(y_test, scaled_test, n_bins), nll_after=nll(y_test, scaled_test)
    )
    out["validation"] = {
        "n": int(len(y_val)),
        "ece_before": ece(y_val, p_val, n_bins),
        "ece_after": ece(y_val, scaled_val, n_bins),
        "nll_before": nll(y_val, p_val),
        "nll_after": nll(y_val, scaled_val),
    }
    return out


# --- artifact files ----------------------------------------------------------------------------


def write_val_predictions(
    artifact_dir: str | os.PathLike, y_true: np.ndarray, probs: np.ndarray
) -> Path:
    """Store validation-split probabilities in an artifact folder (atomically)."""
    path = Path(artifact_dir) / VAL_PREDICTIONS_FILE
    y_true, probs = np.asarray(y_true, dtype=np.int64), np.asarray(probs, dtype=np.float32)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"probs {probs.shape} do not match {len(y_true)} labels")
    with atomic_file(path) as f:
        np.savez_compressed(f, y_true=y_true, probs=probs)
    return path


def load_val_predictions(
    name: str, root: str | os.PathLike | None = None
) -> dict[str, np.ndarray] | None:
    """The artifact's stored validation predictions, or None if it has none (or a bad file)."""
    path = artifacts.Artifact(name, root).path / VAL_PREDICTIONS_FILE
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {"y_true": z["y_true"], "probs": z["probs"]}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return data if data["probs"].ndim == 2 and len(data["probs"]) == len(data["y_true"]) else None


def for_artifact(name: str, root: str | os.PathLike | None = None) -> dict:
    """``summarise`` over an artifact's stored test (and, if present, validation) predictions."""
    test = artifacts.Artifact(name, root).predictions()
    val = load_val_predictions(name, root) or {}
    return summarise(test["y_true"], test["probs"], val.get("y_true"), val.get("probs"))


def write_calibration(name: str, root: str | os.PathLike | None = None) -> dict:
    """Compute ``for_artifact`` and store it as the artifact's ``calibration.json``."""
    result = {"model": name, **for_artifact(name, root)}
    result["command"] = f"python -m core.calibration {name}"
    write_json(artifacts.Artifact(name, root).path / CALIBRATION_FILE, result)
    return result


def validation_split_of(name: str, data: str | None, root: str | os.PathLike | None = None):
    """The validation images and labels ``name`` was trained with, rebuilt from ``data``.

    Refuses data whose content hash differs from the one config.json recorded, and a split
    whose size differs from the recorded one.
    """
    from core.data.cifar10 import load_cifar10, split_validation, subset

    config = artifacts.Artifact(name, root).config()
    recorded = config.get("dataset", {})
    seed = int(config.get("seed", 0))
    dataset = load_cifar10(data, progress=False)
    n_train = recorded.get("n_fit", 0) + recorded.get("n_val", 0)
    if recorded.get("content_hash") and dataset.content_hash != recorded["content_hash"]:
        # a run with --limit-train/--limit-test hashed the subset it drew with its seed
        limited = subset(dataset, n_train or None, recorded.get("n_test"), seed=seed)
        if limited.content_hash != recorded["content_hash"]:
            raise artifacts.ArtifactError(
                f"{name}: the data at {data or '$CIFAR10_DATA'} is not what it was trained on "
                f"(content hash {dataset.content_hash[:16]}, config.json records "
                f"{recorded['content_hash'][:16]} from {recorded.get('source', '?')})"
            )
        dataset = limited
    split = split_validation(
        dataset.x_train, dataset.y_train, config.get("val_fraction") or 0.1, seed=seed
    )
    if "n_val" in recorded and len(split.y_val) != recorded["n_val"]:
        raise artifacts.ArtifactError(
            f"{name}: rebuilt a validation split of {len(split.y_val)} images, config.json "
            f"records {recorded['n_val']}"
        )
    return split.x_val, split.y_val


def backfill(name: str, data: str | None, root: str | os.PathLike | None = None) -> dict:
    """Predict the validation split with the artifact's model and store the probabilities."""
    art = artifacts.Artifact(name, root)
    x_val, y_val = validation_split_of(name, data, root)
    model = art.load_model()
    probs = model.predict(scale(x_val), batch_size=250, verbose=0)
    write_val_predictions(art.path, y_val, probs)
    accuracy = float((np.asarray(probs).argmax(axis=1) == y_val).mean())
    return {"n": int(len(y_val)), "accuracy": accuracy, "recorded": art.config().get("validation")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.calibration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", help="artifact names (e.g. vgg12 vgg12_opt)")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="first predict the validation split and store val_predictions.npz",
    )
    parser.add_argument("--data", help="CIFAR-10 source for --backfill (default: $CIFAR10_DATA)")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)

    def one(name: str) -> str:
        started = time.time()
        if args.backfill:
            done = backfill(name, args.data, args.artifacts)
            print(
                f"{name}: {VAL_PREDICTIONS_FILE} written, {done['n']:,} validation images, "
                f"accuracy {done['accuracy']:.4f} (config.json: {done['recorded']})"
            )
        result = write_calibration(name, args.artifacts)
        test = result["test"]
        line = f"{name}: test ECE {test['ece_before']:.4f}, NLL {test['nll_before']:.4f}"
        if result["temperature"] is None:
            line += f" (no {VAL_PREDICTIONS_FILE}: run with --backfill --data PATH to fit T)"
        else:
            line += (
                f"; temperature {result['temperature']:.3f} (fitted on validation) -> "
                f"ECE {test['ece_after']:.4f}, NLL {test['nll_after']:.4f}"
            )
        return f"{line} ({time.time() - started:.0f} s)"

    return for_each_model(args.models, one)

"""Comparisons between trained models, read from their artifacts (no training, no UI).

Everything here works on what an artifact stores (metrics, history, config, test-set
probabilities), so the dashboard's tables and charts never recompute a metric by hand.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import REPO_ROOT
from core.analysis.reference import dataset_label as reference_label
from core.data.cifar10 import CLASS_NAMES
from core.store import artifacts

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def registry_names(root: str | os.PathLike | None = None) -> list[str]:
    """Every model's name: the shipped ones in registry order, then those added to the
    artifacts root (``core.store.catalog.list_models``: no Keras)."""
    from core.store.catalog import list_models

    return list_models(root)


def statuses(
    names: list[str] | None = None, root: str | os.PathLike | None = None
) -> dict[str, artifacts.Status]:
    """The artifact status of every model (shipped in registry order, then added ones)."""
    return {n: artifacts.Artifact(n, root).status() for n in names or registry_names(root)}


def artifact_key(name: str, root: str | os.PathLike | None = None) -> tuple:
    """The one freshness key of an artifact, for everything cached from it: (file, size,
    mtime) of every file in its folder, so replacing any one file (the model alone, say)
    changes it."""
    path = artifacts.Artifact(name, root).path
    try:
        files = sorted(p for p in path.iterdir() if p.is_file())
    except OSError:
        return ()
    key = []
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        key.append((file.name, st.st_size, st.st_mtime_ns))
    return tuple(key)


def modified_time(key: tuple) -> float:
    """When the newest file of an ``artifact_key`` was written (epoch seconds; 0 if none)."""
    return max((mtime for _, _, mtime in key), default=0) / 1e9


def dataset_label(names: list[str], root: str | os.PathLike | None = None) -> str:
    """The data the given artifacts were measured on, from their own dataset ids."""
    ids = set()
    for name in names:
        try:
            ids.add(artifacts.Artifact(name, root).config().get("dataset", {}).get("id"))
        except artifacts.ArtifactError:
            continue
    if len(ids) > 1:
        return "different data per model (see each model card)"
    return reference_label(next(iter(ids), None))


def summary_row(name: str, root: str | os.PathLike | None = None) -> dict:
    """One row of the comparison table for a ready artifact."""
    art = artifacts.Artifact(name, root)
    m, cfg = art.metrics(), art.config()
    ref = m["reference_style"]
    model_file = art.model_path
    return {
        "model": name,
        "accuracy": m["accuracy"],
        "top3_accuracy": m["top3_accuracy"],
        "precision_ref": ref["precision"],
        "recall_ref": ref["recall"],
        "f1_ref": ref["f1"],
        "precision_macro": m["precision_macro"],
        "recall_macro": m["recall_macro"],
        "f1_macro": m["f1_macro"],
        "loss": m["loss"],
        "parameters": cfg.get("parameters"),
        "size_mb": model_file.stat().st_size / 1e6 if model_file.is_file() else None,
        "epochs": cfg.get("epochs_trained"),
        "train_time_min": cfg["wall_time_s"] / 60 if cfg.get("wall_time_s") is not None else None,
        "n_test": m["n_test"],
        "dataset_id": cfg.get("dataset", {}).get("id"),
    }


def best_model(rows: list[dict], key: str = "accuracy") -> str | None:
    return max(rows, key=lambda r: r[key])["model"] if rows else None


def history_records(name: str, history: dict) -> list[dict]:
    """history.json -> long records {model, epoch, metric, split, value} for plotting."""
    records = []
    for key in HISTORY_KEYS:
        for epoch, value in enumerate(history.get(key) or [], start=1):
            records.append(
                {
                    "model": name,
                    "epoch": epoch,
                    "metric": key.removeprefix("val_"),
                    "split": "validation" if key.startswith("val_") else "train",
                    "value": float(value),
                }
            )
    return records


def normalise_rows(cm: np.ndarray | list) -> np.ndarray:
    """Confusion matrix with each true-class row divided by its total (recall on the diagonal)."""
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def most_confused(cm: np.ndarray | list, k: int = 10) -> list[dict]:
    """The ``k`` largest off-diagonal cells: true class, predicted class, count, share of true."""
    cm = np.asarray(cm)
    share = normalise_rows(cm)
    cells = [(i, j) for i in range(len(cm)) for j in range(len(cm)) if i != j and cm[i, j] > 0]
    cells.sort(key=lambda c: (-cm[c], c))
    return [
        {
            "true": CLASS_NAMES[i],
            "predicted": CLASS_NAMES[j],
            "count": int(cm[i, j]),
            "share_of_true": float(share[i, j]),
        }
        for i, j in cells[:k]
    ]


def cell_examples(
    y_true: np.ndarray, probs: np.ndarray, true_class: int, pred_class: int, limit: int = 24
) -> tuple[np.ndarray, int]:
    """Test rows behind one confusion-matrix cell, most confident first, and the cell's total."""
    y_pred = probs.argmax(axis=1)
    rows = np.flatnonzero((y_true == true_class) & (y_pred == pred_class))
    order = np.argsort(-probs[rows, pred_class], kind="stable")
    return rows[order][:limit], len(rows)


@dataclass(frozen=True)
class Agreement:
    """How two models' test-set predictions relate (top-1 classes)."""

    model_a: str
    model_b: str
    n: int
    both_right: int
    only_a_right: int
    only_b_right: int
    both_wrong_same: int
    both_wrong_different: int
    disagree_rows: np.ndarray  # test rows where the two top-1 classes differ
    per_class_agreement: dict[str, float]  # share of each true class where they agree

    @property
    def agree(self) -> int:
        return self.both_right + self.both_wrong_same

    @property
    def agreement_rate(self) -> float:
        return self.agree / self.n if self.n else 0.0


def agreement(
    model_a: str, probs_a: np.ndarray, model_b: str, probs_b: np.ndarray, y_true: np.ndarray
) -> Agreement:
    if probs_a.shape != probs_b.shape or len(y_true) != len(probs_a):
        raise ValueError(
            f"{model_a} and {model_b} were evaluated on different test sets "
            f"({len(probs_a)} vs {len(probs_b)} rows); retrain one on the full test set."
        )
    pa, pb = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    ra, rb = pa == y_true, pb == y_true
    same = pa == pb
    per_class = {
        cls: float(same[y_true == i].mean()) if (y_true == i).any() else 0.0
        for i, cls in enumerate(CLASS_NAMES)
    }
    return Agreement(
        model_a=model_a,
        model_b=model_b,
        n=len(y_true),
        both_right=int((ra & rb).sum()),
        only_a_right=int((ra & ~rb).sum()),
        only_b_right=int((~ra & rb).sum()),
        both_wrong_same=int((~ra & ~rb & same).sum()),
        both_wrong_different=int((~ra & ~rb & ~same).sum()),
        disagree_rows=np.flatnonzero(~same),
        per_class_agreement=per_class,
    )


# A stored latency benchmark (``bench/models.py``'s one-image timing through
# ``core.serving.predictor.Predictor``): {"machine": "...", "models": {name: {"p50_ms": float,
# "finished": the timed artifact's config.json "finished"}}}. Optional; the dashboard shows
# what it holds for artifacts that are still the ones timed.
LATENCY_FILE = REPO_ROOT / "bench" / "latency.json"


def stored_latencies(
    names: list[str], root: str | os.PathLike | None = None, path: str | os.PathLike | None = None
) -> dict[str, float]:
    """Median ms per image of each of ``names`` from the stored benchmark (``LATENCY_FILE``),
    for the artifacts it timed (same config.json "finished"); {} without a readable file."""
    try:
        stored = json.loads(Path(path or LATENCY_FILE).read_text())["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    found = {}
    for name in names:
        entry = stored.get(name) if isinstance(stored, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("p50_ms"), int | float):
            continue
        try:
            finished = artifacts.Artifact(name, root).config().get("finished")
        except artifacts.ArtifactError:
            continue
        if finished is not None and entry.get("finished") == finished:
            found[name] = float(entry["p50_ms"])
    return found

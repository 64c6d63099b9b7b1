"""How the models do on a user's own labelled photos, beside their CIFAR-10 test figures.

    evaluate(y_true, probs_by_model, files) -> {"images", "models", "mcnemar", "worst"}
    shift_rows(result, cifar_metrics) -> one row per model: your photos vs CIFAR-10 test

Metrics are ``core.store.metrics.compute_metrics`` (scikit-learn), the same numbers the
artifacts store for the test set; intervals and McNemar's test are ``core.analysis.stats``'.
Pure functions of labels and probabilities: no models, no files.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from core.analysis.stats import bootstrap_interval, mcnemar
from core.data.cifar10 import CLASS_NAMES
from core.store.metrics import compute_metrics

WORST: int = 12  # images listed as the hardest


def evaluate(
    y_true: np.ndarray,
    probs_by_model: dict[str, np.ndarray],
    files: list[str],
    unfamiliar: list[bool | None] | None = None,
    n_boot: int = 1000,
) -> dict:
    """Every model's metrics (95 % bootstrap interval of accuracy when there are two or more
    images; macro averages over the classes present), McNemar's exact test for every pair of
    models, and the ``WORST`` images (``worst_images``)."""
    from sklearn.metrics import precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    present = sorted(set(y_true.tolist()))
    models = {}
    for name, probs in probs_by_model.items():
        m = compute_metrics(y_true, probs)
        m["images"] = m.pop("n_test")
        # Macro averages over the classes in the photos: a class nobody photographed would
        # count as a score of 0 in all ten, whatever the model does.
        p, r, f, _ = precision_recall_fscore_support(
            y_true, np.argmax(probs, axis=1), labels=present, average="macro", zero_division=0
        )
        m |= {"precision_macro": float(p), "recall_macro": float(r), "f1_macro": float(f)}
        m["classes"] = [CLASS_NAMES[i] for i in present]
        m["accuracy_95ci"] = (
            list(bootstrap_interval(y_true, probs, "accuracy", n_boot=n_boot))
            if len(y_true) >= 2
            else None
        )
        models[name] = m
    pairs = []
    for a, b in combinations(probs_by_model, 2):
        test = mcnemar(y_true, probs_by_model[a], probs_by_model[b])
        pairs.append(
            {
                "a": a,
                "b": b,
                "table": [list(row) for row in test.table],
                "only_a_right": test.only_a_right,
                "only_b_right": test.only_b_right,
                "p_value": test.p_value,
                "sentence": test.sentence(a, b).replace("test set", "set of photos"),
            }
        )
    return {
        "images": int(len(y_true)),
        "models": models,
        "mcnemar": pairs,
        "worst": worst_images(y_true, probs_by_model, files, unfamiliar),
    }


def worst_images(
    y_true: np.ndarray,
    probs_by_model: dict[str, np.ndarray],
    files: list[str],
    unfamiliar: list[bool | None] | None = None,
    k: int = WORST,
) -> list[dict]:
    """Up to ``k`` images that at least one model gets wrong: most models wrong first, then
    the lowest probability of the true class (averaged over the models)."""
    if not probs_by_model or not len(y_true):
        return []
    rows = np.arange(len(y_true))
    true_prob = np.mean([p[rows, y_true] for p in probs_by_model.values()], axis=0)
    wrong = np.sum([p.argmax(axis=1) != y_true for p in probs_by_model.values()], axis=0)
    order = [i for i in np.lexsort((true_prob, -wrong)) if wrong[i]][:k]
    return [
        {
            "file": files[i],
            "row": int(i),
            "label": CLASS_NAMES[y_true[i]],
            "models_wrong": int(wrong[i]),
            "true_class_probability": round(float(true_prob[i]), 4),
            "answers": {
                name: {
                    "class": CLASS_NAMES[int(p[i].argmax())],
                    "probability": round(float(p[i].max()), 4),
                }
                for name, p in probs_by_model.items()
            },
            **({"unfamiliar": unfamiliar[i]} if unfamiliar is not None else {}),
        }
        for i in order
    ]


def shift_rows(result: dict, cifar_metrics: dict[str, dict | None]) -> list[dict]:
    """Per model: accuracy and macro F1 on the user's photos and on the CIFAR-10 test set, and
    the change (the shift from CIFAR-10 to the user's photos)."""
    rows = []
    for name, mine in result["models"].items():
        cifar = cifar_metrics.get(name) or {}
        ci = mine.get("accuracy_95ci")
        rows.append(
            {
                "model": name,
                "your photos: accuracy": mine["accuracy"],
                "95% CI": f"{ci[0]:.3f} to {ci[1]:.3f}" if ci else "",
                "CIFAR-10 test: accuracy": cifar.get("accuracy"),
                "accuracy change": (
                    mine["accuracy"] - cifar["accuracy"] if "accuracy" in cifar else None
                ),
                "your photos: macro F1": mine["f1_macro"],
                "CIFAR-10 test: macro F1": cifar.get("f1_macro"),
            }
        )
    return rows


def per_class_rows(result: dict, cifar_metrics: dict[str, dict | None]) -> list[dict]:
    """Per model and class present in the photos: recall and F1 on them and on CIFAR-10 test."""
    rows = []
    for name, mine in result["models"].items():
        cifar = (cifar_metrics.get(name) or {}).get("per_class", {})
        for cls, m in mine["per_class"].items():
            if not m["support"]:
                continue
            rows.append(
                {
                    "model": name,
                    "class": cls,
                    "images": m["support"],
                    "your photos: recall": m["recall"],
                    "CIFAR-10 test: recall": cifar.get(cls, {}).get("recall"),
                    "your photos: F1": m["f1"],
                    "CIFAR-10 test: F1": cifar.get(cls, {}).get("f1"),
                }
            )
    return rows

"""What ``python -m core.add_model`` decides from a model's outputs on the validation split.

    choose_scaling(outputs, y_val) -> Choice   # the input scaling, or a refusal
    output_kind(raw) -> (kind, evidence)       # probabilities or logits
    parse_classes("cat,dog,...") -> order      # --classes, as output columns per CIFAR class
    check_name(name, root, replace)            # a plain identifier, no clash, never shipped

NumPy and SciPy only. A refusal is an ``ImportRefused`` with a one-line message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from core.data.cifar10 import CLASS_NAMES, NUM_CLASSES

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Significance of "better than chance": a one-sided binomial test against 10 % at this level.
CHANCE_P = 1e-3
# The outputs look permuted when reading them in another class order gains this much.
PERMUTED_GAIN = 0.2


class ImportRefused(ValueError):
    """The import is refused; the message says why in one line."""


def check_name(name: str, root: str | os.PathLike | None, replace: bool) -> None:
    """Refuse a name that is not a plain identifier, a shipped model's, or one in use (unless
    ``replace`` and the folder holds an added model)."""
    from core.store import artifacts, catalog

    if not NAME_PATTERN.match(name or ""):
        raise ImportRefused(
            f"--name {name!r} is not a plain identifier (letters, digits and _, not starting "
            "with a digit, at most 64 characters)"
        )
    if catalog.is_shipped(name):
        raise ImportRefused(f"{name} is a shipped model; choose another --name")
    if (artifacts.artifacts_root(root) / name).exists():
        if catalog.imported(name, root) is None:
            raise ImportRefused(
                f"{artifacts.artifacts_root(root).name}/{name} exists and is not an added "
                "model; choose another --name"
            )
        if not replace:
            raise ImportRefused(f"{name} is already added; give --replace to replace it")


def parse_classes(text: str) -> list[int]:
    """``--classes``: the model's outputs named in order -> for each CIFAR-10 class, the output
    column that holds it."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if sorted(names) != sorted(CLASS_NAMES):
        raise ImportRefused(
            "--classes must name the 10 CIFAR-10 classes once each, in the model's output "
            f"order (got {len(names)}: {', '.join(names)})"
        )
    return [names.index(c) for c in CLASS_NAMES]


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.bincount(
        np.asarray(y_true) * NUM_CLASSES + np.asarray(y_pred), minlength=NUM_CLASSES**2
    ).reshape(NUM_CLASSES, NUM_CLASSES)


def best_order(cm: np.ndarray) -> tuple[list[str], float]:
    """(output j's class name for each j, accuracy) of the assignment of outputs to classes
    that gets most right (``scipy.optimize.linear_sum_assignment``)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-cm)
    names = [""] * NUM_CLASSES
    for true_class, output in zip(rows, cols, strict=True):
        names[output] = CLASS_NAMES[true_class]
    return names, float(cm[rows, cols].sum() / max(cm.sum(), 1))


def near_chance(right: int, n: int) -> bool:
    """Whether ``right`` of ``n`` is not significantly above one in ten."""
    from scipy.stats import binomtest

    return n == 0 or binomtest(right, n, 1 / NUM_CLASSES, alternative="greater").pvalue > CHANCE_P


@dataclass(frozen=True)
class Choice:
    scaling: str
    accuracy: dict[str, float]  # every candidate's validation accuracy
    n: int  # validation images scored


def choose_scaling(outputs: dict[str, np.ndarray], y_val: np.ndarray, titles: dict) -> Choice:
    """The scaling whose outputs are right most often (the first of equals), after checking
    that the outputs are not in another class order and that it beats chance.

    ``outputs`` maps scaling -> (N, 10) raw outputs on the validation images ``y_val``."""
    y_val = np.asarray(y_val)
    accuracy, orders = {}, {}
    for scaling, raw in outputs.items():
        cm = confusion(y_val, np.asarray(raw).argmax(axis=1))
        accuracy[scaling] = float(np.trace(cm) / len(y_val))
        orders[scaling] = best_order(cm)
    best = max(accuracy, key=lambda s: accuracy[s])  # max keeps the first of equals
    permuted = max(orders, key=lambda s: orders[s][1])
    names, gained = orders[permuted]
    if gained >= max(accuracy[best] + PERMUTED_GAIN, 2 * accuracy[best]) and not near_chance(
        round(gained * len(y_val)), len(y_val)
    ):
        raise ImportRefused(
            f"the outputs look like another class order: validation accuracy "
            f"{accuracy[best]:.3f} in CIFAR-10's order, {gained:.3f} read as "
            f"{','.join(names)}; if that is the model's order, add --classes {','.join(names)}"
        )
    if near_chance(round(accuracy[best] * len(y_val)), len(y_val)):
        tried = "the input scaling given" if len(outputs) == 1 else "every input scaling"
        raise ImportRefused(
            f"validation accuracy is near chance under {tried} (best {accuracy[best]:.3f} with "
            f"{titles[best]}, {len(y_val):,} images): not a CIFAR-10 classifier, or it wants "
            "another input (--input-scale) or class order (--classes)"
        )
    return Choice(best, accuracy, int(len(y_val)))


def output_kind(raw: np.ndarray) -> tuple[str, str]:
    """("probabilities" or "logits", the evidence in a few words) from raw validation outputs."""
    raw = np.asarray(raw, np.float64)
    sums = raw.sum(axis=1)
    in_range = raw.min() >= -1e-6 and raw.max() <= 1 + 1e-6
    deviation = float(np.abs(sums - 1).max()) if len(raw) else 0.0
    if in_range and deviation < 1e-3:
        return "probabilities", f"validation rows lie in [0, 1] and sum to 1 (±{deviation:.0e})"
    return "logits", (
        f"validation outputs range from {raw.min():.3g} to {raw.max():.3g}, row sums from "
        f"{sums.min():.3g} to {sums.max():.3g}: not probabilities"
    )

"""Agreement sets: which test images each combination of models gets right (no TF, no UI).

    correctness(y_true, probs_by_model) -> DataFrame (one bool column per model, row = image)
    patterns(correct, labels=None, groups=None) -> DataFrame (one row per right/wrong pattern)
    pattern_rows(correct, right) -> test rows of one pattern
    mcnemar_rows(y_true, probs_by_model, labels=None) -> McNemar's test for every pair

Its UpSet-style chart is ``core.reporting.charts.upset_figure``.

``probs_by_model`` maps model names to stored test probabilities (N, 10), all over the same
test images in the same order (``core.store.artifacts.Artifact.predictions``). A *pattern* is the
set of models that get an image right; every image has exactly one, so the counts add up to the
test set. Patterns get readable names: "all right", "all wrong", "only ResNet50 right",
"only the transfer models right", "only Custom and Model 1 wrong".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from core.analysis import stats

ALL_RIGHT = "all right"
ALL_WRONG = "all wrong"


def correctness(y_true: np.ndarray, probs_by_model: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Whether each model's top answer is right, one bool column per model (in the given
    order), one row per test image (index = the test row)."""
    y_true = np.asarray(y_true)
    if not probs_by_model:
        raise ValueError("no model predictions given")
    columns = {}
    for name, probs in probs_by_model.items():
        probs = np.asarray(probs)
        if probs.ndim != 2 or len(probs) != len(y_true):
            raise ValueError(
                f"{name}'s predictions {probs.shape} do not cover the {len(y_true):,} test images"
            )
        columns[name] = probs.argmax(axis=1) == y_true
    return pd.DataFrame(columns)


def default_groups(names: Iterable[str]) -> dict[str, list[str]]:
    """The registry's families worth naming: the transfer models and those trained from
    scratch (``ModelSpec.transfer``); models not in the registry belong to neither."""
    from core.models.registry import REGISTRY

    known = [n for n in names if n in REGISTRY]
    return {
        "the transfer models": [n for n in known if REGISTRY[n].transfer],
        "the models trained from scratch": [n for n in known if not REGISTRY[n].transfer],
    }


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def pattern_name(
    right: Iterable[str],
    models: Sequence[str],
    labels: Mapping[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """A readable name of the pattern in which exactly the models ``right`` are right.

    The first that fits: "all right", "all wrong", a group of ``groups`` (two or more of
    ``models``, not all) that is exactly the right ones ("only the transfer models right"), a
    single model right, a group that is exactly the wrong ones, a single model wrong, else the
    shorter list of models ("only Custom and Model 1 right").
    """
    right_set = set(right)
    label = (labels or {}).get
    got = [m for m in models if m in right_set]
    missed = [m for m in models if m not in right_set]
    if not missed:
        return ALL_RIGHT
    if not got:
        return ALL_WRONG
    named = {
        group: {m for m in members if m in models} for group, members in (groups or {}).items()
    }
    named = {group: members for group, members in named.items() if 2 <= len(members) < len(models)}
    by_set = {frozenset(members): group for group, members in named.items()}
    if frozenset(got) in by_set:
        return f"only {by_set[frozenset(got)]} right"
    if len(got) > 1 and frozenset(missed) in by_set:
        return f"only {by_set[frozenset(missed)]} wrong"
    if len(got) <= len(missed):
        return f"only {_listed([label(m, m) for m in got])} right"
    return f"only {_listed([label(m, m) for m in missed])} wrong"


def patterns(
    correct: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """One row per right/wrong pattern that occurs, the largest first: ``pattern`` (its
    name), ``images``, ``share`` of the test images, ``models right``, and one bool column per
    model (right in this pattern or not)."""
    models = list(correct.columns)
    counts = correct.value_counts(sort=False).reset_index(name="images")
    counts["models right"] = counts[models].sum(axis=1).astype(int)
    counts["pattern"] = [
        pattern_name([m for m in models if row[m]], models, labels, groups)
        for _, row in counts.iterrows()
    ]
    counts["share"] = counts["images"] / len(correct)
    counts = counts.sort_values(["images", "models right"], ascending=False, kind="stable")
    return counts[["pattern", "images", "share", "models right", *models]].reset_index(drop=True)


def pattern_rows(correct: pd.DataFrame, right: Iterable[str]) -> np.ndarray:
    """The test rows on which exactly the models ``right`` are right, in test order."""
    wanted = np.array([m in set(right) for m in correct.columns])
    return np.flatnonzero((correct.to_numpy() == wanted).all(axis=1))


def mcnemar_rows(
    y_true: np.ndarray,
    probs_by_model: Mapping[str, np.ndarray],
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """McNemar's exact test (``core.analysis.stats.mcnemar``) for every pair of models: how many
    images only one of them gets right, the p-value, and the better one when p < 0.05."""
    label = (labels or {}).get
    rows = []
    for a, b in itertools.combinations(probs_by_model, 2):
        test = stats.mcnemar(y_true, probs_by_model[a], probs_by_model[b])
        la, lb = label(a, a), label(b, b)
        better = la if test.only_a_right > test.only_b_right else lb
        rows.append(
            {
                "model A": la,
                "model B": lb,
                "only A right": test.only_a_right,
                "only B right": test.only_b_right,
                "p-value": test.p_value,
                "verdict": better + " is better" if test.p_value < 0.05 else "no clear difference",
            }
        )
    return pd.DataFrame(rows)

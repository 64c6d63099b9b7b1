"""Abstaining: answer only when sure enough, and what that buys (risk-coverage), no TF, no UI.

    temperature(name, root=None) -> T or None (calibration.json, else fitted on validation)
    confidence(probs, temperature=None) -> top probability of each row, temperature-scaled
    risk_coverage(y_true, probs, temperature=None, n_points=100) -> DataFrame
    accuracy_at(curve, coverage) -> accuracy when answering that share of the images
    point_at(curve, coverage) -> the curve's point (accuracy, threshold, ...) there
    summary_rows({label: curve}) -> DataFrame  (its figure: core.reporting.charts)

A model that abstains below a confidence p answers only the images whose top probability is at
least p. The confidence is temperature-scaled (``core.analysis.calibration``: T fitted on the
validation split), so "p = 0.8" means what it says for a calibrated model. The risk-coverage curve
(Geifman and El-Yaniv, "Selective classification for deep neural networks", 2017) plots the accuracy
on the answered images against the share answered (coverage): the model answers its most confident
images first, so at coverage 1 it answers all of them (plain accuracy), and a model whose
confidence ranks its answers well gains accuracy as it answers fewer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.analysis import calibration
from core.store import artifacts

COVERAGES = (0.9, 0.8, 0.5)  # the summary's "accuracy answering 90 % of the images", ...


def temperature(name: str, root: str | os.PathLike | None = None) -> float | None:
    """The artifact's temperature T: from its ``calibration.json`` (written by
    ``core.training.train``
    and ``python -m core.calibration``), else fitted on its stored validation predictions;
    None without either."""
    path = artifacts.Artifact(name, root).path / calibration.CALIBRATION_FILE
    try:
        stored = json.loads(path.read_text()).get("temperature")
    except (OSError, ValueError, AttributeError):
        stored = None
    if isinstance(stored, int | float) and stored > 0:
        return float(stored)
    val = calibration.load_val_predictions(name, root)
    if val is None or not len(val["y_true"]):
        return None
    return calibration.fit_temperature(val["y_true"], val["probs"])


def confidence(probs: np.ndarray, temperature: float | None = None) -> np.ndarray:
    """The top probability of each row of ``probs`` (N, classes), or of one row (classes,),
    after temperature scaling with ``temperature`` (none when None)."""
    probs = np.asarray(probs, dtype=np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    if temperature is not None:
        rows = calibration.apply_temperature(rows, temperature)
    top = rows.max(axis=1)
    return top if probs.ndim == 2 else top[0]


def risk_coverage(
    y_true: np.ndarray,
    probs: np.ndarray,
    temperature: float | None = None,
    n_points: int = 100,
) -> pd.DataFrame:
    """The risk-coverage curve at ``n_points`` evenly spaced coverages (the last one 1.0).

    Columns: ``coverage`` (share answered), ``answered`` (images), ``accuracy`` (on the
    answered images), ``risk`` (1 - accuracy) and ``threshold`` (the lowest confidence
    answered: abstaining below it answers these images). The most confident images are
    answered first; equal confidences keep test order.
    """
    y_true = np.asarray(y_true)
    conf = confidence(probs, temperature)
    right = np.asarray(probs).argmax(axis=1) == y_true
    order = np.argsort(-conf, kind="stable")
    n = len(y_true)
    answered = np.unique(np.clip(np.round(np.linspace(0, 1, n_points + 1)[1:] * n), 1, n))
    answered = answered.astype(int)
    hits = np.cumsum(right[order])[answered - 1]
    accuracy = hits / answered
    return pd.DataFrame(
        {
            "coverage": answered / n,
            "answered": answered,
            "accuracy": accuracy,
            "risk": 1.0 - accuracy,
            "threshold": conf[order][answered - 1],
        }
    )


def point_at(curve: pd.DataFrame, coverage: float) -> pd.Series:
    """The curve's first point that answers at least ``coverage`` of the images."""
    return curve[curve["coverage"] >= coverage - 1e-9].iloc[0]


def accuracy_at(curve: pd.DataFrame, coverage: float) -> float:
    """The accuracy when answering (at least) ``coverage`` of the images, from a curve."""
    return float(point_at(curve, coverage)["accuracy"])


def summary_rows(
    curves: Mapping[str, pd.DataFrame], coverages: tuple[float, ...] = COVERAGES
) -> pd.DataFrame:
    """Per model: accuracy answering everything and answering each of ``coverages``, and the
    confidence below which it abstains to get there."""
    rows = []
    for model, curve in curves.items():
        row = {"model": model, "accuracy answering all": accuracy_at(curve, 1.0)}
        for share in coverages:
            reached = point_at(curve, share)
            row[f"accuracy answering {share:.0%}"] = float(reached["accuracy"])
            row[f"abstain below (for {share:.0%})"] = float(reached["threshold"])
        rows.append(row)
    return pd.DataFrame(rows)

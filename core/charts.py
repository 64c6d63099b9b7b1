"""Plotly figures shared by the dashboard pages and the HTML report (no Streamlit here).

confusion_figure(cm) / per_class_figure({model: metrics}) / reliability_figure({model: rel})
robustness_figure(corruption, {model: robustness result}) / robustness_summary_rows(results)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.calibration import Reliability
from core.data import CLASS_NAMES


def confusion_figure(cm: np.ndarray | list, title: str = "", height: int = 420) -> go.Figure:
    """Counts per (true, predicted) class, the diagonal holding the right answers."""
    fig = px.imshow(
        np.asarray(cm),
        x=list(CLASS_NAMES),
        y=list(CLASS_NAMES),
        text_auto="d",
        color_continuous_scale="Blues",
        labels=dict(x="predicted class", y="true class", color="images"),
        aspect="auto",
        title=title or None,
    )
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40 if title else 10, b=0))
    return fig


def per_class_figure(metrics_by_model: dict[str, dict], metric: str = "f1") -> go.Figure:
    """One bar per class and model: the model's per-class ``metric`` (precision, recall, f1)."""
    rows = [
        {"model": model, "class": cls, metric: values[metric]}
        for model, metrics in metrics_by_model.items()
        for cls, values in metrics["per_class"].items()
    ]
    fig = px.bar(
        pd.DataFrame(rows), x="class", y=metric, color="model", barmode="group", range_y=[0, 1]
    )
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0), legend_title_text="")
    return fig


def reliability_figure(reliability_by_model: dict[str, Reliability]) -> go.Figure:
    """Accuracy against confidence per bin; a calibrated model lies on the diagonal."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line=dict(dash="dot")
    )
    for model, rel in reliability_by_model.items():
        bins = pd.DataFrame(rel.records())
        fig.add_scatter(
            x=bins["confidence"],
            y=bins["accuracy"],
            mode="lines+markers",
            name=model,
            customdata=bins["count"],
            hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} images",
        )
    fig.update_layout(
        height=420,
        margin=dict(l=0, r=0, t=10, b=0),
        xaxis=dict(title="confidence (mean in the bin)", range=[0, 1]),
        yaxis=dict(title="accuracy in the bin", range=[0, 1]),
        legend_title_text="",
    )
    return fig


def robustness_figure(corruption: str, results_by_model: dict[str, dict]) -> go.Figure:
    """Accuracy against severity (0 = clean) under one corruption, one line per model."""
    fig = go.Figure()
    first = next(iter(results_by_model.values()))["corruptions"][corruption]
    for model, result in results_by_model.items():
        values = result["corruptions"][corruption]["accuracy"]
        fig.add_scatter(
            x=list(range(len(values) + 1)),
            y=[result["clean_accuracy"], *values],
            mode="lines+markers",
            name=model,
        )
    fig.update_layout(
        title=first["title"],
        height=300,
        margin=dict(l=0, r=0, t=40, b=0),
        xaxis=dict(title=f"severity ({first['parameter']}: {first['levels']})", dtick=1),
        yaxis=dict(title="accuracy", range=[0, 1]),
        legend_title_text="",
    )
    return fig


def robustness_summary_rows(results_by_model: dict[str, dict]) -> pd.DataFrame:
    """Clean accuracy, mean accuracy under corruption and the drop, one row per model."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "clean accuracy": r["clean_accuracy"],
                "mean accuracy under corruption": r["mean_corrupted_accuracy"],
                "drop": r["drop"],
                "test images": r["n_images"],
            }
            for model, r in results_by_model.items()
        ]
    )

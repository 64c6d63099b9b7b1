"""Plotly figures drawn by more than one page."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts import model_colour

SPLIT_DASH = {"train": "solid", "validation": "dash", "train (running)": "dot"}


def training_curves(records: list[dict], height: int = 420) -> go.Figure | None:
    """Loss and accuracy per epoch: each model in its colour (``core.palette``), one dash style
    per split.

    ``records`` are long rows ``{model, epoch, metric, split, value}``
    (``core.compare.history_records``; ``core.progress.curve_records`` adds running
    within-epoch points for the Train page).
    """
    curves = pd.DataFrame(records)
    if curves.empty:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for model in curves["model"].unique():
        for col, metric in enumerate(("loss", "accuracy"), start=1):
            for split, dash in SPLIT_DASH.items():
                part = curves[
                    (curves["model"] == model)
                    & (curves["metric"] == metric)
                    & (curves["split"] == split)
                ]
                if part.empty:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=part["epoch"],
                        y=part["value"],
                        mode="lines" if split == "train (running)" else "lines+markers",
                        name=f"{model} · {split}",
                        legendgroup=f"{model}{split}",
                        showlegend=col == 1,
                        line=dict(color=model_colour(model), dash=dash),
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40, b=0))
    return fig

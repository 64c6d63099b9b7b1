"""Plotly figures shared by the dashboard pages and the HTML report (no Streamlit here).

confusion_figure(cm) / per_class_figure({model: metrics}) / reliability_figure({model: rel})
robustness_figure(corruption, {model: robustness result}) / robustness_summary_rows(results)
accuracy_figure({name: accuracy}, {name: (reference title, accuracy)})
training_curves(records) / examples_grid_figure(grid) / class_balance_figure(counts)
clickable_confusion_figure(cm, view) / per_class_bars_figure(table)
outcome_figure(table) / agreement_per_class_figure({class: share})

"model" keys may be registry names, titles or short labels: each model is drawn in its own
colour (``core.palette``), the same in every chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import palette
from core.calibration import Reliability
from core.data import CLASS_NAMES


def model_colour(label: str) -> str:
    """The colour of the model a chart names ``label`` (registry name, title or short label)."""
    return palette.by_any_label().get(label, palette.FALLBACK)


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
        pd.DataFrame(rows),
        x="class",
        y=metric,
        color="model",
        barmode="group",
        range_y=[0, 1],
        color_discrete_map=palette.by_any_label(),
    )
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0), legend_title_text="")
    return fig


def reliability_figure(reliability_by_model: dict[str, Reliability]) -> go.Figure:
    """Accuracy against confidence per bin; a calibrated model lies on the diagonal."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        name="perfectly calibrated",
        line=dict(dash="dot", color=palette.OKABE_ITO["black"]),
    )
    for model, rel in reliability_by_model.items():
        bins = pd.DataFrame(rel.records())
        fig.add_scatter(
            x=bins["confidence"],
            y=bins["accuracy"],
            mode="lines+markers",
            name=model,
            line=dict(color=model_colour(model)),
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
            line=dict(color=model_colour(model)),
        )
    levels = ", ".join(f"{v:g}" for v in first["levels"])
    fig.update_layout(
        title=first["title"],
        height=320,
        margin=dict(l=0, r=0, t=40, b=0),
        # Two short lines, not one long one: a narrow chart clipped the long title at both ends.
        xaxis=dict(
            title=f"severity (0 = clean)<br><sup>{first['parameter']}: {levels}</sup>",
            dtick=1,
            automargin=True,
        ),
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


def accuracy_figure(
    ours: dict[str, float], reference: dict[str, tuple[str, float]] | None = None
) -> go.Figure:
    """Test accuracy: one bar per model in its colour (``ours``, keyed by registry name), with the
    published result beside it in grey where ``reference`` has one (name -> (title, accuracy)).
    Short labels on the axis, full titles in the legend and tooltips."""
    from core.registry import REGISTRY

    fig = go.Figure()
    for name, accuracy in ours.items():
        title = REGISTRY[name].title if name in REGISTRY else name
        fig.add_bar(
            x=[palette.short_label(name)],
            y=[accuracy],
            name=title,
            marker_color=palette.colour(name),
            offsetgroup="ours",
            hovertemplate=f"{title}<br>accuracy %{{y:.1%}}<extra></extra>",
        )
    refs = [(n, *r) for n, r in (reference or {}).items()]
    if refs:
        fig.add_bar(
            x=[palette.short_label(n) for n, _, _ in refs],
            y=[acc for _, _, acc in refs],
            name="reference (published result)",
            marker_color=palette.REFERENCE,
            offsetgroup="reference",
            customdata=[title for _, title, _ in refs],
            hovertemplate="%{customdata}<br>accuracy %{y:.1%}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        yaxis=dict(range=[0, 1], tickformat=".0%", title="test accuracy"),
        height=380,
        margin=dict(l=0, r=0, t=40, b=0),
        legend_title_text="",
    )
    return fig


# --- the dashboard pages' own figures ---------------------------------------------------------

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


def examples_grid_figure(grid: np.ndarray) -> go.Figure:
    """A grid of 32x32 images, one row per class (``grid``: (320, W, 3) uint8)."""
    fig = px.imshow(grid)
    fig.update_yaxes(
        tickmode="array",
        tickvals=[32 * c + 16 for c in range(len(CLASS_NAMES))],
        ticktext=list(CLASS_NAMES),
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=520, margin=dict(l=0, r=0, t=30, b=0), title="Examples per class")
    return fig


def class_balance_figure(counts: np.ndarray) -> go.Figure:
    """Test images per class."""
    balance = pd.DataFrame({"class": CLASS_NAMES, "test images": counts})
    fig = px.bar(balance, x="class", y="test images", title="Class balance (test set)")
    fig.update_layout(height=360, margin=dict(l=0, r=0, t=40, b=0))
    return fig


def clickable_confusion_figure(cm: np.ndarray, view: str = "counts") -> go.Figure:
    """The confusion matrix as counts or "normalised by true class", each cell clickable."""
    from core.compare import normalise_rows

    counts = view == "counts"
    fig = px.imshow(
        cm if counts else normalise_rows(cm),
        x=list(CLASS_NAMES),
        y=list(CLASS_NAMES),
        text_auto="d" if counts else ".0%",
        color_continuous_scale="Blues",
        labels=dict(x="predicted class", y="true class", color="images" if counts else "share"),
        aspect="auto",
    )
    # Heatmaps cannot be selected in Plotly, so an invisible marker on each cell takes the clicks.
    grid_x, grid_y = np.meshgrid(range(len(CLASS_NAMES)), range(len(CLASS_NAMES)))
    fig.add_scatter(
        x=[CLASS_NAMES[i] for i in grid_x.ravel()],
        y=[CLASS_NAMES[i] for i in grid_y.ravel()],
        customdata=np.asarray(cm).ravel(),
        mode="markers",
        marker=dict(size=28, opacity=0, symbol="square"),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} images<extra></extra>",
        showlegend=False,
    )
    fig.update_traces(hoverinfo="skip", hovertemplate=None, selector=dict(type="heatmap"))
    fig.update_layout(height=560, margin=dict(l=0, r=0, t=30, b=0))
    return fig


def per_class_bars_figure(table: pd.DataFrame) -> go.Figure:
    """Precision, recall and F1 per class (``table``: class, precision, recall, F1)."""
    long = table.melt(id_vars="class", value_vars=["precision", "recall", "F1"], var_name="metric")
    fig = px.bar(long, x="class", y="value", color="metric", barmode="group", range_y=[0, 1])
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0), legend_title_text="")
    return fig


def outcome_figure(outcome: pd.DataFrame) -> go.Figure:
    """Two models' test images by outcome (``outcome``: outcome, images)."""
    fig = px.bar(outcome, x="images", y="outcome", orientation="h", title="Test images by outcome")
    fig.update_layout(height=340, margin=dict(l=0, r=0, t=40, b=0), yaxis_title="")
    return fig


def agreement_per_class_figure(per_class: dict[str, float]) -> go.Figure:
    """The share of each true class's test images on which two models agree."""
    frame = pd.DataFrame({"class": list(per_class), "agreement": list(per_class.values())})
    fig = px.bar(frame, x="class", y="agreement", range_y=[0, 1], title="Agreement per true class")
    fig.update_layout(height=340, margin=dict(l=0, r=0, t=40, b=0), yaxis_tickformat=".0%")
    return fig

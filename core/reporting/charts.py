"""Plotly figures shared by the dashboard pages and the HTML report (no Streamlit here).

confusion_figure(cm) / per_class_figure({model: metrics}) / reliability_figure({model: rel})
robustness_figure(corruption, {model: robustness result})
accuracy_figure({name: accuracy}, {name: (reference title, accuracy)})
training_curves(records) / examples_grid_figure(grid) / class_balance_figure(counts)
clickable_confusion_figure(cm, view) / per_class_bars_figure(table)
outcome_figure(table) / agreement_per_class_figure({class: share})
upset_figure(patterns) / risk_coverage_figure({label: curve}) / detection_figure({model: ood})
map_figure(coords, y_true, probs, colouring)  (the embedding map)

"model" keys may be registry names, titles or short labels: each model is drawn in its own
colour (``core.reporting.palette``), the same in every chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis import embedding
from core.data.cifar10 import CLASS_NAMES
from core.reporting import palette

if TYPE_CHECKING:
    from core.analysis.calibration import Reliability

# The dots of the models that got a pattern's images wrong (agreement sets).
WRONG_DOT = "#D0D7DE"


def model_colour(label: str) -> str:
    """The colour of the model a chart names ``label`` (registry name, title or short label)."""
    return palette.by_any_label().get(label, palette.FALLBACK)


def model_style(label: str) -> palette.Style:
    """The whole style (colour, dash, marker, pattern) of the model a chart names ``label``."""
    return palette.styles_by_any_label().get(label, palette.Style(palette.FALLBACK))


def _line(label: str) -> dict:
    """A model's line and marker for a ``lines+markers`` trace: added models are dashed."""
    s = model_style(label)
    return dict(line=dict(color=s.colour, dash=s.dash), marker=dict(symbol=s.marker, size=7))


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
        pattern_shape="model",
        barmode="group",
        range_y=[0, 1],
        color_discrete_map=palette.by_any_label(),
        pattern_shape_map=palette.pattern_map(),
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
            **_line(model),
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
            **_line(model),
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


def accuracy_figure(
    ours: dict[str, float], reference: dict[str, tuple[str, float]] | None = None
) -> go.Figure:
    """Test accuracy: one bar per model in its colour (``ours``, keyed by registry name), with the
    published result beside it in grey where ``reference`` has one (name -> (title, accuracy)).
    Short labels on the axis, full titles in the legend and tooltips."""
    from core.store.catalog import title as full_title

    fig = go.Figure()
    for name, accuracy in ours.items():
        title = full_title(name)
        fig.add_bar(
            x=[palette.short_label(name)],
            y=[accuracy],
            name=title,
            marker_color=palette.colour(name),
            marker_pattern_shape=palette.style(name).pattern,
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
    """Loss and accuracy per epoch: each model in its colour (``core.reporting.palette``), one dash
    style per split.

    ``records`` are long rows ``{model, epoch, metric, split, value}``
    (``core.analysis.compare.history_records``; ``core.io.progress.curve_records`` adds running
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
    from core.analysis.compare import normalise_rows

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


def _confidence_trace(coords: np.ndarray, confidence: np.ndarray) -> go.Scattergl:
    return go.Scattergl(
        x=coords[:, 0],
        y=coords[:, 1],
        mode="markers",
        name="confidence",
        customdata=np.arange(len(coords)),
        marker=dict(
            size=4,
            color=confidence,
            colorscale="Viridis",
            cmin=0,
            cmax=1,
            colorbar=dict(title="confidence", tickformat=".0%"),
        ),
        hovertemplate="test image %{customdata}<br>confidence %{marker.color:.0%}<extra></extra>",
    )


def _group_traces(coords, y_true, probs, colouring, right_counts, n_models, hover_text):
    """One trace per group of ``embedding.point_groups`` (class, right/wrong, models right)."""
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    groups = embedding.point_groups(colouring, y_true, probs, right_counts, n_models)
    for label, rows, colour in groups:
        names = [
            f"{CLASS_NAMES[t]}, answered {CLASS_NAMES[p]} ({c:.0%})" if hover_text else ""
            for t, p, c in zip(y_true[rows], predicted[rows], confidence[rows], strict=True)
        ]
        yield go.Scattergl(
            x=coords[rows, 0],
            y=coords[rows, 1],
            mode="markers",
            name=label,
            customdata=rows,
            text=names,
            marker=dict(size=4, color=colour, opacity=0.75),
            hovertemplate="test image %{customdata}<br>%{text}<extra>%{fullData.name}</extra>",
        )


def map_figure(
    coords: np.ndarray,
    y_true: np.ndarray,
    probs: np.ndarray,
    colouring: str = "class",
    right_counts: np.ndarray | None = None,
    n_models: int = 1,
    marks: dict[str, np.ndarray] | None = None,
    height: int = 620,
    hover_text: bool = True,
) -> go.Figure:
    """The embedding map (``core.analysis.embedding``); every point carries its test-image row
    as ``customdata``.

    ``marks``: {label: (2,) position} drawn as large stars on top (an uploaded image, a picked
    test image). Without ``hover_text`` each dot says only its test-image number (a tenth of
    the size, for the report).
    """
    if colouring == "confidence":
        fig = go.Figure([_confidence_trace(coords, probs.max(axis=1))])
    else:
        fig = go.Figure(
            list(
                _group_traces(coords, y_true, probs, colouring, right_counts, n_models, hover_text)
            )
        )
    for label, position in (marks or {}).items():
        fig.add_trace(
            go.Scatter(
                x=[float(position[0])],
                y=[float(position[1])],
                mode="markers+text",
                name=label,
                text=[label],
                textposition="top center",
                marker=embedding.STAR,
                hoverinfo="name",
            )
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        dragmode="lasso",
        legend=dict(itemsizing="constant", title=embedding.COLOURINGS.get(colouring, colouring)),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, scaleanchor="x"),
        plot_bgcolor="white",
    )
    return fig


def detection_figure(summaries: dict[str, dict], titles: dict[str, str] | None = None) -> go.Figure:
    """Plotly bars per model: unfamiliar test images flagged by its chosen score, and by the
    top-probability baseline, at the threshold that 95 % of validation images pass."""
    names = list(summaries)
    labels = [(titles or {}).get(n, n) for n in names]
    fig = go.Figure()
    bars = {"chosen score": [summaries[n]["test"] for n in names]}
    bars["top probability (baseline)"] = [summaries[n]["test_all"]["msp"] for n in names]
    for label, measured in bars.items():
        fig.add_bar(
            name=label,
            x=labels,
            y=[m["detection"] for m in measured],
            customdata=[m["auroc"] for m in measured],
            hovertemplate="%{x}: %{y:.1%} flagged, AUROC %{customdata:.3f}<extra></extra>",
        )
    fig.add_hline(y=0.7, line_dash="dash", annotation_text="target 70 %")
    fig.update_layout(
        barmode="group",
        yaxis={"title": "unfamiliar test images flagged", "tickformat": ".0%", "range": [0, 1]},
        margin={"t": 30, "b": 10},
        height=360,
    )
    return fig


def risk_coverage_figure(
    curves: Mapping[str, pd.DataFrame], colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Accuracy on the answered images against the share answered, one line per model
    (``curves``: label -> ``risk_coverage``; ``colours``: label -> colour)."""
    long = pd.concat(
        [curve.assign(model=model) for model, curve in curves.items()], ignore_index=True
    )
    fig = px.line(
        long,
        x="coverage",
        y="accuracy",
        color="model",
        color_discrete_map=dict(colours or {}),
        line_dash="model",
        line_dash_map={m: model_style(m).dash for m in curves},
        custom_data=["threshold", "answered"],
    )
    fig.update_traces(
        hovertemplate="%{fullData.name}<br>answers %{x:.0%} (%{customdata[1]:,} images)"
        "<br>accuracy %{y:.2%}<br>abstains below %{customdata[0]:.2f}<extra></extra>"
    )
    fig.update_layout(
        height=420,
        margin=dict(l=0, r=0, t=10, b=0),
        xaxis=dict(title="share of images answered (coverage)", tickformat=".0%", range=[0, 1]),
        yaxis=dict(title="accuracy on the answered images", tickformat=".0%"),
        legend_title_text="",
    )
    return fig


def upset_figure(
    table: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    max_patterns: int = 20,
) -> go.Figure:
    """UpSet-style chart of ``patterns``' table: bars of image counts, largest first, over a
    dot matrix whose filled dots are the models right in each pattern (shared x axis: the
    pattern names). Selecting a bar or a column of dots selects the pattern (x = its name)."""
    models = [c for c in table.columns if c not in ("pattern", "images", "share", "models right")]
    shown = table.head(max_patterns)
    names = list(shown["pattern"])
    label = (labels or {}).get
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.03
    )
    fig.add_bar(
        x=names,
        y=shown["images"],
        text=shown["images"],
        textposition="outside",
        cliponaxis=False,
        marker_color="#59636E",
        customdata=shown["share"],
        hovertemplate="%{x}<br>%{y:,} images (%{customdata:.1%})<extra></extra>",
        name="images",
        row=1,
        col=1,
    )
    for model in models:
        right = shown[model].to_numpy(dtype=bool)
        colour = (colours or {}).get(model) or palette.colour(model)
        fig.add_scatter(
            x=names,
            y=[label(model, model)] * len(names),
            mode="markers",
            marker=dict(size=14, color=[colour if r else WRONG_DOT for r in right]),
            customdata=np.where(right, "right", "wrong"),
            hovertemplate=f"%{{x}}<br>{label(model, model)}: %{{customdata}}<extra></extra>",
            name=label(model, model),
            row=2,
            col=1,
        )
    fig.update_xaxes(showticklabels=False, type="category")
    fig.update_yaxes(title_text="test images", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_layout(
        height=300 + 28 * len(models),
        margin=dict(l=0, r=0, t=20, b=0),
        showlegend=False,
        clickmode="event+select",
        dragmode="select",
    )
    return fig

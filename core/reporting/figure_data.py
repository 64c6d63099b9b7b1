"""The numbers behind a Plotly figure, as a table: for people who cannot see the chart.

``figure_table(fig)`` reads the figure's own traces, so the table can never disagree with the
chart it stands beside. A heatmap (a confusion matrix) becomes its grid, rows by columns; bars,
lines and points become one row per point, with a column naming the series when there are
several. Pictures (image traces) have no numbers to read and give no table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def _axis_title(fig: go.Figure, trace, axis: str, values: list | None) -> str:
    ref = getattr(trace, f"{axis}axis", None) or axis  # "x", "x2", ...
    layout_axis = fig.layout[f"{axis}axis{ref[1:]}"]
    text = layout_axis.title.text if layout_axis and layout_axis.title else None
    if text:
        return text.split("<br>")[0]
    numeric = values is None or all(isinstance(v, int | float | np.number) for v in values)
    return f"{'value' if numeric else 'label'} ({axis})"


def _values(values) -> list | None:
    if values is None:
        return None
    return list(np.asarray(values, dtype=object).ravel())


def _heatmap_table(fig: go.Figure, trace) -> pd.DataFrame:
    z = np.asarray(trace.z, dtype=float)
    rows = _values(trace.y) or list(range(z.shape[0]))
    cols = _values(trace.x) or list(range(z.shape[1]))
    table = pd.DataFrame(z, index=[str(r) for r in rows], columns=[str(c) for c in cols])
    table.index.name = _axis_title(fig, trace, "y", rows)
    return table


def _point_rows(fig: go.Figure, trace) -> pd.DataFrame:
    x, y = _values(trace.x), _values(trace.y)
    if x is None and y is None:
        return pd.DataFrame()
    n = len(x if x is not None else y)
    x = x if x is not None else list(range(n))
    y = y if y is not None else list(range(n))
    return pd.DataFrame({_axis_title(fig, trace, "x", x): x, _axis_title(fig, trace, "y", y): y})


def figure_table(fig: go.Figure) -> pd.DataFrame | None:
    """The figure's numbers as a DataFrame, or None when it has none (a picture)."""
    traces = [t for t in fig.data if t.type != "image"]
    if not traces:
        return None
    heatmaps = [t for t in traces if t.type == "heatmap"]
    if len(heatmaps) == 1 and len(traces) == 1:
        return _heatmap_table(fig, heatmaps[0])
    parts = []
    for trace in traces:
        if trace.type == "heatmap":
            grid = _heatmap_table(fig, trace)
            part = grid.stack().rename("value").rename_axis(["row", "column"]).reset_index()
        else:
            part = _point_rows(fig, trace)
        if len(traces) > 1:
            part.insert(0, "series", trace.name or trace.type)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    # Traces on different axes (subplots) leave each other's columns empty: blank, not "None".
    for column in table.columns[table.isna().any()]:
        table[column] = ["" if pd.isna(v) else str(v) for v in table[column]]
    return table if len(table) else None

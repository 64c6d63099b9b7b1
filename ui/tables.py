"""Tables drawn one way: formatted numbers, and a dash where a value is missing.

Streamlit's data grid draws a missing cell as the word "None" whatever a Styler's ``na_rep``
says (it reads the raw values, not the Styler's text, for empty cells), so a reference row
without an F1 read "None" to a stakeholder. ``table(frame, formats)`` writes those cells as
"–" itself and keeps the numbers of every other cell sortable.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

MISSING = "–"


def with_gaps_filled(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """``frame`` with every column that has a missing value written as text: each value in
    its column's format, each gap as a dash."""
    out = frame.copy()
    for column in out.columns[out.isna().any()]:
        fmt = formats.get(column, "{}")
        out[column] = [MISSING if pd.isna(v) else fmt.format(v) for v in out[column]]
    return out


def table(frame: pd.DataFrame, formats: dict[str, str] | None = None, where=None, **kwargs):
    """``st.dataframe`` of ``frame`` (index hidden) with ``formats`` ({column: "{:.3f}"})."""
    formats = formats or {}
    shown = with_gaps_filled(frame, formats)
    numeric = {
        c: f for c, f in formats.items() if c in shown and pd.api.types.is_numeric_dtype(shown[c])
    }
    # Columns that became text keep their numbers' right alignment.
    right = {
        c: st.column_config.TextColumn(alignment="right")
        for c in formats
        if c in shown and c not in numeric
    }
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("width", "stretch")
    return (where or st).dataframe(
        shown.style.format(numeric),
        column_config={**right, **kwargs.pop("column_config", {})},
        **kwargs,
    )

"""A page's tables as its viewer reads them, found by their columns rather than their order.

A page draws its figures' data tables too ("Show data"), so "the first table" moves whenever a
chart is added above; a table is found by the columns it shows. Gaps are drawn as "–"
(``ui.tables``), which turns their column into text: ``as_read`` gives those cells back as
missing and the column's other cells as the numbers they show.
"""

from __future__ import annotations

import pandas as pd

from ui.tables import MISSING


def as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with "–" cells as missing and text columns of numbers as numbers."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind in "biufc":
            continue
        values = out[column].replace(MISSING, None)
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().sum() == values.notna().sum():
            out[column] = numbers
        else:
            out[column] = values
    return out


def table_with(at, *columns: str) -> pd.DataFrame:
    """The first table on the page that has every one of ``columns``, as read."""
    frames = [d.value for d in at.dataframe]
    for frame in frames:
        if set(columns) <= set(frame.columns):
            return as_read(frame)
    shown = [list(f.columns) for f in frames]
    raise AssertionError(f"no table with columns {list(columns)}; the page shows {shown}")

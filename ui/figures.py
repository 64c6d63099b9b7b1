"""Every chart of the dashboard drawn one way: with a title, and its numbers one click away.

``chart(fig, title, where)`` replaces ``st.plotly_chart``: the figure gets ``title`` when it has
none (a screen reader and a projector both need to know what a chart is), and a "Show data"
expander below holds the figure's own numbers as a table (core.reporting.figure_data), for
people who cannot see the chart.
"""

from __future__ import annotations

import streamlit as st

MIN_TOP_MARGIN = 40  # room for the title line that some figures were built without


def _title(fig) -> str | None:
    title = fig.layout.title
    return title.text if title and title.text else None


def chart(fig, title: str | None = None, where=None, **kwargs):
    """Draw ``fig`` in ``where`` (default: the page) and its data table; returns what
    ``st.plotly_chart`` returns (a selection event for ``on_select`` charts)."""
    from core.reporting.figure_data import figure_table

    where = where or st
    if _title(fig) is None:
        if not title:
            raise ValueError("every chart needs a title")
        top = fig.layout.margin.t if fig.layout.margin and fig.layout.margin.t else 0
        fig.update_layout(title=dict(text=title, x=0), margin_t=max(top, MIN_TOP_MARGIN))
    kwargs.setdefault("width", "stretch")
    event = where.plotly_chart(fig, **kwargs)
    table = figure_table(fig)
    if table is not None:
        heading = _title(fig).split("<br>")[0]
        with where.expander(f"Show data: {heading}", icon=":material/table:"):
            st.dataframe(table, width="stretch", hide_index=True)
    return event

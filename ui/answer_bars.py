"""A Live card's top-k classes as one HTML block: each class and probability as text over a thin
bar.

Streamlit's own ``st.progress`` drew the same, one element per class: with six models and three
classes each, the 18 bars cost about 0.05 s of an upload's 0.5 s target, Chromium and the server
sharing 2 cores (bench/README.md). The text carries the answer, so the bars are hidden from
screen readers; their colours follow the theme's text colour (ui/style.css).
"""

from __future__ import annotations

import html

# Every row is one of these, which the tests read back.
ROW_CLASS = "studio-answer"


def top_k_html(top: list[tuple[str, float]]) -> str:
    """(class, probability) pairs, most likely first -> one ``<div>`` per pair."""
    rows = []
    for cls, prob in top:
        width = min(max(float(prob), 0.0), 1.0) * 100
        rows.append(
            f'<div class="{ROW_CLASS}"><p>{html.escape(cls)} · {prob:.1%}</p>'
            f'<div class="studio-answer-track" aria-hidden="true">'
            f'<div class="studio-answer-fill" style="width: {width:.1f}%"></div></div></div>'
        )
    return "".join(rows)

"""The Live page's answer rows as a viewer reads them (``ui.answer_bars``): each row's class, its
probability as the text shows it, and how far its bar is filled."""

from __future__ import annotations

import re
from typing import NamedTuple

from ui.answer_bars import ROW_CLASS

_ROW = re.compile(
    rf'<div class="{ROW_CLASS}"><p>(?P<cls>[^<]+) · (?P<percent>[\d.]+)%</p>'
    r'.*?style="width: (?P<width>[\d.]+)%"'
)


class AnswerRow(NamedTuple):
    cls: str
    percent: float  # as the text says it
    width: float  # of the bar, in percent


def answer_rows(at) -> list[AnswerRow]:
    """Every answer row an AppTest run drew, in page order."""
    rows = []
    for block in at.get("html"):
        for m in _ROW.finditer(block.proto.body):
            rows.append(AnswerRow(m["cls"], float(m["percent"]), float(m["width"])))
    return rows

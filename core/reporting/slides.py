"""The deck for the meeting: one finding per slide, as an editable PowerPoint file (python-pptx).

    python -m core.report --pptx deck.pptx

Each slide has a title that states its finding, computed from the artifacts' numbers, one
chart or image table, at most two sentences, and speaker notes with the numbers and the command
that reproduces them: the headline results with 95 % intervals against the reference's, the
best model's lead (McNemar), per-class F1, the best model's confusion matrix, calibration before
and after temperature, robustness, Grad-CAM examples, the most confident mistakes and the model
cards. Bar and line charts are native PowerPoint charts (editable, their data inside); the
confusion matrix is a shaded table; images are PNGs. Models keep their colours
(``core.reporting.palette``). The file is 16:9, needs nothing online, and is byte for byte the same
for the same artifacts and date (the date is on the title slide and in the file's properties).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION, XL_MARKER_STYLE
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from core.analysis import calibration, compare, robustness, stats
from core.analysis.reference import REFERENCE, best_reference
from core.data.cifar10 import CLASS_NAMES, scale
from core.io import atomic
from core.reporting import palette
from core.reporting.examples import example_rows
from core.store import artifacts

DECK_COMMAND = "python -m core.report --pptx deck.pptx"
WIDTH, HEIGHT = Emu(12192000), Emu(6858000)  # 13.333 x 7.5 inches: 16:9
MARGIN = Inches(0.5)
INNER = WIDTH - 2 * MARGIN
CONTENT_TOP = Inches(2.0)
CONTENT_HEIGHT = HEIGHT - CONTENT_TOP - Inches(0.35)
TEXT = RGBColor(0x1F, 0x23, 0x28)
MUTED = RGBColor(0x59, 0x63, 0x6E)
MAX_SENTENCES = 2
CONFIDENT = 0.9  # a "confident" mistake: at least 90 % for the wrong answer
MISTAKES_SHOWN = 12
MAX_EXAMPLES = 4  # Grad-CAM rows that fit on a slide


@dataclass
class Results:
    """What every slide reads: the ready models' stored numbers (registry order)."""

    root: str | os.PathLike | None
    names: list[str]
    metrics: dict[str, dict] = field(default_factory=dict)
    config: dict[str, dict] = field(default_factory=dict)
    preds: dict[str, dict] = field(default_factory=dict)
    intervals: dict[str, dict] = field(default_factory=dict)
    not_ready: list[str] = field(default_factory=list)

    def accuracy(self, name: str) -> float:
        return float(self.metrics[name]["accuracy"])

    @property
    def ranked(self) -> list[str]:
        """Most accurate first (ties: registry order)."""
        return sorted(self.names, key=lambda n: -self.accuracy(n))


def load_results(root: str | os.PathLike | None = None, n_boot: int = 1000) -> Results:
    """The ready artifacts' metrics, configs, predictions and bootstrap intervals."""
    statuses = compare.statuses(root=root)
    names = [n for n, s in statuses.items() if s.ready]
    not_ready = [f"{title(n)}: {s.state}" for n, s in statuses.items() if not s.ready]
    out = Results(root, names, not_ready=not_ready)
    for name in names:
        art = artifacts.Artifact(name, root)
        out.metrics[name], out.config[name] = art.metrics(), art.config()
        out.preds[name] = art.predictions()
        p = out.preds[name]
        out.intervals[name] = stats.headline_intervals(p["y_true"], p["probs"], n_boot=n_boot)
    return out


def title(name: str) -> str:
    """The model's full title, shipped or added (its name if it is neither); an added model's
    marked "(imported)"."""
    from core.store.catalog import label

    return label(name)


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def _ci(value: float, interval: Sequence[float], digits: int = 3) -> str:
    """``0.922 (95% CI 0.917-0.927)``."""
    return f"{value:.{digits}f} (95% CI {interval[0]:.{digits}f}-{interval[1]:.{digits}f})"


def _minutes(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


# --- building blocks ---------------------------------------------------------------------------


def _text(shape, text: str, size: int, bold: bool = False, colour: RGBColor = TEXT) -> None:
    frame = shape.text_frame
    frame.word_wrap = True
    frame.text = text
    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.size, run.font.bold, run.font.color.rgb = Pt(size), bold, colour


def _slide(prs, heading: str, sentences: Sequence[str], notes: str):
    """A slide with its finding as the title, at most two sentences under it, and notes."""
    if len(sentences) > MAX_SENTENCES:
        raise ValueError(f"at most {MAX_SENTENCES} sentences per slide, got {len(sentences)}")
    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only"
    head = slide.shapes.title
    head.left, head.top, head.width, head.height = MARGIN, Inches(0.3), INNER, Inches(1.0)
    _text(head, heading, 26, bold=True)
    head.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
    head.text_frame.vertical_anchor = MSO_ANCHOR.TOP
    body = slide.shapes.add_textbox(MARGIN, Inches(1.3), INNER, Inches(0.65))
    body.name = "Finding"
    _text(body, " ".join(sentences), 15, colour=MUTED)
    slide.notes_slide.notes_text_frame.text = notes
    return slide


def _style_axes(chart, value_title: str, low: float | None, high: float | None, fmt: str):
    chart.has_title = False  # the slide's title says it; else a lone series names the chart
    axis = chart.value_axis
    axis.minimum_scale, axis.maximum_scale = low, high
    axis.has_major_gridlines = True
    axis.major_gridlines.format.line.color.rgb = RGBColor(0xD9, 0xD9, 0xD9)
    axis.tick_labels.number_format, axis.tick_labels.number_format_is_linked = fmt, False
    axis.has_title = True
    axis.axis_title.text_frame.text = value_title
    axis.axis_title.text_frame.paragraphs[0].runs[0].font.size = Pt(12)
    axis.tick_labels.font.size = Pt(12)
    chart.category_axis.tick_labels.font.size = Pt(12)
    chart.font.size = Pt(12)


def _legend(chart, show: bool) -> None:
    chart.has_legend = show
    if show:
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
        chart.legend.font.size = Pt(12)


def _fill(fmt, hex_colour: str) -> None:
    fmt.fill.solid()
    fmt.fill.fore_color.rgb = _rgb(hex_colour)


def bar_chart(
    slide,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str | Sequence[str]]],
    value_title: str,
    fmt: str = "0.00",
    horizontal: bool = False,
    bounds: tuple[float | None, float | None] = (0, 1),
    labels: bool = False,
    box: tuple[int, int, int, int] | None = None,
    legend: bool | None = None,
):
    """A native clustered bar chart; each series is (name, values, one colour or one per bar;
    None where a category has no bar).

    The legend shows when there are two or more series, unless ``legend`` says otherwise.
    """
    data = CategoryChartData(number_format=fmt)
    data.categories = list(categories)
    for name, values, _ in series:
        data.add_series(name, [None if v is None else float(v) for v in values])
    kind = XL_CHART_TYPE.BAR_CLUSTERED if horizontal else XL_CHART_TYPE.COLUMN_CLUSTERED
    left, top, width, height = box or (MARGIN, CONTENT_TOP, INNER, CONTENT_HEIGHT)
    chart = slide.shapes.add_chart(kind, left, top, width, height, data).chart
    for plotted, (_, _, colours) in zip(chart.plots[0].series, series, strict=True):
        if isinstance(colours, str):
            _fill(plotted.format, colours)
        else:
            _fill(plotted.format, colours[0])
            for i, colour in enumerate(colours):
                _fill(plotted.points[i].format, colour)
    chart.plots[0].gap_width = 60
    if horizontal:
        chart.category_axis.reverse_order = True  # the first category on top
    _style_axes(chart, value_title, *bounds, fmt)
    if labels:
        plot = chart.plots[0]
        plot.has_data_labels = True
        plot.data_labels.number_format, plot.data_labels.number_format_is_linked = fmt, False
        plot.data_labels.position = XL_LABEL_POSITION.INSIDE_BASE
        plot.data_labels.font.size = Pt(12)
    _legend(chart, len(series) > 1 if legend is None else legend)
    return chart


def error_bars(series, plus: Sequence[float], minus: Sequence[float]) -> None:
    """Custom error bars (e.g. a 95 % interval) on a bar series, as literal values."""
    bars = series._element.makeelement(qn("c:errBars"), {})
    for tag, val in (("c:errBarType", "both"), ("c:errValType", "cust"), ("c:noEndCap", "0")):
        bars.append(bars.makeelement(qn(tag), {"val": val}))
    for tag, values in (("c:plus", plus), ("c:minus", minus)):
        holder = bars.makeelement(qn(tag), {})
        lit = holder.makeelement(qn("c:numLit"), {})
        lit.append(lit.makeelement(qn("c:formatCode"), {}))
        lit[-1].text = "General"
        lit.append(lit.makeelement(qn("c:ptCount"), {"val": str(len(values))}))
        for i, value in enumerate(values):
            point = lit.makeelement(qn("c:pt"), {"idx": str(i)})
            point.append(point.makeelement(qn("c:v"), {}))
            point[-1].text = f"{max(float(value), 0.0):.6f}"
            lit.append(point)
        holder.append(lit)
        bars.append(holder)
    line = bars.makeelement(qn("c:spPr"), {})
    line.append(line.makeelement(qn("a:ln"), {"w": "19050"}))
    line[-1].append(line.makeelement(qn("a:solidFill"), {}))
    line[-1][-1].append(line.makeelement(qn("a:srgbClr"), {"val": "000000"}))
    bars.append(line)
    series._element.find(qn("c:cat")).addprevious(bars)  # the schema's place: before c:cat


def line_chart(
    slide,
    categories: Sequence[str],
    series: dict[str, tuple[Sequence[float], str]],
    value_title: str,
    category_title: str,
    bounds: tuple[float, float] = (0, 1),
):
    """A native line chart with markers, one coloured line per (name: (values, colour))."""
    data = CategoryChartData(number_format="0.000")
    data.categories = list(categories)
    for name, (values, _) in series.items():
        data.add_series(name, [float(v) for v in values])
    chart = slide.shapes.add_chart(
        XL_CHART_TYPE.LINE_MARKERS, MARGIN, CONTENT_TOP, INNER, CONTENT_HEIGHT, data
    ).chart
    for plotted, (_, colour) in zip(chart.plots[0].series, series.values(), strict=True):
        plotted.smooth = False
        plotted.format.line.color.rgb = _rgb(colour)
        plotted.format.line.width = Pt(2.5)
        plotted.marker.style, plotted.marker.size = XL_MARKER_STYLE.CIRCLE, 7
        _fill(plotted.marker.format, colour)
        plotted.marker.format.line.color.rgb = _rgb(colour)
    _style_axes(chart, value_title, *bounds, "0.0")
    axis = chart.category_axis
    axis.has_title = True
    axis.axis_title.text_frame.text = category_title
    axis.axis_title.text_frame.paragraphs[0].runs[0].font.size = Pt(12)
    _legend(chart, True)
    return chart


def table(
    slide,
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    size: int = 12,
    box: tuple[int, int, int, int] | None = None,
):
    """A plain table (first row a header); ``widths`` are relative column widths."""
    left, top, width, height = box or (MARGIN, CONTENT_TOP, INNER, CONTENT_HEIGHT)
    height = min(height, Inches(0.42) * len(rows))
    shape = slide.shapes.add_table(len(rows), len(rows[0]), left, top, width, height)
    grid = shape.table
    total = sum(widths)
    for j, w in enumerate(widths):
        grid.columns[j].width = Emu(int(width * w / total))
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            cell = grid.cell(i, j)
            cell.margin_left = cell.margin_right = Inches(0.06)
            cell.margin_top = cell.margin_bottom = Inches(0.03)
            _fill(cell, "#F2F2F2" if i == 0 else "#FFFFFF")
            _text(cell, str(value), size, bold=i == 0)
    return grid


def _png(image: np.ndarray, scale: int = 4) -> io.BytesIO:
    """A small image enlarged ``scale`` times without smoothing, as PNG bytes."""
    from PIL import Image

    pixels = np.asarray(image, dtype=np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=False)
    buf.seek(0)
    return buf


def picture(slide, image: np.ndarray, left: int, top: int, side: int, caption: str = "",
            width: int | None = None) -> None:  # fmt: skip
    """A square image with a caption (one line per ``\\n``) under it, centred in ``width``."""
    slide.shapes.add_picture(_png(image), left, top, side, side)
    if caption:
        width = width or side + Inches(0.2)
        lines = caption.count("\n") + 1
        box = slide.shapes.add_textbox(
            left + (side - width) // 2, top + side, width, Pt(6 + 14 * lines)
        )
        box.text_frame.margin_top = box.text_frame.margin_bottom = 0
        _text(box, caption, 11)
        for paragraph in box.text_frame.paragraphs:
            paragraph.alignment = PP_ALIGN.CENTER


# --- the slides ----------------------------------------------------------------------------------


def _cover(prs, r: Results, date: dt.date) -> None:
    best = r.ranked[0] if r.names else None
    heading = (
        f"{len(r.names)} trained CNNs on CIFAR-10: {title(best)} is the most accurate"
        if best
        else "CIFAR-10 CNN studio: no model is trained yet"
    )
    slide = _slide(
        prs,
        heading,
        [
            f"Measured on the test set of {compare.dataset_label(r.names, r.root)}, "
            f"{date.isoformat()}.",
            "Every number comes from a core command that anyone can rerun; each slide's notes "
            "give it.",
        ],
        f"Deck built from the artifacts folder by: {DECK_COMMAND}\n"
        f"Models: {', '.join(f'{title(n)} ({n})' for n in r.names) or 'none'}."
        + (f"\nNot included: {'; '.join(r.not_ready)}." if r.not_ready else ""),
    )
    ordered = r.ranked
    rows = [["model", "test accuracy"]] + [[title(n), f"{r.accuracy(n):.4f}"] for n in ordered]
    table(slide, rows, [3, 1], size=14, box=(MARGIN, CONTENT_TOP, Inches(7), CONTENT_HEIGHT))


def _headline(prs, r: Results) -> None:
    best, ref = r.ranked[0], best_reference()
    acc = r.intervals[best]["accuracy"]
    refs = list(REFERENCE.values())
    slide = _slide(
        prs,
        f"{title(best)} is most accurate: {_ci(r.accuracy(best), acc)}, "
        f"against the reference's best {ref.accuracy:.3f}",
        [
            f"Test accuracy of each model on {_n_test(r):,} images; whiskers: 95% bootstrap "
            "interval.",
            "Grey: the reference's reported results, which come without an interval.",
        ],
        _headline_notes(r),
    )
    cats = [palette.short_label(n) for n in r.names] + [_ref_label(x.title) for x in refs]
    ours = [r.accuracy(n) for n in r.names] + [None] * len(refs)
    theirs = [None] * len(r.names) + [x.accuracy for x in refs]
    series = [
        ("our models", ours, [palette.colour(n) for n in r.names]),
        ("reference (reported)", theirs, palette.REFERENCE),
    ]
    chart = bar_chart(
        slide, cats, series, "test accuracy", "0.000", horizontal=True, labels=True, legend=False
    )
    chart.plots[0].overlap = 100  # one bar per category: each holds one of the two series
    lows = [r.accuracy(n) - r.intervals[n]["accuracy"][0] for n in r.names] + [0] * len(refs)
    highs = [r.intervals[n]["accuracy"][1] - r.accuracy(n) for n in r.names] + [0] * len(refs)
    error_bars(chart.plots[0].series[0], highs, lows)


def _ref_label(reference_title: str) -> str:
    """``Reference Model 1 (12-layer VGG)`` -> ``Ref. Model 1``."""
    return "Ref. " + reference_title.removeprefix("Reference ").split(" (")[0]


def _n_test(r: Results) -> int:
    return max(len(p["y_true"]) for p in r.preds.values())


def _headline_notes(r: Results) -> str:
    lines = ["Test accuracy and macro F1 with 95% percentile-bootstrap intervals (seed 0):"]
    for n in r.names:
        m, ci = r.metrics[n], r.intervals[n]
        lines.append(
            f"- {title(n)}: accuracy {stats.format_interval(m['accuracy'], ci['accuracy'])}, "
            f"macro F1 {stats.format_interval(m['f1_macro'], ci['f1_macro'])}"
        )
    lines.append("The reference's reported results (no interval given):")
    lines += [f"- {x.title}: accuracy {x.accuracy:.4f}, F1 {x.f1:.4f}" for x in REFERENCE.values()]
    lines.append(
        "Reproduce: python -m core.evaluate MODEL (the metrics); the intervals: "
        f"core.analysis.stats.headline_intervals; the whole deck: {DECK_COMMAND}"
    )
    return "\n".join(lines)


def _lead(prs, r: Results) -> None:
    best = r.ranked[0]
    n = len(r.preds[best]["y_true"])
    others = [x for x in r.ranked[1:] if len(r.preds[x]["y_true"]) == n]
    if not others:
        _slide(
            prs,
            f"No other model is measured on {title(best)}'s test images: no lead to test yet",
            ["McNemar's test needs two models measured on the same test images."],
            f"Train another model (python -m core.train MODEL), then: {DECK_COMMAND}",
        )
        return
    y = r.preds[best]["y_true"]
    tests = {n: stats.mcnemar(y, r.preds[best]["probs"], r.preds[n]["probs"]) for n in others}
    runner = others[0]
    gap = (r.accuracy(best) - r.accuracy(runner)) * 100
    verdict = "is real" if tests[runner].p_value < 0.05 else "may be luck"
    slide = _slide(
        prs,
        f"{title(best)}'s lead over {title(runner)} {verdict}: {gap:.1f} points, "
        f"McNemar {stats.format_p(tests[runner].p_value)}",
        [
            tests[runner].sentence(palette.short_label(best), palette.short_label(runner)),
            "Only the images exactly one of the two models gets right count.",
        ],
        _lead_notes(best, tests),
    )
    bar_chart(
        slide,
        [palette.short_label(n) for n in others],
        [
            (f"only {palette.short_label(best)} right", [t.only_a_right for t in tests.values()],
             palette.colour(best)),
            ("only the other model right", [t.only_b_right for t in tests.values()],
             palette.FALLBACK),
        ],
        f"test images, {palette.short_label(best)} against each other model",
        "#,##0",
        bounds=(0, None),
        labels=True,
    )  # fmt: skip


def _lead_notes(best: str, tests: dict[str, stats.McNemar]) -> str:
    lines = [f"McNemar's exact test of {title(best)} against each other model:"]
    for name, test in tests.items():
        lines.append(
            f"- {title(name)}: only {title(best)} right on {test.only_a_right:,}, only "
            f"{title(name)} right on {test.only_b_right:,}, {stats.format_p(test.p_value)}. "
            + test.sentence(title(best), title(name))
        )
    lines.append(
        "Reproduce: core.analysis.stats.mcnemar(y_true, probs_a, probs_b) on the artifacts' "
        "test_predictions.npz; python -m core.report (section 'Is the difference real?'); "
        f"the deck: {DECK_COMMAND}"
    )
    return "\n".join(lines)


def _per_class(prs, r: Results) -> None:
    f1 = {n: [r.metrics[n]["per_class"][c]["f1"] for c in CLASS_NAMES] for n in r.names}
    mean = np.mean([f1[n] for n in r.names], axis=0)
    hard, easy = int(mean.argmin()), int(mean.argmax())
    hardest_for = sum(int(np.argmin(f1[n])) == hard for n in r.names)
    who = "every model" if hardest_for == len(r.names) else f"{hardest_for} of {len(r.names)}"
    slide = _slide(
        prs,
        f"{CLASS_NAMES[hard].capitalize()} is the hardest class for {who} (mean F1 "
        f"{mean[hard]:.2f}); {CLASS_NAMES[easy]} the easiest ({mean[easy]:.2f})",
        ["F1 on the test set per class: the balance of precision and recall, 1 is perfect."],
        "Per-class F1:\n"
        + "\n".join(f"- {title(n)}: " + _per_class_line(f1[n]) for n in r.names)
        + f"\nReproduce: python -m core.evaluate MODEL (its per-class table); {DECK_COMMAND}",
    )
    bar_chart(
        slide,
        list(CLASS_NAMES),
        [(palette.short_label(n), f1[n], palette.colour(n)) for n in r.names],
        "F1",
        "0.0",
    )


def _per_class_line(values: Sequence[float]) -> str:
    return ", ".join(f"{c} {v:.3f}" for c, v in zip(CLASS_NAMES, values, strict=True))


def _confusion(prs, r: Results) -> None:
    best = r.ranked[0]
    cm = np.asarray(r.metrics[best]["confusion_matrix"], dtype=np.int64)
    top = compare.most_confused(cm, k=5)
    worst = top[0] if top else None
    heading = (
        f"{title(best)} most often takes a {worst['true']} for a {worst['predicted']}: "
        f"{worst['count']:,} of {int(cm[CLASS_NAMES.index(worst['true'])].sum()):,} "
        f"({worst['share_of_true']:.0%})"
        if worst
        else f"{title(best)} makes no mistake on the test set"
    )
    slide = _slide(
        prs,
        heading,
        [
            "Rows: the true class; columns: the predicted class; the grey diagonal holds the "
            "right answers.",
            "The darker a blue cell, the more common that mistake.",
        ],
        f"Confusion matrix of {title(best)} ({best}), the most accurate model. Most common "
        "mistakes:\n"
        + "\n".join(
            f"- {c['true']} taken for {c['predicted']}: {c['count']:,} ({c['share_of_true']:.1%}"
            " of that class)"
            for c in top
        )
        + f"\nReproduce: python -m core.evaluate {best}; {DECK_COMMAND}",
    )
    confusion_table(slide, cm)


def _blue(share: float) -> str:
    """White to dark blue (Plotly's "Blues" ends) for a share in [0, 1]."""
    low, high = np.array([0xF7, 0xFB, 0xFF]), np.array([0x08, 0x30, 0x6B])
    rgb = low + (high - low) * float(np.clip(share, 0.0, 1.0))
    return "#" + "".join(f"{int(round(c)):02X}" for c in rgb)


def confusion_table(slide, cm: np.ndarray):
    """The confusion matrix as a table whose off-diagonal cells are shaded by their count."""
    labels = [c[:5] if len(c) > 6 else c for c in CLASS_NAMES]
    rows = [["true \\ predicted", *labels]] + [
        [CLASS_NAMES[i], *(f"{v:,}" for v in cm[i])] for i in range(len(cm))
    ]
    box = (MARGIN + Inches(1.2), CONTENT_TOP, INNER - Inches(2.4), CONTENT_HEIGHT)
    grid = table(slide, rows, [1.8] + [1] * len(cm), size=12, box=box)
    off = cm[~np.eye(len(cm), dtype=bool)]
    peak = max(int(off.max()) if off.size else 0, 1)
    for i in range(len(cm)):
        for j in range(len(cm)):
            cell = grid.cell(i + 1, j + 1)
            share = cm[i, j] / peak
            colour = "#D9D9D9" if i == j else _blue(share)
            _fill(cell, colour)
            dark = i != j and share > 0.55
            _text(cell, f"{cm[i, j]:,}", 12, bold=i == j, colour=_rgb("#FFFFFF") if dark else TEXT)
            cell.text_frame.paragraphs[0].alignment = PP_ALIGN.RIGHT
    return grid


def _calibration(prs, r: Results) -> None:
    summaries = {n: calibration.for_artifact(n, r.root) for n in r.names}
    fitted = [n for n in r.names if summaries[n]["temperature"] is not None]
    before = [summaries[n]["test"]["ece_before"] for n in r.names]
    after = [summaries[n]["test"].get("ece_after", b) for n, b in zip(r.names, before, strict=True)]
    if fitted:
        better = sum(
            summaries[n]["test"]["ece_after"] < summaries[n]["test"]["ece_before"] for n in fitted
        )
        who = "every model" if better == len(r.names) else f"{better} of {len(r.names)} models"
        heading = (
            f"Temperature scaling cuts the calibration error of {who}: worst ECE "
            f"{max(before):.3f} before, {max(after):.3f} after"
        )
    else:
        heading = f"Calibration error (ECE) ranges from {min(before):.3f} to {max(before):.3f}"
    slide = _slide(
        prs,
        heading,
        [
            "Expected calibration error on the test set (15 bins; 0 means a stated 80% "
            "confidence is right 80% of the time): grey before, coloured after temperature "
            "scaling.",
            "The temperature is fitted on the validation split, never the test set, and "
            "changes no answer.",
        ],
        _calibration_notes(summaries),
    )
    bar_chart(
        slide,
        [palette.short_label(n) for n in r.names],
        [
            ("before temperature", before, palette.REFERENCE),
            ("after temperature", after, [palette.colour(n) for n in r.names]),
        ],
        "expected calibration error (lower is better)",
        "0.000",
        bounds=(0, None),
        labels=True,
        legend=False,
    )


def _calibration_notes(summaries: dict[str, dict]) -> str:
    lines = ["Test ECE and NLL before -> after temperature scaling (T fitted on validation):"]
    for name, s in summaries.items():
        test, t = s["test"], s["temperature"]
        lines.append(
            f"- {title(name)}: ECE {test['ece_before']:.4f}, NLL {test['nll_before']:.4f}"
            + (
                " (no validation predictions: no temperature)"
                if t is None
                else f" -> T {t:.3f}: ECE {test['ece_after']:.4f}, NLL {test['nll_after']:.4f}"
            )
        )
    lines.append(f"Reproduce: python -m core.calibration {' '.join(summaries)}; {DECK_COMMAND}")
    return "\n".join(lines)


def _robustness(prs, r: Results) -> None:
    results = {n: res for n in r.names if (res := robustness.load(n, r.root))}
    missing = [n for n in r.names if n not in results]
    command = f"python -m core.robustness {' '.join(missing or r.names)}"
    if not results:
        _slide(
            prs,
            "Robustness is not measured yet for any model",
            [f"Measure it with: {command}."],
            f"Reproduce: {command}; then {DECK_COMMAND}",
        )
        return
    best = max(results, key=lambda n: results[n]["mean_corrupted_accuracy"])
    res = results[best]
    heading = (
        f"{title(best)} holds up best under corruption: {res['mean_corrupted_accuracy']:.3f} "
        f"mean accuracy, {res['drop']:.3f} below its clean {res['clean_accuracy']:.3f}"
    )
    sentences = [
        f"Mean accuracy over {len(robustness.CORRUPTIONS)} corruptions (noise, blur, "
        "brightness, contrast, JPEG, pixelation) at each severity; 0 is the clean image.",
        f"{res['n_images']:,} test images, the same for every model"
        + (
            f"; not measured: {', '.join(palette.short_label(n) for n in missing)}."
            if missing
            else "."
        ),
    ]
    slide = _slide(prs, heading, sentences, _robustness_notes(results, missing))
    curves = {}
    for name, result in results.items():
        by_severity = np.mean([c["accuracy"] for c in result["corruptions"].values()], axis=0)
        curves[palette.short_label(name)] = (
            [result["clean_accuracy"], *by_severity],
            palette.colour(name),
        )
    severities = [str(s) for s in (0, *robustness.SEVERITIES)]
    line_chart(slide, severities, curves, "mean accuracy", "severity (0 = clean)")


def _robustness_notes(results: dict[str, dict], missing: list[str]) -> str:
    lines = ["Accuracy under corruption (mean over six corruptions and five severities):"]
    for name, result in results.items():
        worst = min(result["corruptions"].values(), key=lambda c: c["accuracy"][-1])
        lines.append(
            f"- {title(name)}: {robustness.summary_line(result)}; hardest at severity 5: "
            f"{worst['title']} ({worst['accuracy'][-1]:.3f})"
        )
    if missing:
        lines.append(f"Not measured: {', '.join(title(n) for n in missing)}.")
    first = next(iter(results.values()))
    lines.append(f"Images: {first.get('subset', '')}.")
    lines.append(f"Reproduce: python -m core.robustness {' '.join(results)}; {DECK_COMMAND}")
    return "\n".join(lines)


@dataclass
class CamExamples:
    """Real Grad-CAM of the shipped models on a few test images (one per class)."""

    rows: np.ndarray  # test-set rows
    images: np.ndarray  # (n, 32, 32, 3) uint8
    labels: np.ndarray  # (n,) true classes
    # name -> (explained class (n,), its probability (n,), heatmaps (n, 32, 32), layer), or why not
    maps: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, str] | str]
    seconds: float  # how long loading the models and computing the maps took

    def centre_share(self) -> float:
        """Mean share of the heat in the middle quarter of the image (a quarter by area)."""
        shares = []
        for found in self.maps.values():
            if isinstance(found, str):
                continue
            heat = found[2]
            h, w = heat.shape[1:]
            middle = heat[:, h // 4 : h - h // 4, w // 4 : w - w // 4].sum(axis=(1, 2))
            total = heat.sum(axis=(1, 2))
            shares += list(middle[total > 0] / total[total > 0])
        return float(np.mean(shares)) if shares else 0.0


def gradcam_examples(r: Results, n_examples: int) -> CamExamples | str:
    """Grad-CAM of every ready model on ``n_examples`` test images (the report's choice,
    ``core.reporting.examples``), or the reason it cannot be computed. Loads TensorFlow and
    each model."""
    from core.analysis.gradcam import GradCam
    from core.store.samples import SamplesUnavailable, load_test_images

    started = time.perf_counter()
    try:
        samples = load_test_images(r.root)
    except SamplesUnavailable as exc:
        return f"The test images are not available: {exc}"
    rows = example_rows(samples.labels, n_examples)
    images = samples.images[rows]
    maps: dict = {}
    for name in r.names:
        try:
            model = artifacts.Artifact(name, r.root).load_model()
            cam = GradCam.for_model(name, model)
            probs = np.asarray(model(scale(images), training=False))  # the whole model's answer
            result = cam(images, probs.argmax(axis=1))
            chosen = probs[np.arange(len(rows)), result.class_index]
            maps[name] = (result.class_index, chosen, result.heatmaps, cam.layer_name)
        except (artifacts.ArtifactError, ValueError) as exc:
            maps[name] = str(exc)
    seconds = time.perf_counter() - started
    return CamExamples(rows, images, samples.labels[rows], maps, seconds)


def _gradcam(prs, r: Results, n_examples: int) -> None:
    found = gradcam_examples(r, n_examples)
    if isinstance(found, str):
        _slide(prs, "Grad-CAM examples are not available", [found], f"Then: {DECK_COMMAND}")
        return
    share = found.centre_share()
    where = (
        f"the models' heat sits mostly in the image centre ({share:.0%} in its middle quarter)"
        if share >= 0.4
        else f"the models' heat spreads beyond the image centre ({share:.0%} in its middle quarter)"
    )
    done = [m for m in found.maps.values() if not isinstance(m, str)]
    right = sum(int(np.sum(m[0] == found.labels)) for m in done)
    slide = _slide(
        prs,
        f"Grad-CAM: {where}",
        [
            f"Each model's answer on {len(found.rows)} test images and the pixels that pushed it "
            "there (bright yellow).",
            f"{right} of {len(done) * len(found.rows)} answers are right.",
        ],
        _gradcam_notes(found, r),
    )
    _gradcam_grid(slide, found, r)


def _gradcam_grid(slide, found: CamExamples, r: Results) -> None:
    from core.analysis.gradcam import overlay

    columns, n = 1 + len(r.names), len(found.rows)
    col = INNER // columns
    header = Inches(0.4)
    row_h = (CONTENT_HEIGHT - header) // n
    side = min(row_h - Pt(24), col - Inches(0.2))
    for j, label in enumerate(["test image", *(palette.short_label(x) for x in r.names)]):
        box = slide.shapes.add_textbox(MARGIN + j * col, CONTENT_TOP, col, header)
        _text(box, label, 12, bold=True)
        box.text_frame.paragraphs[0].alignment = PP_ALIGN.CENTER
        if j:
            left, top = MARGIN + j * col + Inches(0.2), CONTENT_TOP + header - Pt(5)
            bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, left, top, col - Inches(0.4), Pt(4))
            _fill(bar, palette.colour(r.names[j - 1]))
            bar.line.fill.background()
    for i in range(n):
        top = CONTENT_TOP + header + i * row_h
        inset = (col - side) // 2
        truth = f"true: {CLASS_NAMES[found.labels[i]]}"
        picture(slide, found.images[i], MARGIN + inset, top, side, truth, col)
        for j, name in enumerate(r.names, start=1):
            m, left = found.maps[name], MARGIN + j * col + inset
            if isinstance(m, str):
                _text(slide.shapes.add_textbox(left, top, side, side), "not computed", 11)
                continue
            k = int(m[0][i])
            mark = "" if k == found.labels[i] else "wrong: "
            caption = f"{mark}{CLASS_NAMES[k]} {m[1][i]:.0%}"
            picture(slide, overlay(found.images[i], m[2][i], alpha=0.5), left, top, side,
                    caption, col)  # fmt: skip


def _gradcam_notes(found: CamExamples, r: Results) -> str:
    lines = [
        f"Grad-CAM (Selvaraju et al. 2017) of the shipped models on test rows "
        f"{', '.join(str(x) for x in found.rows)}; {found.centre_share():.1%} of the heat lies "
        "in the middle quarter of the image (a quarter of its area)."
    ]
    for name in r.names:
        m = found.maps[name]
        if isinstance(m, str):
            lines.append(f"- {title(name)}: not computed ({m})")
            continue
        answers = ", ".join(f"{CLASS_NAMES[k]} {p:.1%}" for k, p in zip(m[0], m[1], strict=True))
        lines.append(f"- {title(name)} (layer {m[3]}): {answers}")
    lines.append(
        f"Reproduce: python -m core.report --examples {len(found.rows)} (the same images in the "
        f"HTML report); the Live and Per-class pages; {DECK_COMMAND}"
    )
    return "\n".join(lines)


def _mistakes(prs, r: Results) -> None:
    from core.analysis.mistakes import confident_mistakes

    best = r.ranked[0]
    y = r.preds[best]["y_true"]
    same = {n: r.preds[n]["probs"] for n in r.names if len(r.preds[n]["y_true"]) == len(y)}
    wrong = confident_mistakes(y, same, best)
    sure = int((wrong[f"{best} confidence"] >= CONFIDENT).sum())
    if wrong.empty:
        _slide(prs, f"{title(best)} makes no mistake on the test set", [], DECK_COMMAND)
        return
    first, shown = wrong.iloc[0], wrong.head(MISTAKES_SHOWN)
    slide = _slide(
        prs,
        f"{title(best)}'s surest mistake: a {first['true']} it calls a {first[best]} "
        f"({first[f'{best} confidence']:.0%}); {sure:,} of its {len(wrong):,} mistakes are at "
        f"{CONFIDENT:.0%} or more",
        [
            f"Its {len(shown)} most confident wrong answers: the true class, then its answer and "
            "confidence.",
            "Some may be mislabelled test images; the Mistakes page lists those every model "
            "agrees on.",
        ],
        _mistakes_notes(best, shown, same),
    )
    images = _test_images(r.root, len(y))
    if images is None:
        rows = [["test row", "true", "answer", "confidence"]]
        rows += [
            [str(t.row), t.true, t[best], f"{t[f'{best} confidence']:.1%}"]
            for _, t in shown.iterrows()
        ]
        table(slide, rows, [1, 2, 2, 1])
        return
    per_row = (MISTAKES_SHOWN + 1) // 2
    col, side = INNER // per_row, Inches(1.55)
    for i, (_, t) in enumerate(shown.iterrows()):
        left = MARGIN + (i % per_row) * col + (col - side) // 2
        top = CONTENT_TOP + Inches(0.1) + (i // per_row) * (side + Inches(0.75))
        caption = f"true: {t['true']}\nsaid: {t[best]} {t[f'{best} confidence']:.1%}"
        picture(slide, images[int(t["row"])], left, top, side, caption, col)


def _test_images(root, n: int) -> np.ndarray | None:
    """The shipped test images, if there are ``n`` of them (the predictions' order)."""
    from core.store.samples import SamplesUnavailable, load_test_images

    try:
        samples = load_test_images(root)
    except SamplesUnavailable:
        return None
    return samples.images if len(samples.images) == n else None


def _mistakes_notes(best: str, top, probs_by_model: dict) -> str:
    lines = [f"{title(best)}'s most confident mistakes (test row: true -> answer, confidence):"]
    for _, t in top.iterrows():
        others = ", ".join(f"{palette.short_label(n)} {t[n]}" for n in probs_by_model if n != best)
        lines.append(
            f"- row {t['row']}: {t['true']} -> {t[best]} {t[f'{best} confidence']:.1%}"
            + (f" (others: {others})" if others else "")
        )
    lines.append(
        "Reproduce: core.analysis.mistakes.confident_mistakes"
        f"(y_true, probs, '{best}') on the artifacts' "
        f"test_predictions.npz; the Mistakes page; {DECK_COMMAND}"
    )
    return "\n".join(lines)


def _cards(prs, r: Results) -> None:
    from core.analysis.reference import dataset_label

    hours = {n: r.config[n].get("wall_time_s") or 0 for n in r.names}
    quick, slow = min(r.names, key=hours.get), max(r.names, key=hours.get)
    cores = sorted({str(r.config[n].get("machine", {}).get("cpu_count", "?")) for n in r.names})
    slide = _slide(
        prs,
        f"Model cards: training took {_minutes(hours[quick])} ({palette.short_label(quick)}) to "
        f"{_minutes(hours[slow])} ({palette.short_label(slow)}) on {'/'.join(cores)} CPU cores",
        [
            "Each model's essentials from its card; the full card is in its artifact "
            "(MODEL_CARD.md) and on the Report page."
        ],
        _cards_notes(r),
    )
    rows = [["model", "test accuracy", "parameters", "epochs", "training", "CIFAR-10", "finished"]]
    for n in r.names:
        cfg = r.config[n]
        rows.append(
            [
                title(n),
                f"{r.accuracy(n):.4f}",
                f"{cfg.get('parameters', 0):,}",
                str(cfg.get("epochs_trained", "-")),
                _minutes(cfg.get("wall_time_s")),
                dataset_label(cfg.get("dataset", {}).get("id"))
                .removeprefix("CIFAR-10 (")
                .removesuffix(")"),
                str(cfg.get("finished", "-"))[:10],
            ]
        )
    table(slide, rows, [3.2, 1.3, 1.5, 0.9, 1.1, 2.0, 1.4], size=13)


def _cards_notes(r: Results) -> str:
    lines = ["Model cards, essentials:"]
    for n in r.names:
        cfg = r.config[n]
        machine = cfg.get("machine", {})
        lines.append(
            f"- {title(n)} ({n}): accuracy {r.accuracy(n):.4f}; {cfg.get('parameters', 0):,} "
            f"parameters; {cfg.get('epochs_trained', '-')} epochs in "
            f"{_minutes(cfg.get('wall_time_s'))} on {machine.get('cpu_count', '?')} CPU cores; "
            f"trained with: {cfg.get('command', '-')}"
        )
    lines.append(f"Reproduce the deck: {DECK_COMMAND}")
    return "\n".join(lines)


# --- the file ------------------------------------------------------------------------------------


def build_deck(
    root: str | os.PathLike | None = None,
    n_examples: int = 4,
    n_boot: int = 1000,
    date: dt.date | None = None,
) -> bytes:
    """The whole deck as .pptx bytes; the same bytes for the same artifacts and ``date``
    (default today). Grad-CAM runs on ``n_examples`` test images (at most ``MAX_EXAMPLES``);
    0 leaves out its slide and TensorFlow."""
    date = date or dt.date.today()
    results = load_results(root, n_boot)
    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDTH, HEIGHT
    _cover(prs, results, date)
    if results.names:
        for make in (_headline, _lead, _per_class, _confusion, _calibration, _robustness):
            make(prs, results)
        if n_examples:
            _gradcam(prs, results, min(n_examples, MAX_EXAMPLES))
        _mistakes(prs, results)
        _cards(prs, results)
    props = prs.core_properties
    props.title, props.author = "CIFAR-10 CNN studio: results", "CIFAR-10 CNN studio"
    props.last_modified_by, props.revision = "CIFAR-10 CNN studio", 1
    props.created = props.modified = dt.datetime(date.year, date.month, date.day)
    buf = io.BytesIO()
    prs.save(buf)
    return _rezip(buf.getvalue(), date)


ZIP_EPOCH = dt.date(1980, 1, 1)  # the earliest date a zip member can carry
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def _rezip(blob: bytes, date: dt.date) -> bytes:
    """The package with ``date`` as its creation time and nothing else that changes from run
    to run: python-pptx and XlsxWriter stamp the time of day, into the deck's properties and
    into each embedded workbook (a chart's data), which get a fixed date instead."""
    stamp = date.isoformat().encode() + b"T00:00:00Z"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".xlsx"):
                data = _rezip(data, ZIP_EPOCH)
            elif info.filename == "docProps/core.xml":
                data = _STAMP.sub(stamp, data)
            member = zipfile.ZipInfo(info.filename, (*ZIP_EPOCH.timetuple()[:3], 0, 0, 0))
            member.compress_type, member.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            dst.writestr(member, data)
    return out.getvalue()


def write_deck(
    out: str | os.PathLike,
    root: str | os.PathLike | None = None,
    n_examples: int = 4,
    n_boot: int = 1000,
    date: dt.date | None = None,
) -> Path:
    """``build_deck`` written to ``out`` atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(out, build_deck(root, n_examples, n_boot, date))
    return out

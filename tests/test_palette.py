"""One colour per model (core.reporting.palette), distinct for colour-blind readers too, in every
chart."""

import itertools

import numpy as np
import plotly.express as px
import pytest

from core.data.cifar10 import CLASS_NAMES
from core.models.registry import REGISTRY
from core.reporting import charts, palette
from tests.conftest import FAKE_MODELS

# Machado, Oliveira and Fernandes (2009), severity 1.0, on linear RGB: how a protanope,
# deuteranope or tritanope sees a colour.
VISION = {
    "normal": np.eye(3),
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}
# CIE76 colour difference: ~2.3 is just noticeable side by side; two lines or bars in a legend
# need far more. Okabe-Ito keeps every pair here >= 14 under all four kinds of vision, while
# Plotly's default sequence (the studio's colours before) falls below 2 for a protanope.
MIN_DELTA_E = 10.0


def _linear_rgb(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    ) @ np.clip(linear_rgb, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def min_delta_e(colours: list[str], vision: str) -> float:
    """The smallest CIE76 difference between two of ``colours`` as ``vision`` sees them."""
    labs = [_lab(np.asarray(VISION[vision]) @ _linear_rgb(c)) for c in colours]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(labs, 2))


def _model_colours() -> list[str]:
    return [palette.colour(name) for name in REGISTRY] + [palette.REFERENCE]


def test_every_model_has_its_own_colour_and_short_label():
    colours = _model_colours()
    assert len(set(colours)) == len(colours)
    assert palette.FALLBACK not in colours
    labels = [palette.short_label(name) for name in REGISTRY]
    assert len(set(labels)) == len(labels)
    assert all(len(label) <= 10 for label in labels), "short labels fit a narrow card"


@pytest.mark.parametrize("vision", list(VISION))
def test_the_model_colours_stay_apart_for_colour_blind_readers(vision):
    assert min_delta_e(_model_colours(), vision) >= MIN_DELTA_E


def test_the_colour_blind_check_rejects_plotlys_default_sequence():
    plotly_default = px.colors.qualitative.Plotly[: len(REGISTRY)] + [palette.REFERENCE]
    assert min(min_delta_e(plotly_default, v) for v in VISION) < MIN_DELTA_E


def _per_class_metrics(seed: int) -> dict:
    f1 = np.random.default_rng(seed).uniform(0.5, 0.9, len(CLASS_NAMES))
    return {"per_class": {c: {"f1": float(v)} for c, v in zip(CLASS_NAMES, f1, strict=True)}}


def _trace_colours(fig) -> dict[str, str]:
    """Legend name -> the trace's colour (bar marker or line)."""
    colour = {"bar": lambda t: t.marker.color, "scatter": lambda t: t.line.color}
    return {
        t.name: colour[t.type](t)
        for t in fig.data
        if t.type in colour and t.showlegend is not False
    }


@pytest.mark.parametrize(
    "label",
    [lambda n: n, lambda n: REGISTRY[n].title, palette.short_label],
    ids=["name", "title", "short label"],
)
def test_the_per_class_chart_draws_each_model_in_its_colour(label):
    # The chart of the Comparison page (keyed by title) and of the report (keyed by name).
    a, b = "vgg12", "vgg12_opt"
    fig = charts.per_class_figure(
        {label(a): _per_class_metrics(0), label(b): _per_class_metrics(1)}
    )
    assert _trace_colours(fig) == {label(a): palette.colour(a), label(b): palette.colour(b)}


def test_the_robustness_chart_draws_each_model_in_its_colour_under_a_two_line_axis_title():
    result = {
        "clean_accuracy": 0.8,
        "corruptions": {
            "pixelate": {
                "title": "Pixelation",
                "parameter": "side of the downscaled image (pixels)",
                "levels": [28, 24, 20, 16, 12],
                "accuracy": [0.7, 0.6, 0.5, 0.4, 0.3],
            }
        },
    }
    titles = {REGISTRY[n].title: n for n in ("custom", "resnet50_transfer")}
    fig = charts.robustness_figure("pixelate", {t: result for t in titles})
    assert _trace_colours(fig) == {t: palette.colour(n) for t, n in titles.items()}
    # The report clipped one long axis title at both ends; each line is short now.
    lines = fig.layout.xaxis.title.text.replace("<sup>", "").replace("</sup>", "").split("<br>")
    assert len(lines) == 2 and max(len(line) for line in lines) <= 60


def test_the_accuracy_chart_puts_short_labels_on_the_axis_and_titles_in_the_legend():
    fig = charts.accuracy_figure({"vgg12": 0.8, "resnet50_transfer": 0.9}, {"vgg12": ("Ref", 0.74)})
    ours = [t for t in fig.data if t.offsetgroup == "ours"]
    assert [(t.name, t.marker.color, tuple(t.x)) for t in ours] == [
        (REGISTRY["vgg12"].title, palette.colour("vgg12"), ("Model 1",)),
        (REGISTRY["resnet50_transfer"].title, palette.colour("resnet50_transfer"), ("ResNet50",)),
    ]
    (ref,) = [t for t in fig.data if t.offsetgroup == "reference"]
    assert ref.marker.color == palette.REFERENCE and tuple(ref.x) == ("Model 1",)


def test_training_curves_draw_each_model_in_its_colour():
    records = [
        {"model": REGISTRY[n].title, "epoch": e, "metric": m, "split": "train", "value": 0.5}
        for n in ("custom", "vgg16_transfer")
        for e in (1, 2)
        for m in ("loss", "accuracy")
    ]
    fig = charts.training_curves(records)
    assert {t.name: t.line.color for t in fig.data} == {
        f"{REGISTRY[n].title} · train": palette.colour(n) for n in ("custom", "vgg16_transfer")
    }


def test_the_reports_charts_draw_each_model_in_its_colour(fake_root, monkeypatch):
    from core.reporting import report

    drawn = []
    monkeypatch.setattr(report, "_figure", lambda fig: drawn.append(fig) or "")
    report.build_report(fake_root, n_examples=0, n_boot=10)
    expected = {REGISTRY[n].title: palette.colour(n) for n in FAKE_MODELS}
    per_model = [_trace_colours(fig) for fig in drawn if set(expected) <= set(_trace_colours(fig))]
    # Per-class F1 and the reliability diagram (only custom has robustness.json there).
    assert len(per_model) >= 2
    for colours in per_model:
        assert {k: v for k, v in colours.items() if k in expected} == expected

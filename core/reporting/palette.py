"""One colour and one short label per model, the same on every page, in the report and slides.

The colours are Okabe and Ito's palette ("Color Universal Design", 2008), chosen to stay
distinct for the common forms of colour blindness; its yellow is left out, being too pale on a
white page. Model 1 and Model 2 (one family) get the palette's two blues.

The six shipped models take six of the eight colours, so colour alone cannot tell added models
(``python -m core.add_model``) apart. Each added model gets a colour and a line dash, a marker
and a bar pattern that no shipped model has (they are all solid, round, unpatterned), chosen by
a stable hash of its name: the same in every chart, every server and every order of adding, and
telling it from the shipped models for viewers who see no colour at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}

# model name -> (short label, colour)
_MODELS = {
    "custom": ("Custom", OKABE_ITO["orange"]),
    "vgg12": ("Model 1", OKABE_ITO["sky blue"]),
    "vgg12_opt": ("Model 2", OKABE_ITO["blue"]),
    "resnet50_transfer": ("ResNet50", OKABE_ITO["vermillion"]),
    "vgg16_transfer": ("VGG16", OKABE_ITO["reddish purple"]),
    "efficientnet_lite0_transfer": ("Lite0", OKABE_ITO["bluish green"]),
}
# For anything else (a model added later, "reference" bars): grey, then black.
FALLBACK = "#999999"
REFERENCE = "#BBBBBB"


# Added models' colours: the palette's seven, black included (yellow stays out).
_ADDED_COLOURS = tuple(OKABE_ITO.values())
# Plotly's names; none of them is the shipped models' solid line, round marker or plain bar.
DASHES = ("dash", "dot", "dashdot", "longdash", "longdashdot")
MARKERS = ("square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down")
PATTERNS = ("/", "\\", "x", "-", "|", "+", ".")
SHORT_MAX = 16  # characters of an added model's title in a short label


@dataclass(frozen=True)
class Style:
    """How a chart draws one model: colour, line dash, marker symbol, bar pattern (Plotly)."""

    colour: str
    dash: str = "solid"
    marker: str = "circle"
    pattern: str = ""


def _digest(name: str) -> int:
    # Python's hash() of a str changes with every process; sha256 never does.
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def style(name: str) -> Style:
    """The model's fixed style: a shipped model's colour, solid; any other name's from its hash."""
    if name in _MODELS:
        return Style(_MODELS[name][1])
    h = _digest(name)
    parts = []
    for options in (_ADDED_COLOURS, DASHES, MARKERS, PATTERNS):
        parts.append(options[h % len(options)])
        h //= len(options)
    return Style(*parts)


def short_label(name: str) -> str:
    """The model's short label ("Model 2"; an added model's title, shortened, "(imported)"),
    for cards, axes and tight columns."""
    if name in _MODELS:
        return _MODELS[name][0]
    from core.store import catalog

    if catalog.imported(name) is None:
        return name
    shown = catalog.title(name)
    shown = shown if len(shown) <= SHORT_MAX else shown[: SHORT_MAX - 1] + "…"
    return f"{shown} ({catalog.MARK})"


def colour(name: str) -> str:
    """The model's fixed colour (hex)."""
    return style(name).colour


def styles_by_any_label() -> dict[str, Style]:
    """``{name, title, label or short label: Style}`` for every model, shipped or added in the
    artifacts root (``core.store.catalog``), whichever of them a chart's model column holds."""
    from core.store import catalog

    out: dict[str, Style] = {}
    for name in catalog.list_models():
        for label in (name, catalog.title(name), catalog.label(name), short_label(name)):
            out[label] = style(name)
    return out


def by_any_label() -> dict[str, str]:
    """``{name, title or short label: colour}`` for every model: a ready
    ``color_discrete_map`` whichever of them a chart's model column holds."""
    out = {label: s.colour for label, s in styles_by_any_label().items()}
    out["reference"] = REFERENCE
    return out


def dash_map() -> dict[str, str]:
    """``{label: line dash}``: a ready ``line_dash_map``."""
    return {label: s.dash for label, s in styles_by_any_label().items()}


def pattern_map() -> dict[str, str]:
    """``{label: bar pattern}``: a ready ``pattern_shape_map`` ("" is a plain bar)."""
    return {label: s.pattern for label, s in styles_by_any_label().items()}

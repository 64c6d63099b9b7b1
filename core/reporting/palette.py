"""One colour and one short label per model, the same on every page, in the report and slides.

The colours are Okabe and Ito's palette ("Color Universal Design", 2008), chosen to stay
distinct for the common forms of colour blindness; its yellow is left out, being too pale on a
white page. Model 1 and Model 2 (one family) get the palette's two blues.
"""

from __future__ import annotations

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


def short_label(name: str) -> str:
    """The model's short label ("Model 2"), for cards, axes and tight columns."""
    return _MODELS.get(name, (name, FALLBACK))[0]


def colour(name: str) -> str:
    """The model's fixed colour (hex)."""
    return _MODELS.get(name, (name, FALLBACK))[1]


def by_any_label() -> dict[str, str]:
    """``{name, title or short label: colour}`` for every registered model: a ready
    ``color_discrete_map`` whichever of the three a chart's model column holds."""
    from core.models.registry import REGISTRY

    out: dict[str, str] = {}
    for name, spec in REGISTRY.items():
        for label in (name, spec.title, short_label(name)):
            out[label] = colour(name)
    out["reference"] = REFERENCE
    return out

"""Is an upload one of CIFAR-10's ten kinds of thing? An ImageNet classifier's answer.

An ImageNet network has seen faces, text, shapes and textures as what they are; a CIFAR-10
model has not. The gate runs EfficientNet-Lite0 with its 1000-class ImageNet top (weights that
install with requirements.txt, so it works offline) on the upload at ``SIZE`` px, and adds up
its probability on the ImageNet classes that are CIFAR-10-like (``imagenet_cifar10.json``,
written by ``bench/imagenet_cifar10_map.py`` from WordNet's subtrees: dogs, cats, birds, frogs,
ruminants, ships, trucks ...). Little mass there means "not one of the ten". That score is
combined with the CIFAR-10 model's own (``core.analysis.ood``) as ``gate.json`` says
(``Gate.flags``); both thresholds were chosen on the choosing set and CIFAR-10's validation
split (``bench/unfamiliar_gate_choose.py``).

    gate = Gate.load()                 # None without gate.json
    gate.mass(probabilities)           # probability on CIFAR-10-like ImageNet classes
    gate.flags(mass, present_score)    # the flag
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MAPPING_FILE = Path(__file__).with_name("imagenet_cifar10.json")
GATE_JSON = "gate.json"
GATE_DIR = "unfamiliar"  # under artifacts/
GATES = ("lite0", "resnet50")
SIZE = 224
RELATIONS = ("member", "relative")


def cifar_like(relations: tuple[str, ...] = RELATIONS) -> np.ndarray:
    """Indices of the ImageNet classes mapped to a CIFAR-10 class with one of ``relations``."""
    classes = json.loads(MAPPING_FILE.read_text())["classes"]
    return np.array(sorted(c["index"] for c in classes if c["relation"] in relations), np.int64)


def mass(probabilities: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Each row's probability on ``indices`` (the CIFAR-10-like ImageNet classes)."""
    return np.asarray(probabilities, dtype=np.float64)[:, indices].sum(axis=1)


def gate_input(image: Image.Image | np.ndarray, size: int = SIZE) -> np.ndarray:
    """The whole image (no crop) resized to ``size`` x ``size``, float32 RGB in [0, 1].

    BOX on an axis that shrinks, BICUBIC on one that grows, as the 32x32 model input is made
    (``core.data.images.to_model_input``): a 32x32 CIFAR-10 image and a phone photo take the
    same path.
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    image = image.resize((width, size), _resample(height, size))
    image = image.resize((size, size), _resample(width, size))
    return np.asarray(image, dtype=np.float32) / np.float32(255.0)


def _resample(old: int, new: int) -> Image.Resampling:
    return Image.Resampling.BOX if old >= new else Image.Resampling.BICUBIC


def build_gate(name: str = "lite0", size: int = SIZE):
    """The 1000-class ImageNet classifier ``name`` (RGB in [0, 1], size x size -> softmax)."""
    if name == "lite0":
        from core.models.efficientnet_lite import build_imagenet_classifier
    elif name == "resnet50":  # needs python -m core.weights_archives
        from core.models.resnet50 import build_imagenet_classifier
    else:
        raise ValueError(f"gate must be one of {GATES}, not {name!r}")
    return build_imagenet_classifier(size)


def compiled_gate(name: str = "lite0", size: int = SIZE):
    """``build_gate`` as one compiled graph (``core.models.graph``)."""
    from core.models.graph import compiled

    return compiled(build_gate(name, size))


@dataclass(frozen=True)
class Gate:
    """The chosen rule: flag when the CIFAR-10-like mass is below ``mass_threshold``, or (with
    ``present_threshold``) when the CIFAR-10 model's own score is above it."""

    model: str
    size: int
    relations: tuple[str, ...]
    mass_threshold: float
    present_threshold: float | None  # None: the mass alone decides
    present_model: str | None
    info: dict  # gate.json as read: how it was chosen, what it costs

    @classmethod
    def load(cls, root: str | os.PathLike | None = None) -> Gate | None:
        """``artifacts/unfamiliar/gate.json``, or None if missing or unreadable."""
        try:
            info = json.loads((gate_dir(root) / GATE_JSON).read_text())
            rule = info["rule"]
            return cls(
                str(rule["gate"]),
                int(rule["size"]),
                tuple(rule["relations"]),
                float(rule["mass_threshold"]),
                None if rule.get("present_threshold") is None else float(rule["present_threshold"]),
                rule.get("present_model"),
                info,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def indices(self) -> np.ndarray:
        return cifar_like(self.relations)

    def flags(self, cifar_mass: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
        """True where an image is flagged as unlike CIFAR-10."""
        flagged = np.asarray(cifar_mass) < self.mass_threshold
        if self.present_threshold is not None and present is not None:
            flagged = flagged | (np.asarray(present) > self.present_threshold)
        return flagged


def gate_dir(root: str | os.PathLike | None = None) -> Path:
    from core.store import artifacts

    return artifacts.artifacts_root(root) / GATE_DIR


def summary(root: str | os.PathLike | None = None) -> dict | None:
    """gate.json for the pages (NumPy-free reading), or None."""
    try:
        data = json.loads((gate_dir(root) / GATE_JSON).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "rule" in data else None

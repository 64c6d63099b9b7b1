"""Is an upload one of CIFAR-10's ten kinds of thing? An ImageNet classifier's answer.

An ImageNet network has seen faces, text, shapes and textures as what they are; a CIFAR-10
model has not. The gate runs EfficientNet-Lite0 with its 1000-class ImageNet top (weights that
install with requirements.txt, so it works offline) on the upload at ``SIZE`` px, and reads its
probability on the ImageNet classes that are CIFAR-10-like (``imagenet_cifar10.json``, written
by ``bench/imagenet_cifar10_map.py`` from WordNet's subtrees: dogs, cats, birds, frogs,
ruminants, ships, trucks ...; plus the few classes a blown-up 32x32 image is taken for,
``attractors``). Little probability there means "not one of the ten". That score is
combined with the CIFAR-10 model's own (``core.analysis.ood``) as ``gate.json`` says
(``Gate.flags``); both thresholds were chosen on the choosing set and CIFAR-10's validation
split (``bench/unfamiliar_gate_choose.py``).

    gate = Gate.load()                      # None without gate.json
    gate.likeness(probabilities)            # top probability on a CIFAR-10-like class
    gate.flags(likeness, present_score)     # the flag
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


def top(probabilities: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Each row's largest probability on one of ``indices``."""
    return np.asarray(probabilities, dtype=np.float64)[:, indices].max(axis=1)


STATISTICS = {"max": top, "sum": mass}


def attractors(probabilities: np.ndarray, indices: np.ndarray, share: float) -> np.ndarray:
    """ImageNet classes outside ``indices`` that are the top class of at least ``share`` of
    the (CIFAR-10 validation) images in ``probabilities``: what a 32x32 image blown up to the
    gate's size looks like to it (a blurred dog is a "fox squirrel" more often than a dog)."""
    tops = np.asarray(probabilities).argmax(axis=1)
    counts = np.bincount(tops, minlength=np.asarray(probabilities).shape[1])
    counts[indices] = 0
    return np.flatnonzero(counts >= share * len(tops))


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


def weights_file(name: str = "lite0") -> Path:
    """The ImageNet weights file ``build_gate(name)`` reads; it may be missing (``resnet50``'s
    archive is fetched by ``python -m core.weights_archives``)."""
    if name == "lite0":
        from core.weights.archives import lite0_weights_path

        return lite0_weights_path()
    from core.weights.archives import cached_archive

    return cached_archive(name)


def compiled_gate(name: str = "lite0", size: int = SIZE):
    """``build_gate`` as one compiled graph (``core.models.graph``)."""
    from core.models.graph import compiled

    return compiled(build_gate(name, size))


@dataclass(frozen=True)
class Gate:
    """The chosen rule: flag when the ImageNet network's ``statistic`` ("max" or "sum") of
    probability on the CIFAR-10-like classes (``relations`` of the mapping, plus ``extra``
    classes chosen on validation) is below ``threshold``, or (with ``present_threshold``) when
    the CIFAR-10 model ``present_model``'s own score is above that."""

    model: str
    size: int
    relations: tuple[str, ...]
    statistic: str
    extra: tuple[int, ...]
    threshold: float
    present_threshold: float | None  # None: the ImageNet network alone decides
    present_model: str | None
    info: dict  # gate.json as read: how it was chosen, what it costs

    @classmethod
    def load(cls, root: str | os.PathLike | None = None) -> Gate | None:
        """``artifacts/unfamiliar/gate.json``, or None if missing or unreadable."""
        info = summary(root)
        if info is None:
            return None
        try:
            rule = info["rule"]
            present = rule.get("present_threshold")
            gate = cls(
                str(rule["gate"]),
                int(rule["size"]),
                tuple(rule["relations"]),
                str(rule["statistic"]),
                tuple(int(i) for i in rule["extra"]),
                float(rule["threshold"]),
                None if present is None else float(present),
                rule.get("present_model"),
                info,
            )
        except (ValueError, KeyError, TypeError):
            return None
        return gate if gate.statistic in STATISTICS and gate.model in GATES else None

    def indices(self) -> np.ndarray:
        return np.union1d(cifar_like(self.relations), np.array(self.extra, np.int64))

    def likeness(self, probabilities: np.ndarray) -> np.ndarray:
        """How CIFAR-10-like each row of ImageNet probabilities is (lower: less)."""
        return STATISTICS[self.statistic](probabilities, self.indices())

    def flags(self, likeness: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
        """True where an image is flagged as unlike CIFAR-10."""
        flagged = np.asarray(likeness) < self.threshold
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

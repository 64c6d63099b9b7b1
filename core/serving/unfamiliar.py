"""The unfamiliar-image flag at serving time: the ImageNet gate (``core.analysis.imagenet_gate``)
run on each upload, combined with the CIFAR-10 model's own score (``core.analysis.ood``).

``classify_files`` asks ``GateRunner.likeness`` for the uploads' probability on CIFAR-10-like
ImageNet classes and ``GateRunner.flag`` for each image's ``Flag``; the Live page, the report and
``python -m core.predict`` show it before any class.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.analysis import imagenet_gate, ood

BATCH = 16  # uploads through the gate at once (each 224x224x3 floats, 0.6 MB)
HEADLINE = "This does not look like any of the ten CIFAR-10 classes."


@dataclass(frozen=True)
class Flag:
    """One image's verdict: the gate's likeness and, where the rule uses it, the own score."""

    cifar_like: float  # the ImageNet network's probability on CIFAR-10-like classes
    threshold: float
    own: ood.Verdict | None  # the CIFAR-10 model's own score, if the rule combines it
    own_threshold: float | None

    @property
    def by_gate(self) -> bool:
        return self.cifar_like < self.threshold

    @property
    def by_own(self) -> bool:
        return (
            self.own is not None
            and self.own_threshold is not None
            and self.own.score > self.own_threshold
        )

    @property
    def unfamiliar(self) -> bool:
        return self.by_gate or self.by_own

    def reason(self) -> str:
        if self.by_gate:
            return (
                f"an ImageNet network gives it {self.cifar_like:.0%} at most for any animal or "
                f"vehicle of CIFAR-10's kinds (flagged below {self.threshold:.0%})"
            )
        if self.by_own:
            return (
                f"it is far from the training images ({self.own.model}'s score "
                f"{self.own.score:.3g} > {self.own_threshold:.3g})"
            )
        return ""

    def message(self) -> str:
        """What the Live page and ``python -m core.predict`` say about a flagged image."""
        return f"{HEADLINE} The answers below are guesses: {self.reason()}."

    def as_json(self) -> dict:
        out = {
            "unfamiliar": self.unfamiliar,
            "cifar10_like_probability": round(self.cifar_like, 4),
            "cifar10_like_threshold": round(self.threshold, 4),
        }
        if self.own is not None:
            out |= {
                "unfamiliar_score": round(self.own.score, 4),
                "unfamiliar_threshold": round(self.own_threshold or self.own.threshold, 4),
                "unfamiliar_judged_by": self.own.model,
            }
        return out


class GateRunner:
    """The loaded gate network and its rule; safe to call from several threads."""

    def __init__(self, gate: imagenet_gate.Gate, network=None):
        self.gate = gate
        self._graph = network or imagenet_gate.compiled_gate(gate.model, gate.size)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, root: str | os.PathLike | None = None) -> GateRunner | None:
        """The gate ``artifacts/unfamiliar/gate.json`` describes, or None (no file, or its
        network's weights cannot be read)."""
        gate = imagenet_gate.Gate.load(root)
        if gate is None:
            return None
        from core.serving import fast_start

        try:
            # Its fast-start copy when made (python -m core.fast_start): 4x as fast an upload.
            return cls(gate, fast_start.load_gate(gate.model, gate.size))
        except Exception:  # noqa: BLE001 - no gate: the own score alone flags, as before
            return None

    @property
    def runs_copy(self) -> bool:
        """Whether the network runs as its fast-start copy (``core.serving.fast_start``)."""
        return getattr(self._graph, "fast_start", False)

    def gate_input(self, image: Image.Image) -> np.ndarray:
        return imagenet_gate.gate_input(image, self.gate.size)

    def likeness(self, inputs: np.ndarray) -> np.ndarray:
        """How CIFAR-10-like each ``gate_input`` row is (``Gate.likeness``)."""
        out = []
        for i in range(0, len(inputs), BATCH):
            with self._lock:
                probs = np.asarray(self._graph(np.asarray(inputs[i : i + BATCH], np.float32)))
            out.append(self.gate.likeness(probs))
        return np.concatenate(out) if out else np.zeros(0)

    def flag(self, cifar_like: float, own: ood.Verdict | None) -> Flag:
        """The rule's verdict; the own score counts only if it is the model the rule was
        chosen with."""
        use_own = own is not None and own.model == self.gate.present_model
        return Flag(
            float(cifar_like),
            self.gate.threshold,
            own if use_own else None,
            self.gate.present_threshold if use_own else None,
        )

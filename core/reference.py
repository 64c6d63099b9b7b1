"""The reference results our models are compared with, and how to name the data they came from.

The numbers are the test-set results reported on the reference slides
(``/work/shared/reference``) for the two twelve-conv models. Their precision and recall are
"reference style": Keras ``Precision()``/``Recall()`` on softmax outputs at threshold 0.5, pooled
over classes; ``metrics["reference_style"]`` of an artifact is computed the same way, so those
are the numbers to put beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where every accuracy we show was measured: the test split of the JPEG class-folder copy of
# CIFAR-10 (a close proxy for, not the same as, the official python-format files).
DATASET_LABEL = "CIFAR-10 (JPEG copy)"


@dataclass(frozen=True)
class ReferenceResult:
    model: str  # the REGISTRY name of our model that reproduces it
    title: str
    accuracy: float
    precision: float  # reference style (Keras, threshold 0.5, pooled)
    recall: float
    f1: float
    loss: float


REFERENCE: dict[str, ReferenceResult] = {
    r.model: r
    for r in (
        ReferenceResult(
            model="vgg12",
            title="Reference Model 1 (12-layer VGG)",
            accuracy=0.7415000200271606,
            precision=0.8298739194869995,
            recall=0.6517000198364258,
            f1=0.7281082272529602,
            loss=0.8441640734672546,
        ),
        ReferenceResult(
            model="vgg12_opt",
            title="Reference Model 2 (12-layer VGG, optimised)",
            accuracy=0.7767999768257141,
            precision=0.784120857715067,
            recall=0.7732999920845032,
            f1=0.7784469723701477,
            loss=1.267404556274414,
        ),
    )
}


def best_reference() -> ReferenceResult:
    """The reference result with the highest test accuracy (the bar to beat)."""
    return max(REFERENCE.values(), key=lambda r: r.accuracy)

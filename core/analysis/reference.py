"""The reference results our models are compared with, and how to name the data they came from.

The numbers are the test-set results reported on the reference slides (``shared/reference``
beside the project) for the two twelve-conv models. Their precision and recall are
"reference style": Keras ``Precision()``/``Recall()`` on softmax outputs at threshold 0.5, pooled
over classes; ``metrics["reference_style"]`` of an artifact is computed the same way, so those
are the numbers to put beside them.
"""

from __future__ import annotations

from dataclasses import dataclass


def dataset_label(dataset_id: str | None) -> str:
    """How to name the data an artifact was measured on, from its config's dataset id."""
    if not dataset_id:
        return "CIFAR-10 (source not recorded)"
    if dataset_id.startswith("cifar10-official"):
        return "CIFAR-10 (official files)"
    if "jpeg" in dataset_id.lower():
        return "CIFAR-10 (JPEG copy)"
    return f"CIFAR-10 ({dataset_id.split(':', 1)[-1].split('[', 1)[0]})"


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


# The reference's own verdict on its models, which the Overview checks against our numbers.
REFERENCE_CLAIM = (
    "transfer learning with ResNet50 (ImageNet weights, frozen, a new head) gave the best "
    "results; VGG16 did worse than ResNet50 and took longer to train"
)


def check_claim(accuracy: dict[str, float], titles: dict[str, str]) -> str:
    """One sentence: does "ResNet50 transfer was best" hold for the measured test accuracies?

    ``accuracy`` and ``titles`` are keyed by registry name, for the trained models only.
    """
    if "resnet50_transfer" not in accuracy:
        return (
            f"The reference found that {REFERENCE_CLAIM}. ResNet50 transfer is not trained "
            "here yet, so the claim is not checked."
        )
    ranked = sorted(accuracy, key=accuracy.get, reverse=True)
    resnet = accuracy["resnet50_transfer"]
    place = ranked.index("resnet50_transfer") + 1
    if place == 1:
        runner_up = ranked[1] if len(ranked) > 1 else None
        lead = (
            f", {(resnet - accuracy[runner_up]) * 100:.1f} points ahead of "
            f"{titles[runner_up]} ({accuracy[runner_up]:.1%})"
            if runner_up
            else ""
        )
        verdict = f"It holds here: ResNet50 transfer is best at {resnet:.1%}{lead}"
    else:
        best = ranked[0]
        verdict = (
            f"It does not hold here: ResNet50 transfer ({resnet:.1%}) ranks {place} of "
            f"{len(ranked)}, behind {titles[best]} ({accuracy[best]:.1%})"
        )
    if "vgg16_transfer" in accuracy:
        vgg = accuracy["vgg16_transfer"]
        relation = "below" if vgg < resnet else "not below"
        verdict += f"; VGG16 transfer ({vgg:.1%}) is {relation} ResNet50, as the reference found"
        if vgg >= resnet:
            verdict = verdict.replace(", as the reference found", ", unlike the reference")
    return f"The reference found that {REFERENCE_CLAIM}. {verdict}."

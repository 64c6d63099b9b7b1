"""The unfamiliar-image flag on the pages: the Live page's banner before any answer, and the
Trust page's account of how the flag was chosen and what it costs (``artifacts/unfamiliar/
gate.json``, written by ``bench/unfamiliar_gate_choose.py``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import common


def flag_banner(res) -> bool:
    """Draw the flag of one classified upload (``core.serving.classify.Classified``) above its
    answers; True when the image is flagged, so the answers that follow are played down."""
    verdict = res.unfamiliar
    if verdict is None or not verdict.unfamiliar:
        return False
    st.error(verdict.message(), icon=":material/travel_explore:")
    return True


def not_checked_yet() -> None:
    """Said over an upload answered before the unfamiliar-image check finished warming up."""
    st.info(
        "The check for images that are none of the ten classes is still warming up: this "
        "image is not checked yet. The page checks it in a few seconds, by itself.",
        icon=":material/hourglass_top:",
    )


def guesses_caption(res) -> None:
    """The models' picks for a flagged image, said as guesses (in place of "All models agree")."""
    picks = ", ".join(f"{m}: {c}" for m, c in res.top1.items())
    st.caption(f"If it had to be one of the ten, the models would guess: {picks}.")


@st.cache_data(ttl=60, show_spinner=False)
def _gate_summary(root: str) -> dict | None:
    from core.analysis.imagenet_gate import summary

    return summary(root)


def judged_by() -> str | None:
    """The model whose own score the Live page's flag uses (gate.json), or None."""
    info = _gate_summary(common.root())
    return info["rule"].get("present_model") if info else None


def _likeness(rule: dict) -> str:
    """The gate's statistic in words (``core.analysis.imagenet_gate.Gate``)."""
    extra = rule.get("extra_names") or []
    classes = "the ImageNet classes that are CIFAR-10-like (dogs, cats, birds, frogs, ruminants, "
    classes += "ships, cars, trucks ...)"
    if extra:
        classes += f" or that blown-up 32x32 CIFAR-10 images are often taken for ({len(extra)})"
    if rule["statistic"] == "max":
        return f"less than {rule['threshold']:.1%} to every one of {classes}"
    return f"less than {rule['threshold']:.1%} in all to {classes}"


def gate_section() -> None:
    """The Trust page's "how the flag was chosen and what it costs"."""
    info = _gate_summary(common.root())
    st.subheader("The flag the Live page shows")
    if info is None:
        st.info(
            "No ImageNet gate chosen yet: the Live page flags with the models' own scores "
            "below. `python bench/unfamiliar_gate_choose.py` chooses it."
        )
        return
    rule, choose, val = info["rule"], info["choosing_set"], info["validation"]
    test = info.get("test")
    own = (
        f" or when {rule['present_model']}'s own score is above {rule['present_threshold']:.4g}"
        if rule.get("present_threshold") is not None
        else ""
    )
    st.write(
        "An upload is flagged before any answer (“This does not look like any of the ten "
        "CIFAR-10 classes”) when EfficientNet-Lite0's ImageNet classifier, run on the "
        f"full-resolution upload at {rule['size']} px, gives {_likeness(rule)}{own}. The "
        f"thresholds were chosen on a choosing set of {len(choose['per_kind'])} kinds of "
        "non-CIFAR image (faces, text, drawn shapes, textures, other photos; 100 of each, made "
        "from what installs with the studio) and on CIFAR-10's validation split "
        f"({info['chosen_on']['false_alarm_target']:.0%} of validation images flagged), never "
        "on the test set; the test split was measured once, after the choice."
    )
    cols = st.columns(4)
    cols[0].metric("AUROC of the ImageNet part", f"{choose['auroc']:.3f}")
    cols[1].metric("Choosing set flagged", f"{choose['flagged']:.1%}")
    cols[2].metric("Validation flagged (false alarms)", f"{val['flagged']:.1%}")
    if test:
        cols[3].metric("CIFAR-10 test flagged (false alarms)", f"{test['flagged']:.1%}")
    if "latency_s" in info:
        st.caption(f"Added time per upload: {info['latency_s'] * 1000:.0f} ms on two CPU cores.")
    kinds = pd.DataFrame(
        {"kind of image": list(choose["per_kind"]), "flagged": list(choose["per_kind"].values())}
    )
    per_class = pd.DataFrame(
        {
            "CIFAR-10 class": list(val["per_class"]),
            "validation flagged": list(val["per_class"].values()),
            **({"test flagged": [test["per_class"][c] for c in val["per_class"]]} if test else {}),
        }
    )
    left, right = st.columns(2)
    left.caption("Choosing set (not a hidden test set): share flagged per kind")
    left.dataframe(kinds.style.format({"flagged": "{:.0%}"}), hide_index=True, width="stretch")
    right.caption("What it costs: CIFAR-10 images flagged per class")
    right.dataframe(
        per_class.style.format({c: "{:.1%}" for c in per_class.columns[1:]}),
        hide_index=True,
        width="stretch",
    )
    st.caption(" ".join(f"`{c}`" for c in info.get("commands", [])))

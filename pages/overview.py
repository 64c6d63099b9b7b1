"""Overview for stakeholders: the data at a glance, each model's headline numbers, the best one."""

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.data import CLASS_NAMES
from core.reference import DATASET_LABEL, REFERENCE
from ui import common

common.require_dashboard()

st.title("CIFAR-10 CNN studio")
st.write(
    "Five convolutional networks learn to tell apart ten kinds of small (32x32 pixel) photos. "
    "This page sums up the data and how well each trained model does; the other pages go "
    "into detail, let you try the models on your own pictures and train new ones."
)

# --- the data ---------------------------------------------------------------------------------
st.header("The data")
samples = common.test_images()
if isinstance(samples, str):
    st.warning(f"The test images are not available: {samples}")
else:
    left, right = st.columns([3, 2])
    per_class = 8
    rng = np.random.default_rng(0)
    rows = [
        np.concatenate(
            list(
                samples.images[
                    rng.choice(np.flatnonzero(samples.labels == c), per_class, replace=False)
                ]
            ),
            axis=1,
        )
        for c in range(len(CLASS_NAMES))
    ]
    grid = np.concatenate(rows, axis=0)
    fig = px.imshow(grid)
    fig.update_yaxes(
        tickmode="array",
        tickvals=[32 * c + 16 for c in range(len(CLASS_NAMES))],
        ticktext=list(CLASS_NAMES),
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=520, margin=dict(l=0, r=0, t=30, b=0), title="Examples per class")
    left.plotly_chart(fig, width="stretch")

    counts = np.bincount(samples.labels, minlength=len(CLASS_NAMES))
    balance = pd.DataFrame({"class": CLASS_NAMES, "test images": counts})
    fig = px.bar(balance, x="class", y="test images", title="Class balance (test set)")
    fig.update_layout(height=360, margin=dict(l=0, r=0, t=40, b=0))
    right.plotly_chart(fig, width="stretch")
    right.caption(
        f"{DATASET_LABEL}: 60,000 colour photos of 32x32 pixels in 10 classes, 50,000 for "
        f"training and {len(samples):,} for testing, every class equally common. Test images "
        "are never used for training or for choosing settings."
    )

# --- the models -------------------------------------------------------------------------------
st.header("The models")
status = common.statuses()
ready = [name for name, s in status.items() if s.ready]
rows = []
for name in ready:
    row = common.summary(name)
    rows.append(
        {
            "model": common.title(name),
            "source": "ours",
            "accuracy": row["accuracy"],
            "precision": row["precision_ref"],
            "recall": row["recall_ref"],
            "F1": row["f1_ref"],
            "loss": row["loss"],
        }
    )
for ref in REFERENCE.values():
    rows.append(
        {
            "model": ref.title,
            "source": "reference",
            "accuracy": ref.accuracy,
            "precision": ref.precision,
            "recall": ref.recall,
            "F1": ref.f1,
            "loss": ref.loss,
        }
    )
table = pd.DataFrame(rows)

if ready:
    best = max(ready, key=lambda n: common.summary(n)["accuracy"])
    best_acc = common.summary(best)["accuracy"]
    ref_best = max(REFERENCE.values(), key=lambda r: r.accuracy)
    verdict = (
        "above"
        if best_acc > ref_best.accuracy
        else "below"
        if best_acc < ref_best.accuracy
        else "at"
    )
    st.success(
        f"**Best model so far: {common.title(best)}**, which labels {best_acc:.1%} of the "
        f"{DATASET_LABEL} test images correctly; that is {verdict} the best reference result "
        f"({ref_best.accuracy:.1%}, {ref_best.title})."
    )
    cols = st.columns(min(len(ready), 5))
    for col, name in zip(cols, ready, strict=False):
        acc = common.summary(name)["accuracy"]
        ref = REFERENCE.get(name)
        col.metric(
            common.title(name),
            f"{acc:.1%}",
            delta=f"{(acc - ref.accuracy) * 100:+.1f} pts vs reference" if ref else None,
            help=f"Accuracy on the {DATASET_LABEL} test set",
        )
else:
    common.no_models_message()

st.dataframe(
    table.style.format({k: "{:.3f}" for k in ("accuracy", "precision", "recall", "F1", "loss")}),
    hide_index=True,
    width="stretch",
)
common.dataset_caption(10_000)
st.caption(
    "Precision, recall and F1 here are computed the way the reference reported them (Keras "
    "Precision/Recall at a 0.5 probability threshold, pooled over classes), so ours and theirs "
    "compare like for like. The Model comparison page also shows the per-class (macro) versions."
)

fig = go.Figure()
for source, colour in (("ours", "#1f77b4"), ("reference", "#bbbbbb")):
    part = table[table["source"] == source]
    fig.add_bar(x=part["model"], y=part["accuracy"], name=source, marker_color=colour)
fig.update_layout(
    title=f"Test accuracy on {DATASET_LABEL}",
    yaxis=dict(range=[0, 1], tickformat=".0%"),
    height=380,
    margin=dict(l=0, r=0, t=40, b=0),
)
st.plotly_chart(fig, width="stretch")

missing = [name for name in status if not status[name].ready]
if missing:
    with st.expander(f"{len(missing)} model(s) without results", expanded=not ready):
        common.not_trained(missing)

with st.expander("What the numbers mean", expanded=True):
    st.markdown(
        """
- **Accuracy**: the share of test photos whose most likely class is the right one. Guessing
  at random gives 10%.
- **Precision**: when the model says "cat" with confidence, how often it really is a cat.
- **Recall**: of all the real cats, how many the model finds.
- **F1**: one number balancing precision and recall (their harmonic mean).
- **Loss**: how surprised the model is by the right answers on average; lower is better, and
  it punishes confident mistakes hard, so a model can have better accuracy but worse loss.
- The **reference** rows are the results this project set out to match or beat.
"""
    )

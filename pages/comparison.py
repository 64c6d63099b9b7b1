"""Model comparison: a table of every model, per-class F1, training curves, agreement of two."""

import numpy as np
import pandas as pd
import streamlit as st

from ui import common, figures, links, tables, your_photos
from ui.api import CLASS_NAMES, charts, compare, short_label

common.require_dashboard()

st.title("Model comparison")
ready = common.ready_models()
missing = [name for name in common.registry() if name not in ready]
if not ready:
    common.no_models_message()
    common.not_trained(missing)
    st.stop()

# --- the table --------------------------------------------------------------------------------
# Latency from the stored benchmark where it timed these artifacts; timing the models here loads
# them (and TensorFlow), so only on request.
measured = common.latencies() if st.session_state.get("latency_wanted") else {}
# An added model's latency was timed by its import, through the same compiled graph.
imported_latency = {
    n: ms
    for n in ready
    if (ms := (common.config(n).get("imported") or {}).get("latency_ms")) is not None
}
latency = {**imported_latency, **common.stored_latencies(), **measured}
if not measured and any(name not in latency for name in ready):
    st.button(
        "Measure latency",
        icon=":material/timer:",
        help="Loads every trained model once and times one image at a time through the compiled "
        "graph the live page predicts with (a few seconds a model, once per trained artifact).",
        on_click=lambda: st.session_state.update(latency_wanted=True),
    )
rows = []
for name in ready:
    s, ci = common.summary(name), common.intervals(name)
    rows.append(
        {
            "model": common.title(name),
            "name": name,
            "accuracy": s["accuracy"],
            "accuracy 95% CI": f"{ci['accuracy'][0]:.4f} to {ci['accuracy'][1]:.4f}",
            "top-3 accuracy": s["top3_accuracy"],
            "precision (macro)": s["precision_macro"],
            "recall (macro)": s["recall_macro"],
            "F1 (macro)": s["f1_macro"],
            "F1 (macro) 95% CI": f"{ci['f1_macro'][0]:.4f} to {ci['f1_macro'][1]:.4f}",
            "precision (as the reference computed it)": s["precision_ref"],
            "recall (as the reference computed it)": s["recall_ref"],
            "F1 (as the reference computed it)": s["f1_ref"],
            "loss": s["loss"],
            "parameters": s["parameters"],
            "size (MB)": s["size_mb"],
            "latency (ms/image)": latency.get(name, np.nan),
            "epochs": s["epochs"],
            "training time (min)": s["train_time_min"],
        }
    )
table = pd.DataFrame(rows)
four = "{:.4f}"
tables.table(
    table,
    {
        **{c: four for c in table.columns[2:15] if "CI" not in c},
        "parameters": "{:,.0f}",
        "size (MB)": "{:.1f}",
        "latency (ms/image)": "{:.1f}",
        "training time (min)": "{:.1f}",
    },
)
common.dataset_caption(int(common.summary(ready[0])["n_test"]))
st.caption(
    "Macro precision/recall/F1 average each class's score equally (scikit-learn, from each "
    "model's top answer). The columns *as the reference computed it* use Keras Precision/Recall "
    "at a 0.5 threshold, pooled over classes, as the reference did. Intervals: 95% bootstrap "
    "over the test images (seeded), so two models whose intervals overlap may not really differ "
    "(the McNemar test below answers that for a pair). "
    "Latency: median time for one image through the compiled graph the dashboard predicts "
    "with, from the stored benchmark (`bench/latency.json`) where it timed these very artifacts, "
    "else measured on this machine's CPU with **Measure latency**, so it also depends on what "
    "else is running."
)
if missing:
    with st.expander(f"{len(missing)} model(s) not in the table"):
        common.not_trained(missing)

# --- per-class F1 -----------------------------------------------------------------------------
st.header("Per-class F1")
fig = charts.per_class_figure({common.title(name): common.metrics(name) for name in ready})
figures.chart(fig, "F1 per class, each model")

# --- training curves --------------------------------------------------------------------------
st.header("Training curves")
fig = charts.training_curves(
    [r for name in ready for r in compare.history_records(common.title(name), common.history(name))]
)
if fig is None:
    st.info("The artifacts hold no training history.")
else:
    figures.chart(fig, "Training curves: loss and accuracy per epoch")
    st.caption("Solid: training data (augmented); dashed: the held-out validation split.")

your_photos.section()  # a labelled .zip of the user's photos, every model on it

# --- two models -------------------------------------------------------------------------------
st.header("Where two models agree and disagree")
if len(ready) < 2:
    st.info(
        f"Only {common.title(ready[0])} is trained; this section needs two trained models. "
        + common.train_another_hint()
    )
    st.stop()

links.seed("cmp_a", "a", ready)
a_col, b_col, link_col = st.columns([4, 4, 2], vertical_alignment="bottom")
a = a_col.selectbox("Model A", ready, format_func=common.title, key="cmp_a")
others = [n for n in ready if n != a]
links.seed("cmp_b", "b", others)
if st.session_state.get("cmp_b") not in others:
    st.session_state.pop("cmp_b", None)
b = b_col.selectbox("Model B", others, format_func=common.title, key="cmp_b")
links.keep(a=a, b=b)
links.share(link_col)
pa, pb = common.predictions(a), common.predictions(b)
try:
    agr = compare.agreement(a, pa["probs"], b, pb["probs"], pa["y_true"])
except ValueError as exc:
    st.error(str(exc))
    st.stop()

c = st.columns(5)
c[0].metric("Agree on the class", f"{agr.agreement_rate:.1%}")
c[1].metric("Both right", f"{agr.both_right:,}")
c[2].metric(f"Only {short_label(a)} right", f"{agr.only_a_right:,}", help=common.title(a))
c[3].metric(f"Only {short_label(b)} right", f"{agr.only_b_right:,}", help=common.title(b))
c[4].metric(
    "Both wrong",
    f"{agr.both_wrong_same + agr.both_wrong_different:,}",
    help=f"{agr.both_wrong_same:,} with the same wrong class, "
    f"{agr.both_wrong_different:,} with different wrong classes",
)
st.caption(f"Out of {agr.n:,} test images of {common.data_label([a, b])}.")

test = common.mcnemar(a, b)
st.subheader("Is the difference real? McNemar's exact test")
left, right = st.columns([1, 2])
# A static table with short labels: as a dataframe in a third of the width, the long titles
# took the room and the four counts were clipped out of sight.
counts = pd.DataFrame(test.table, columns=[f"{short_label(b)} right", f"{short_label(b)} wrong"])
counts.insert(0, "test images", [f"{short_label(a)} right", f"{short_label(a)} wrong"])
left.table(
    counts,
    hide_index=True,
    alt=f"Test images by whether {common.title(a)} and {common.title(b)} are right",
)
right.markdown(test.sentence(common.title(a), common.title(b)))
right.caption(
    'Only the images exactly one model gets right count: under "no real difference" each of '
    "them is equally likely to favour either model (exact binomial test, two-sided)."
)

left, right = st.columns(2)
outcome = pd.DataFrame(
    {
        "outcome": [
            "both right",
            f"only {short_label(a)} right",
            f"only {short_label(b)} right",
            "both wrong, same class",
            "both wrong, different classes",
        ],
        "images": [
            agr.both_right,
            agr.only_a_right,
            agr.only_b_right,
            agr.both_wrong_same,
            agr.both_wrong_different,
        ],
    }
)
figures.chart(charts.outcome_figure(outcome), where=left)
figures.chart(charts.agreement_per_class_figure(agr.per_class_agreement), where=right)

samples = common.test_images()
if isinstance(samples, str):
    st.caption(f"Test images unavailable, so no examples: {samples}")
elif len(samples) != agr.n or not np.array_equal(samples.labels, pa["y_true"]):
    st.caption("The shipped test images do not match these artifacts' test set; no examples.")
elif len(agr.disagree_rows):
    st.subheader("Examples they disagree on")
    rng = np.random.default_rng(st.session_state.get("disagree_seed", 0))
    if st.button("Show other examples"):
        st.session_state["disagree_seed"] = st.session_state.get("disagree_seed", 0) + 1
        rng = np.random.default_rng(st.session_state["disagree_seed"])
    rows = rng.choice(agr.disagree_rows, min(12, len(agr.disagree_rows)), replace=False)
    cols = st.columns(6)
    for i, row in enumerate(rows):
        ca, cb = pa["probs"][row].argmax(), pb["probs"][row].argmax()
        answers = (
            f"{short_label(a)}: {CLASS_NAMES[ca]} {pa['probs'][row, ca]:.0%} · "
            f"{short_label(b)}: {CLASS_NAMES[cb]} {pb['probs'][row, cb]:.0%}"
        )
        truth = CLASS_NAMES[pa["y_true"][row]]
        cols[i % 6].image(
            common.pixelated(samples.images[row]),
            caption=f"true {truth} · {answers}",
            alt=f"Test image {row}, a {truth}; {answers}",
        )

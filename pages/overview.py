"""Overview for stakeholders: the best model and each model's headline numbers first, then the
data at a glance."""

import streamlit as st

from ui import common, figures, tables
from ui.api import CLASS_NAMES, REFERENCE, best_reference, check_claim, compare, short_label

common.require_dashboard()


def format_interval(interval: tuple[float, float]) -> str:
    return f"{interval[0]:.1%} to {interval[1]:.1%}"


st.title("CIFAR-10 CNN studio")
ready_now = common.ready_models()
n_trained = len([n for n in ready_now if n in common.shipped()])
n_models, n_added = len(common.shipped()), len(ready_now) - n_trained
trained = (
    f"{n_trained} of the studio's {n_models} networks are trained"
    if n_trained < n_models
    else f"all {n_models} of the studio's networks are trained"
)
if n_added:
    trained += f", beside {n_added} model{'s' if n_added > 1 else ''} added from a file (imported)"
st.write(
    "Convolutional networks learn to tell apart ten kinds of small (32x32 pixel) photos; "
    f"{trained}. This page sums up the data and how well each trained model does; "
    "the other pages go into detail"
    + (
        " and let you try the models on your own pictures."
        if common.viewer_mode()
        else ", let you try the models on your own pictures and train new ones."
    )
)

# --- the models -------------------------------------------------------------------------------
st.header("The models")
status = common.statuses()
ready = [name for name, s in status.items() if s.ready]
rows = []
for name in ready:
    row, ci = common.summary(name), common.intervals(name)
    rows.append(
        {
            "model": common.title(name),
            "name": name,
            "source": "imported" if common.is_imported(name) else "ours",
            "accuracy": row["accuracy"],
            "accuracy 95% CI": format_interval(ci["accuracy"]),
            "precision (macro)": row["precision_macro"],
            "recall (macro)": row["recall_macro"],
            "F1 (macro)": row["f1_macro"],
            "F1 95% CI": format_interval(ci["f1_macro"]),
            "loss": row["loss"],
            "precision, as the reference computed it": row["precision_ref"],
            "recall, as the reference computed it": row["recall_ref"],
            "F1, as the reference computed it": row["f1_ref"],
        }
    )
for ref in REFERENCE.values():
    rows.append(
        {
            "model": ref.title,
            "source": "reference",
            "accuracy": ref.accuracy,
            "loss": ref.loss,
            "precision, as the reference computed it": ref.precision,
            "recall, as the reference computed it": ref.recall,
            "F1, as the reference computed it": ref.f1,
        }
    )
label = common.data_label()


if ready:
    models = [r for r in rows if r["source"] in ("ours", "imported")]
    best = compare.best_model(models)
    best_row = next(r for r in rows if r["model"] == best)
    best_acc = best_row["accuracy"]
    ref_best = best_reference()
    verdict = (
        "above"
        if best_acc > ref_best.accuracy
        else "below"
        if best_acc < ref_best.accuracy
        else "at"
    )
    st.success(
        f"**Best model so far: {best_row['model']}**, which labels {best_acc:.1%} of the "
        f"{label} test images correctly (95% interval {best_row['accuracy 95% CI']}); that "
        f"is {verdict} the best reference result ({ref_best.accuracy:.1%}, {ref_best.title})."
    )
    ours = [r for r in rows if r["source"] == "ours"]
    st.info(
        check_claim(
            {r["name"]: r["accuracy"] for r in ours}, {r["name"]: r["model"] for r in ours}
        ),
        icon=":material/fact_check:",
    )
    # Six cards a row: the shipped models fill one, added ones go on the next.
    cols = [c for i in range(0, len(models), 6) for c in st.columns(min(len(models) - i, 6))]
    for col, row in zip(cols, models, strict=False):
        ref = REFERENCE.get(row["name"])
        col.metric(
            short_label(row["name"]),  # a full title is cut at six abreast; it is the tooltip
            f"{row['accuracy']:.1%}",
            # "+9.1 pts vs reference" was cut at six abreast; the caption names the reference.
            delta=f"{(row['accuracy'] - ref.accuracy) * 100:+.1f} pts" if ref else None,
            help=f"{row['model']}: accuracy on the {label} test set; 95% bootstrap interval "
            f"{row['accuracy 95% CI']} (resampling the test images).",
        )
        col.caption(
            f"95% interval {row['accuracy 95% CI']}"
            + (f"; reference {ref.accuracy:.1%}" if ref else "")
        )
else:
    common.no_models_message()


# pandas and Plotly take about a second to import on a fresh server: imported once the headline
# above is on screen (bench/startup.py times that first useful render).
import pandas as pd  # noqa: E402

from ui.api import charts  # noqa: E402

glance = common.test_set_at_a_glance()
table = pd.DataFrame(rows).drop(columns=["name"], errors="ignore")
numeric = [c for c in table.columns if c not in ("model", "source") and "CI" not in c]
# The reference did not report every figure: its gaps are a dash (ui.tables).
table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce")
tables.table(table, {k: "{:.3f}" for k in numeric})
common.dataset_caption(glance.n_images if not isinstance(glance, str) else None)
st.caption(
    "Precision, recall and F1 (macro) are averaged over the ten classes from each model's top "
    "answer (scikit-learn). The reference reported precision and recall differently (Keras "
    "Precision/Recall at a 0.5 probability threshold, pooled over classes); the columns "
    "*as the reference computed it* apply that method to our models too, so the reference rows "
    "compare like for like there. Intervals: 95% bootstrap over the test images (seeded)."
)

fig = charts.accuracy_figure(
    {r["name"]: r["accuracy"] for r in rows if r["source"] in ("ours", "imported")},
    {name: (ref.title, ref.accuracy) for name, ref in REFERENCE.items()},
)
figures.chart(fig, f"Test accuracy on {label}")

missing = [name for name in status if not status[name].ready]
if missing:
    with st.expander(f"{len(missing)} model(s) without results", expanded=not ready):
        common.not_trained(missing)

# --- the data ---------------------------------------------------------------------------------
st.header("The data")
if isinstance(glance, str):
    st.warning(f"The test images are not available: {glance}")
else:
    left, right = st.columns([3, 2])
    figures.chart(charts.examples_grid_figure(glance.grid), where=left)
    counts = glance.counts
    figures.chart(charts.class_balance_figure(counts), where=right)
    height, width = glance.image_shape
    config = common.config(ready[0]) if ready else {}
    n_train = sum(config.get("dataset", {}).get(k, 0) for k in ("n_fit", "n_val"))
    n_val = config.get("dataset", {}).get("n_val", 0)
    balanced = "every class equally common" if len(set(counts)) == 1 else "classes unequal"
    train_text = (
        f"{n_train:,} for training (of which {n_val:,} held out for validation) and "
        if n_train
        else ""
    )
    right.caption(
        f"{label}: colour photos of {width}x{height} pixels in "
        f"{len(CLASS_NAMES)} classes, {train_text}{glance.n_images:,} for testing, {balanced}. "
        "Test images are never used for training. Settings are chosen on the validation "
        "split, with the exceptions each model's card states (see *How each model's settings "
        "were chosen* below)."
    )


with st.expander("How each model's settings were chosen"):
    for name in ready:
        rules = common.config(name).get("selection") or {}
        st.markdown(f"**{common.title(name)}**")
        scaling = (common.config(name).get("imported") or {}).get("scaling") or {}
        if common.is_imported(name):
            st.markdown(
                "- trained elsewhere: training data and recipe not known to the studio\n"
                f"- input scaling {scaling.get('title', '?')}: {scaling.get('how', 'not recorded')}"
            )
        elif rules:
            st.markdown("\n".join(f"- {k.replace('_', ' ')}: {v}" for k, v in rules.items()))
        else:
            st.caption("Not recorded for this artifact (trained before selection rules were kept).")

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

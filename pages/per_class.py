"""Per-class metrics: confusion matrices, per-class scores, most confused pairs, their images."""

import numpy as np
import pandas as pd
import streamlit as st

from ui import common, figures, links
from ui.api import CLASS_NAMES, charts, compare

common.require_dashboard()

st.title("Per-class metrics and confusion matrices")
ready = common.require_models()

links.seed("pc_model", "model", ready)
links.seed("cell_true", "true", CLASS_NAMES)
links.seed("cell_pred", "pred", CLASS_NAMES)
top_left, link_slot = st.columns([4, 1], vertical_alignment="bottom")
name = top_left.selectbox("Model", ready, format_func=common.title, key="pc_model")
metrics = common.metrics(name)
cm = np.asarray(metrics["confusion_matrix"])
common.dataset_caption(metrics["n_test"])

# --- confusion matrix -------------------------------------------------------------------------
st.header("Confusion matrix")
view = st.radio("Show", ["counts", "normalised by true class"], horizontal=True)
fig = charts.clickable_confusion_figure(cm, view)
event = figures.chart(
    fig,
    f"Confusion matrix of {common.title(name)} ({view})",
    on_select="rerun",
    selection_mode="points",
    key=f"cm_{name}",
)
st.caption(
    "Rows are the true classes, columns what the model predicted; the diagonal holds the "
    "correct answers. Normalised, each row sums to 100% and the diagonal is the class's recall. "
    "Click a cell to see its test images below."
)

# A click on a cell selects it in the pickers below.
points = event["selection"]["points"] if event and "selection" in event else []
if points:
    x, y = points[0].get("x"), points[0].get("y")
    if x in CLASS_NAMES and y in CLASS_NAMES and (y, x) != st.session_state.get("last_click"):
        st.session_state["last_click"] = (y, x)
        st.session_state["cell_true"], st.session_state["cell_pred"] = y, x

# --- per-class table and chart ----------------------------------------------------------------
st.header("Precision, recall and F1 per class")
per_class = pd.DataFrame([{"class": cls, **m} for cls, m in metrics["per_class"].items()]).rename(
    columns={"precision": "precision", "recall": "recall", "f1": "F1"}
)
left, right = st.columns([2, 3])
left.dataframe(
    per_class.style.format({"precision": "{:.3f}", "recall": "{:.3f}", "F1": "{:.3f}"}),
    hide_index=True,
    width="stretch",
)
figures.chart(
    charts.per_class_bars_figure(per_class), f"Per-class scores of {common.title(name)}", right
)

# --- most confused pairs ----------------------------------------------------------------------
st.header("Most confused pairs")
pairs = pd.DataFrame(compare.most_confused(cm, k=10))
if pairs.empty:
    st.info("No mistakes at all on the test set.")
else:
    st.dataframe(
        pairs.style.format({"share_of_true": "{:.1%}"}),
        hide_index=True,
        width="stretch",
        column_config={"share_of_true": "share of the true class"},
    )

# --- the images behind a cell -----------------------------------------------------------------
st.header("The test images behind a cell")
if "cell_true" not in st.session_state and not pairs.empty:
    st.session_state["cell_true"] = pairs.iloc[0]["true"]
    st.session_state["cell_pred"] = pairs.iloc[0]["predicted"]
left, right = st.columns(2)
true_cls = left.selectbox("True class", CLASS_NAMES, key="cell_true")
pred_cls = right.selectbox("Predicted class", CLASS_NAMES, key="cell_pred")
links.keep(model=name, true=true_cls, pred=pred_cls)
links.share(link_slot)

samples = common.test_images()
preds = common.predictions(name)
if isinstance(samples, str):
    st.warning(f"The test images are not available: {samples}")
elif len(samples) != len(preds["y_true"]) or not np.array_equal(samples.labels, preds["y_true"]):
    st.warning(
        f"{common.title(name)} was evaluated on a different test set ({len(preds['y_true']):,} "
        f"images) than the shipped test images ({len(samples):,}), so its rows cannot be shown."
    )
else:
    t, p = CLASS_NAMES.index(true_cls), CLASS_NAMES.index(pred_cls)
    rows, total = compare.cell_examples(preds["y_true"], preds["probs"], t, p, limit=24)
    kind = "correct" if t == p else "mistaken"
    st.write(
        f"**{total:,}** {true_cls} images predicted as **{pred_cls}** ({kind}); "
        f"{'showing the most confident ' + str(len(rows)) if total > len(rows) else 'all shown'}."
    )
    cols = st.columns(8)
    for i, row in enumerate(rows):
        cols[i % 8].image(
            common.pixelated(samples.images[row]),
            caption=f"true {true_cls} · pred {pred_cls} · {preds['probs'][row, p]:.0%}",
            alt=f"Test image {row}, a {true_cls}, predicted {pred_cls} "
            f"{preds['probs'][row, p]:.0%} by {common.title(name)}",
        )

    # --- why: Grad-CAM on the same images, on request (off, the page stays as fast as before) ---
    left, right = st.columns([1, 2])
    show_cam = left.toggle("Grad-CAM heatmaps of these images", key="cell_cam")
    explain = right.radio(
        "Heatmap for",
        [f"the predicted class ({pred_cls})", f"the true class ({true_cls})"],
        horizontal=True,
        key="cell_cam_class",
        disabled=not show_cam,
    )
    if show_cam and len(rows):
        target = p if explain.startswith("the predicted") else t
        heatmaps = common.test_gradcam(name, rows, [target] * len(rows))
        if common.no_gradcam(name):
            st.caption(common.no_gradcam(name))
        elif heatmaps is None:
            st.info(f"{common.title(name)} is not loaded here, so it cannot be explained.")
        else:
            st.caption(
                f"Bright: the pixels that pushed {common.title(name)} towards "
                f"{CLASS_NAMES[target]} (Grad-CAM on its last convolutional layer)."
            )
            cols = st.columns(8)
            for i, (row, heatmap) in enumerate(zip(rows, heatmaps, strict=True)):
                cols[i % 8].image(
                    common.gradcam_overlay(samples.images[row], heatmap),
                    caption=f"test image {row}",
                    alt=f"{common.title(name)} Grad-CAM towards {CLASS_NAMES[target]} for "
                    f"test image {row}, a {true_cls} predicted {pred_cls}",
                )

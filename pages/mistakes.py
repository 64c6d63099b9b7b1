"""Where the models fail: the most confident wrong answers, and test labels that may be wrong."""

import streamlit as st

from ui import common, links
from ui.api import CLASS_NAMES, confident_mistakes, possibly_mislabelled

common.require_dashboard()

ANY = "any"
COLUMNS = 6

st.title("Where the models fail")
ready = common.require_models()
samples = common.test_images()
if isinstance(samples, str):
    st.warning(f"The test images are not available: {samples}")
    st.stop()
aligned = common.evaluated_on(samples.labels, ready)
if len(aligned) < len(ready):
    st.caption(
        "Left out (evaluated on another test set than the shipped images): "
        + ", ".join(common.title(n) for n in ready if n not in aligned)
    )
if not aligned:
    st.stop()
probs = {n: common.predictions(n)["probs"] for n in aligned}
labels = samples.labels
common.dataset_caption(len(labels))


def gallery(table, cam_model: str | None, key: str) -> None:
    """Each test image with every model's answer; with ``cam_model``, its Grad-CAM beside."""
    shown = table.head(st.session_state.get(f"{key}_limit", 24))
    heatmaps = None
    if cam_model is not None and len(shown):
        answers = [CLASS_NAMES.index(c) for c in shown[cam_model]]
        heatmaps = common.test_gradcam(cam_model, shown["row"].to_numpy(), answers)
        if common.no_gradcam(cam_model):
            st.caption(common.no_gradcam(cam_model))
    cols = st.columns(COLUMNS)
    for i, (_, item) in enumerate(shown.iterrows()):
        col = cols[i % COLUMNS].container(border=True)
        row = int(item["row"])
        col.image(
            common.pixelated(samples.images[row]),
            caption=f"test image {row}",
            alt=f"Test image {row}, a {item['true']}",
        )
        if heatmaps is not None:
            col.image(
                common.gradcam_overlay(samples.images[row], heatmaps[i]),
                caption=f"Grad-CAM: {common.title(cam_model)} for {item[cam_model]}",
                alt=f"{common.title(cam_model)} Grad-CAM for {item[cam_model]} on test image "
                f"{row}, a {item['true']}, predicted {item[cam_model]} "
                f"{item[f'{cam_model} confidence']:.0%}",
            )
        lines = [f"true: **{item['true']}**"]
        for name in aligned:
            mark = ":green[✓]" if item[name] == item["true"] else ":red[✗]"
            lines.append(
                f"{mark} {common.title(name)}: {item[name]} {item[f'{name} confidence']:.0%}"
            )
        col.markdown("  \n".join(lines))


mistakes_tab, mislabelled_tab = st.tabs(["Most confident mistakes", "Possibly mislabelled"])

with mistakes_tab:
    links.seed("mis_model", "model", aligned)
    links.seed("mis_true", "true", [ANY, *CLASS_NAMES])
    links.seed("mis_pred", "pred", [ANY, *CLASS_NAMES])
    links.seed_range("mis_conf", "confidence", 0.0, 1.0)
    c1, c2, c3, c4 = st.columns(4)
    model = c1.selectbox("Mistakes of", aligned, format_func=common.title, key="mis_model")
    true_cls = c2.selectbox("True class", [ANY, *CLASS_NAMES], key="mis_true")
    pred_cls = c3.selectbox("Predicted class", [ANY, *CLASS_NAMES], key="mis_pred")
    st.session_state.setdefault("mis_conf", (0.5, 1.0))
    low, high = c4.slider("Confidence of the wrong answer", 0.0, 1.0, step=0.05, key="mis_conf")
    links.keep(model=model, true=true_cls, pred=pred_cls, confidence=(low, high))
    table = confident_mistakes(
        labels,
        probs,
        model,
        true_class=None if true_cls == ANY else CLASS_NAMES.index(true_cls),
        predicted_class=None if pred_cls == ANY else CLASS_NAMES.index(pred_cls),
        min_confidence=low,
        max_confidence=high,
    )
    left, right = st.columns([3, 1])
    left.write(
        f"**{len(table):,}** wrong answers of {common.title(model)} match "
        f"(of {int((probs[model].argmax(axis=1) != labels).sum()):,}); the most confident "
        "first, with every model's answer."
    )
    right.selectbox("Show", [12, 24, 48, 96], index=1, key="mis_limit")
    links.share(right)
    cam = st.toggle(f"Grad-CAM of {common.title(model)} for its wrong answer", key="mis_cam")
    gallery(table, model if cam else None, "mis")

with mislabelled_tab:
    st.write(
        "Test images on which **every** model shown here gives the same answer, not the label, "
        "each with at least the confidence below. CIFAR-10 is known to hold some wrong labels; "
        "these are the first suspects (look, then judge)."
    )
    left, right = st.columns([3, 1])
    threshold = left.slider("Each model's confidence at least", 0.5, 0.99, 0.9, 0.01)
    right.selectbox("Show", [12, 24, 48, 96], index=1, key="lab_limit")
    if len(aligned) < 2:
        st.info("With one model this is just its confident mistakes; train another to compare.")
    suspects = possibly_mislabelled(labels, probs, min_confidence=threshold)
    st.write(f"**{len(suspects):,}** test images.")
    cam_model = st.selectbox(
        "Grad-CAM of",
        ["none", *aligned],
        format_func=lambda n: n if n == "none" else common.title(n),
        key="lab_cam",
    )
    gallery(suspects, None if cam_model == "none" else cam_model, "lab")

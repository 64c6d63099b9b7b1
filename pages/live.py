"""Live classification: upload images or take a photo; every trained model answers side by side."""

import numpy as np
import streamlit as st

from core.classify import MAX_FILES, classify_files
from core.data import CLASS_NAMES
from core.images import MAX_BYTES, SUPPORTED_FORMATS
from ui import common

common.require_dashboard()

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]

st.title("Live classification")
st.write(
    "Upload photos (or take one with the camera): each is shrunk to 32x32 pixels, exactly as "
    "the models see it, and every trained model gives its most likely classes."
)

predictor = common.shared_predictor()
if not predictor.models:
    common.no_models_message()
    common.not_trained(list(common.registry()))
    st.stop()
not_loaded = [name for name in common.registry() if name not in predictor.models]
if not_loaded:
    with st.expander(f"{len(not_loaded)} model(s) not available here"):
        common.not_trained(not_loaded)

left, right = st.columns([3, 1])
uploads = left.file_uploader(
    f"Images ({', '.join(SUPPORTED_FORMATS)}; up to {MAX_FILES} at a time)",
    type=UPLOAD_TYPES,
    accept_multiple_files=True,
    max_upload_size=MAX_BYTES // 2**20,  # Streamlit's server counts MB as 2**20 bytes
)
k = right.slider("Top-k classes", 1, 10, 3)
show_cam = right.toggle("Grad-CAM heatmaps", value=True, key="live_cam")
cam_target = right.selectbox(
    "Heatmap for",
    ["the predicted class", *CLASS_NAMES],
    key="live_cam_class",
    disabled=not show_cam,
    help="Grad-CAM: the pixels that pushed the model towards this class. "
    "The heatmaps are drawn after all the predictions.",
)
with st.expander("Take a photo with the camera"):
    photo = st.camera_input("Camera")

files = [(f.name, f.getvalue()) for f in uploads or []]
if photo is not None:
    files.append((photo.name or "camera photo", photo.getvalue()))
if not files:
    st.info("Upload one or more images to classify them.")
    st.stop()

if len(files) > MAX_FILES:
    st.warning(
        f"{len(files)} images uploaded: only the first {MAX_FILES} are classified. "
        "Remove some to classify the others."
    )
results = classify_files(predictor, files, k=k, max_files=MAX_FILES)
cam_slots = []  # (image, model, predicted class, where its heatmap goes), filled in at the end
for i, res in enumerate(results):
    if res.error:
        st.error(res.error)
        continue
    st.subheader(res.name)
    models = list(res.top)
    cols = st.columns([1] + [2] * len(models))
    cols[0].image(common.pixelated(res.image, 4), caption="what the models see (32x32)")
    if res.agree is True:
        cols[0].success(f"All models agree: **{res.top1[models[0]]}**")
    elif res.agree is False:
        picks = ", ".join(f"{common.title(m)}: {c}" for m, c in res.top1.items())
        cols[0].warning(f"The models disagree ({picks})")
    # Native progress bars, not Plotly: a Plotly chart costs the browser 0.3-0.6 s per upload
    # (and ~3 s the first time it loads plotly.js), which alone breaks the one-second target.
    for col, model in zip(cols[1:], models, strict=True):
        box = col.container(border=True, key=f"pred_{i}_{model}")
        box.markdown(f"**{common.title(model)}**: {res.top1[model]}")
        for cls, prob in res.top[model]:
            box.progress(min(max(prob, 0.0), 1.0), text=f"{cls} · {prob:.1%}")
        if show_cam:
            cam_slots.append((res.image, model, res.top1[model], box.empty()))
    for model, reason in res.failed.items():
        cols[0].error(f"{common.title(model)} gave no answer ({reason}).")

# Grad-CAM only after every prediction is on screen, so it cannot delay them: one request per
# model with all of this page's images, batched with other sessions' and served only while no
# prediction is waiting (core.predictor.SharedPredictor).
for model in dict.fromkeys(slot[1] for slot in cam_slots):
    mine = [slot for slot in cam_slots if slot[1] == model]
    targets = [
        CLASS_NAMES.index(predicted if cam_target == "the predicted class" else cam_target)
        for _, _, predicted, _ in mine
    ]
    heatmaps = common.gradcam(model, np.stack([image for image, *_ in mine]), targets)
    if heatmaps is None:
        for *_, slot in mine:
            slot.caption("No heatmap: the server is too busy right now.")
        continue
    for (image, _, _, slot), heatmap, target in zip(mine, heatmaps, targets, strict=True):
        slot.image(
            common.gradcam_overlay(image, heatmap, scale=3),
            caption=f"Grad-CAM for {CLASS_NAMES[target]}",
        )

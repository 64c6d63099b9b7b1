"""Live classification: upload images or take a photo; every trained model answers side by side."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core.classify import classify_files
from core.images import SUPPORTED_FORMATS
from ui import common

common.require_dashboard()

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]

st.title("Live classification")
st.write(
    "Upload photos (or take one with the camera): each is shrunk to 32x32 pixels, exactly as "
    "the models see it, and every trained model gives its most likely classes."
)

predictor, failed = common.predictor()
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
    f"Images ({', '.join(SUPPORTED_FORMATS)})",
    type=UPLOAD_TYPES,
    accept_multiple_files=True,
)
k = right.slider("Top-k classes", 1, 10, 3)
with st.expander("Take a photo with the camera"):
    photo = st.camera_input("Camera")

files = [(f.name, f.getvalue()) for f in uploads or []]
if photo is not None:
    files.append((photo.name or "camera photo", photo.getvalue()))
if not files:
    st.info("Upload one or more images to classify them.")
    st.stop()

results = classify_files(predictor, files, k=k)
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
    for col, model in zip(cols[1:], models, strict=True):
        top = pd.DataFrame(res.top[model], columns=["class", "probability"])
        fig = px.bar(
            top.iloc[::-1],
            x="probability",
            y="class",
            orientation="h",
            range_x=[0, 1],
            text_auto=".1%",
            title=f"{common.title(model)}: {top.iloc[0]['class']}",
        )
        fig.update_layout(
            height=120 + 28 * len(top),
            margin=dict(l=0, r=0, t=40, b=0),
            xaxis_tickformat=".0%",
            yaxis_title="",
        )
        col.plotly_chart(fig, width="stretch", key=f"bars_{i}_{model}")

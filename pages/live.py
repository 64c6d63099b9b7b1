"""Live classification: upload images or take a photo; every trained model answers side by side."""

import numpy as np
import streamlit as st

from ui import answer_bars, batch, common, unfamiliar
from ui.api import (
    CLASS_NAMES,
    MAX_BYTES,
    SUPPORTED_FORMATS,
    abstain,
    short_label,
)

common.require_dashboard()

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif"]
CARDS_PER_ROW = 3
# One size for every heatmap of a card row: at the column's width they came out 108 or 132 px.
GRADCAM_PX = 128
RECHECK_WARM_S = 1.0


def _warming_cards(slots: list, warming_up: list[str], image: int) -> None:
    """A card per model still warming up, in the slots after the answers; the page reruns
    (``_rerun_while_warming``) until every model has answered."""
    for col, model in zip(slots, warming_up, strict=False):
        box = col.container(border=True, key=f"warming_{image}_{model}")
        box.markdown(f"**{short_label(model)}**: warming up…", help=common.title(model))
        box.caption("Its answer shows here in a few seconds.")


def _rerun_while_warming(warming: bool) -> None:
    if warming:
        import time

        time.sleep(RECHECK_WARM_S)
        st.rerun()


st.title("Live classification")
st.write(
    "Upload photos (or take one with the camera): each is shrunk to 32x32 pixels, exactly as "
    "the models see it, and every trained model you pick gives its most likely classes."
)

left, right = st.columns([3, 1])
uploads = left.file_uploader(
    f"Images ({', '.join(SUPPORTED_FORMATS)}; {batch.CAP})",
    type=[*UPLOAD_TYPES, "zip"],
    accept_multiple_files=True,
    max_upload_size=MAX_BYTES // 2**20,  # Streamlit's server counts MB as 2**20 bytes
)
k = right.slider("Top-k classes", 1, 10, 3)
abstain_below = right.slider(
    "Abstain below p",
    0.0,
    1.0,
    0.5,
    0.05,
    key="live_abstain",
    help="Mark an answer “not sure” when the model's confidence in it (temperature-scaled, as on "
    "the Calibration page) is below p; 0 turns it off. The answer stays shown.",
)
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

# The uploader is drawn first, so it is there at once. The models load in the background from
# the server's first page on (ui.common.start_warm_up); an upload made before that ends waits
# under a message and is then answered.
ready = common.ready_models()
if not ready:
    common.no_models_message()
    common.not_trained(list(common.registry()))
    st.stop()
# Each model answers in turn: with many added models, the picker keeps an upload's wait short.
picked = st.multiselect(
    "Models that answer",
    ready,
    default=ready,
    format_func=common.title,
    key="live_models",
    help="Every trained model by default, added (imported) ones included; fewer answer sooner.",
)
# Everything the answers draw sits in one placeholder that each run fills anew: keyed cards drawn
# at another position in an earlier run (while models warmed up) otherwise stayed on the page
# below the new ones, a second, outdated set of answers.
answers_area = st.empty()
if not picked:
    st.info("Pick at least one model to answer.")
    st.stop()

files = [(f.name, f.getvalue()) for f in uploads or []]
if photo is not None:
    files.append((photo.name or "camera photo", photo.getvalue()))
loading = common.models_loading()
if not files:
    st.info("Upload one or more images to classify them.")
    if not loading.done():
        st.caption(":material/hourglass_top: The models are loading in the background.")
    st.stop()

# Waits only for the first warm model: the others answer as they warm up (_warming_cards).
predictor, warming_up = common.answering_models()
if not predictor.models:
    common.no_models_message()
    st.stop()
answering = [name for name in picked if name in predictor.models]
warming_up = [name for name in warming_up if name in picked]  # only the picked ones wait
results = batch.classify(predictor, files, k, models=answering)
with answers_area.container():
    not_loaded = [n for n in common.registry() if n not in predictor.models and n not in warming_up]
    if not_loaded:
        with st.expander(f"{len(not_loaded)} model(s) not available here"):
            common.not_trained(not_loaded)

    st.header("Answers")  # each image's name below is a level-3 heading: none skips a level
    batch.table(results, answering)  # many images: a table and CSV, cards for a few
    # (image, model, predicted class, what the heatmap's alt text starts with, where it goes)
    cam_slots = []
    for i, res in enumerate(results[: batch.CARDS]):
        if res.error:
            st.error(res.error)
            continue
        st.subheader(res.name)
        models = list(res.top)
        # The unfamiliar-image flag first; the answers that follow are then only guesses.
        flagged = unfamiliar.flag_banner(res)
        if not flagged and loading.gate_warming():
            unfamiliar.not_checked_yet()
        if flagged:
            unfamiliar.guesses_caption(res)
        # The verdict over the whole width: in the picture's narrow column it wrapped word by word.
        elif res.agree is True:
            st.success(f"All models agree: **{res.top1[models[0]]}**")
        elif res.agree is False:
            picks = ", ".join(f"{short_label(m)}: {c}" for m, c in res.top1.items())
            st.warning(f"The models disagree ({picks})")
        for model, reason in res.failed.items():
            st.error(f"{common.title(model)} gave no answer ({reason}).")
        picture, cards = st.columns([1, 5])
        picture.image(
            common.pixelated(res.image, 4),
            caption="what the models see (32x32)",
            alt=f"{res.name} as the models see it, 32 by 32 pixels",
        )
        # At most three cards a row: five or six in one row left each ~100 px wide at 1280 px.
        slots = [
            col
            for _ in range(0, len(models) + len(warming_up), CARDS_PER_ROW)
            for col in cards.columns(CARDS_PER_ROW)
        ]
        _warming_cards(slots[len(models) :], warming_up, i)
        # HTML bars, not Plotly: a Plotly chart costs the browser 0.3-0.6 s per upload (and ~3 s
        # the first time it loads plotly.js), which alone breaks the half-second target.
        # Short labels in the cards (a full title wrapped over three lines), the title as tooltip.
        for col, model in zip(slots, models, strict=False):
            box = col.container(border=True, key=f"pred_{i}_{model}")
            head = f"**{short_label(model)}**: {res.top1[model]}"
            if flagged:  # played down: a guess, not an answer
                head = f"{short_label(model)}: *guess* {res.top1[model]}"  # grey text fails AA
            box.markdown(head, help=common.title(model))
            box.html(answer_bars.top_k_html(res.top[model]))
            sure = abstain.confidence(res.probs[model], common.temperature(model))
            if sure < abstain_below:
                box.markdown(
                    f":orange[:material/help: **not sure**] ({sure:.0%} < {abstain_below:.0%})"
                )
            if show_cam and not warming_up:  # heatmaps once every model has answered
                top_class, top_prob = res.top[model][0]
                about = f"on {res.name}, predicted {top_class} {top_prob:.0%}"
                cam_slots.append((res.image, model, res.top1[model], about, box.empty()))


# Grad-CAM only after every prediction is on screen, so it cannot delay them: one request per
# model with all of this page's images, batched with other sessions' and served only while no
# prediction is waiting (core.serving.predictor.SharedPredictor).
# Heatmaps once the warm-up has traced every Grad-CAM graph. Asked for earlier (say, while
# fast-start copies answer and the Keras models load behind them), each was traced in the shared
# worker while this run waited: 22 s here, with the answers' "not checked yet" note left stale.
heatmaps_later = not loading.done()
for model in dict.fromkeys(slot[1] for slot in cam_slots):
    mine = [slot for slot in cam_slots if slot[1] == model]
    if common.no_gradcam(model):  # e.g. a TFLite model: one line, no heatmap to wait for
        for *_, slot in mine:
            slot.caption(common.no_gradcam(model))
        continue
    if heatmaps_later:
        for *_, slot in mine:
            slot.caption(":material/hourglass_top: Its heatmap shows once the models have loaded.")
        continue
    targets = [
        CLASS_NAMES.index(predicted if cam_target == "the predicted class" else cam_target)
        for _, _, predicted, _, _ in mine
    ]
    heatmaps = common.gradcam(model, np.stack([image for image, *_ in mine]), targets)
    if heatmaps is None:
        for *_, slot in mine:
            slot.caption("No heatmap: the server is too busy right now.")
        continue
    for (image, _, _, about, slot), heatmap, target in zip(mine, heatmaps, targets, strict=True):
        slot.image(
            common.gradcam_overlay(image, heatmap, scale=4),
            width=GRADCAM_PX,
            caption=f"Grad-CAM for {CLASS_NAMES[target]}",
            alt=f"{common.title(model)} Grad-CAM for {CLASS_NAMES[target]} {about}",
        )

_rerun_while_warming(
    bool(warming_up) or loading.gate_warming() or bool(heatmaps_later and cam_slots)
)

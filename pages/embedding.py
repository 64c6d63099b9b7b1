"""Embedding map: the test images placed by a model's features; select a region to see them."""

import numpy as np
import streamlit as st

from ui import common, figures, links
from ui.api import CLASS_NAMES, ImageRejected, charts, decode_for_model, embedding

common.require_dashboard()

COLUMNS = 8
SHOWN = 48
MODEL_KEY, COLOUR_KEY, IMAGE_KEY = "map_model", "map_colour", "map_image"

st.title("Embedding map")
ready = common.require_models()
samples = common.test_images()
if isinstance(samples, str):
    st.warning(f"The test images are not available: {samples}")
    st.stop()
labels = samples.labels
aligned = common.evaluated_on(labels, ready)
mapped = [n for n in aligned if common.embedding_map(n) is not None]
if not mapped:
    st.info(
        "No trained model has a map yet. Compute one (a few minutes a model) with: "
        "`python -m core.embedding MODEL`"
    )
    st.stop()

st.write(
    "Each dot is one of the test images, placed so that images the model sees as alike sit "
    "close together (its penultimate features, reduced by PCA and t-SNE). Classes the model "
    "confuses share ground; lone dots inside another class's cloud are often its mistakes. "
    "Draw a lasso or a box around a region to see its images; hover a dot to see what it is."
)

links.seed(MODEL_KEY, "model", mapped)
links.seed(COLOUR_KEY, "colour", list(embedding.COLOURINGS))
links.seed(IMAGE_KEY, "image", range(len(labels)), int)
st.session_state.setdefault(IMAGE_KEY, -1)
c1, c2, c3, c4 = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
name = c1.selectbox("Map of", mapped, format_func=common.title, key=MODEL_KEY)
colouring = c2.selectbox(
    "Colour by",
    list(embedding.COLOURINGS),
    format_func=lambda c: embedding.COLOURINGS[c],
    key=COLOUR_KEY,
)
picked = c3.number_input(
    "Mark test image",
    min_value=-1,
    max_value=len(labels) - 1,
    key=IMAGE_KEY,
    help="Its number (as under each image below); -1 marks none.",
)
links.keep(model=name, colour=colouring, image=picked if picked >= 0 else None)
links.share(c4)

emap = common.embedding_map(name)
probs = common.predictions(name)["probs"]
right_counts = sum(
    (common.predictions(n)["probs"].argmax(axis=1) == labels).astype(int) for n in aligned
)
marks = {f"test image {picked}": emap.coords[picked]} if picked >= 0 else {}

with st.expander("Place your own image on the map"):
    upload = st.file_uploader(
        "An image", type=["jpg", "jpeg", "png", "webp", "bmp", "gif"], key="map_upload"
    )
placed = None
if upload is not None:
    try:
        image = decode_for_model(upload.getvalue(), upload.name)
    except ImageRejected as exc:
        st.error(str(exc))
    else:
        placed = common.place_on_map(name, image)
        if placed is None:
            st.warning(f"{common.title(name)} cannot be loaded, so the image cannot be placed.")
        else:
            marks["your image"] = placed[0]

fig = charts.map_figure(
    emap.coords, labels, probs, colouring, right_counts, len(aligned), marks=marks
)
event = figures.chart(
    fig,
    f"Embedding map of {common.title(name)}",
    on_select="rerun",
    selection_mode=("lasso", "box"),
    key="map_chart",
)
summary = common.embedding_summary(name)
if summary:
    q = summary["quality"]
    st.caption(
        f"{len(labels):,} test images · {summary['method']}, perplexity "
        f"{summary['perplexity']:g}, seed {summary['seed']} · trustworthiness "
        f"{q['trustworthiness']:.3f} (1 = every dot's map neighbours are neighbours in the "
        f"features) · a new image is placed by its {embedding.NEIGHBOURS} nearest test images, "
        f"{q['placement_error']:.1%} of the map's width off on the median test image"
    )
common.dataset_caption(len(labels), [name])


def gallery(rows: np.ndarray, title: str) -> None:
    """The images of ``rows`` with the true class and this model's answer."""
    predicted = probs.argmax(axis=1)
    st.subheader(title)
    cols = st.columns(COLUMNS)
    for i, row in enumerate(rows[:SHOWN]):
        row = int(row)
        mark = ":green[✓]" if predicted[row] == labels[row] else ":red[✗]"
        box = cols[i % COLUMNS].container(border=True)
        box.image(
            common.pixelated(samples.images[row], 3),
            caption=f"test image {row}",
            alt=f"Test image {row}, a {CLASS_NAMES[labels[row]]}, predicted "
            f"{CLASS_NAMES[predicted[row]]} {probs[row].max():.0%}",
        )
        box.markdown(
            f"{CLASS_NAMES[labels[row]]}  \n{mark} {CLASS_NAMES[predicted[row]]} "
            f"{probs[row].max():.0%}"
        )


if placed is not None:
    st.image(
        common.pixelated(image, 4),
        caption="your image, as the models see it (32x32)",
        alt="Your image as the models see it, 32 by 32 pixels",
    )
    gallery(placed[1], f"Its {len(placed[1])} nearest test images for {common.title(name)}")

if picked >= 0:
    gallery(np.array([picked]), f"Test image {picked}, marked with a star")

points = (event or {}).get("selection", {}).get("points", [])
rows = np.array(sorted({int(p["customdata"]) for p in points if "customdata" in p}), dtype=int)
if not len(rows):
    st.info("Select a region of the map (lasso or box) to see its images.")
    st.stop()
right = (probs[rows].argmax(axis=1) == labels[rows]).mean()
counts = np.bincount(labels[rows], minlength=len(CLASS_NAMES))
top = ", ".join(
    f"{CLASS_NAMES[i]} {counts[i] / len(rows):.0%}" for i in np.argsort(-counts)[:3] if counts[i]
)
st.markdown(
    f"**{len(rows):,} images selected** · {common.title(name)} gets **{right:.0%}** of them "
    f"right · true classes: {top}"
)
gallery(rows, f"The selected images (the first {min(SHOWN, len(rows))} in test order)")

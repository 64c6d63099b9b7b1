"""Augmentation preview: real test images beside random draws of the training augmentation."""

import numpy as np
import streamlit as st

from ui import common
from ui.api import CLASS_NAMES, AugmentConfig, augment_images, scale

common.require_dashboard()

st.title("Augmentation preview")
st.write(
    "During training every image is randomly rotated, shifted, flipped or zoomed a little each "
    "time the model sees it, so it learns the object rather than its exact pixels. These are "
    "real CIFAR-10 test images passed through `core.data.augment.augment_images`, the very code "
    "training uses."
)

samples = common.test_images()
if isinstance(samples, str):
    st.error(f"No images to preview: {samples}")
    st.stop()

REF = AugmentConfig.reference()
PRESETS = {"reference": REF} | {
    spec.title: spec.defaults.augment for spec in common.shipped().values()
}
DEFAULTS = {"aug_rotation": REF.rotation, "aug_shift": REF.shift, "aug_flip": REF.flip}
DEFAULTS["aug_zoom"] = REF.zoom
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)
st.session_state.setdefault("aug_seed", 0)


def _apply_preset() -> None:
    cfg = PRESETS[st.session_state["aug_preset"]]
    st.session_state.update(
        aug_rotation=cfg.rotation, aug_shift=cfg.shift, aug_flip=cfg.flip, aug_zoom=cfg.zoom
    )


controls, view = st.columns([1, 3])
with controls:
    st.selectbox(
        "Start from",
        list(PRESETS),
        key="aug_preset",
        on_change=_apply_preset,
        help="The reference settings, or the augmentation a model of the zoo trains with.",
    )
    rotation = st.slider("Rotation (± degrees)", 0.0, 45.0, step=1.0, key="aug_rotation")
    shift = st.slider("Width/height shift (± fraction)", 0.0, 0.3, step=0.025, key="aug_shift")
    zoom = st.slider("Zoom (± fraction)", 0.0, 0.5, step=0.05, key="aug_zoom")
    flip = st.checkbox("Horizontal flip", key="aug_flip")
    n_images = st.slider("Images", 1, 10, 6)
    copies = st.slider("Augmented copies of each", 1, 8, 5)
    if st.button("Re-draw", type="primary", help="New random augmentations of the same images"):
        st.session_state["aug_seed"] += 1
    if st.button("Other images"):
        st.session_state["aug_pick"] = st.session_state.get("aug_pick", 0) + 1

config = AugmentConfig(rotation=rotation, shift=shift, flip=flip, zoom=zoom)
rng = np.random.default_rng(st.session_state.get("aug_pick", 0))
rows = rng.choice(len(samples), n_images, replace=False)
originals = scale(samples.images[rows])
draws = augment_images(originals, config, copies=copies, seed=st.session_state["aug_seed"])

with view:
    st.caption(
        f"rotation ±{rotation:g}°, shift ±{shift:g}, zoom ±{zoom:g}, "
        f"flip {'on' if flip else 'off'}" + ("" if config.enabled else " (no augmentation)")
    )
    header = st.columns(copies + 1)
    header[0].markdown("**original**")
    for c in range(copies):
        header[c + 1].markdown(f"draw {c + 1}")
    for i, row in enumerate(rows):
        cols = st.columns(copies + 1)
        label = CLASS_NAMES[samples.labels[row]]
        cols[0].image(
            common.pixelated(originals[i], 3), caption=label, alt=f"Test image {row}, a {label}"
        )
        for c in range(copies):
            cols[c + 1].image(
                common.pixelated(draws[c, i], 3),
                alt=f"Augmentation draw {c + 1} of test image {row}, a {label}",
            )

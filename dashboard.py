"""The CIFAR-10 CNN studio: `streamlit run dashboard.py`.

One page per file in ``pages/``; every page only presents what ``core`` computes.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # `core` and `ui` from any cwd

import streamlit as st  # noqa: E402

from ui import common  # noqa: E402

UI = Path(__file__).resolve().parent / "ui"
# A bundled icon: a Material Symbols page icon is fetched by the browser from a font host.
st.set_page_config(
    page_title="CIFAR-10 CNN studio", page_icon=str(UI / "favicon.png"), layout="wide"
)
st.html(UI / "style.css")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/comparison.py", title="Model comparison", icon=":material/compare:"),
    st.Page("pages/agreement.py", title="Agreement sets", icon=":material/join_inner:"),
    st.Page("pages/embedding.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("pages/per_class.py", title="Per-class metrics", icon=":material/grid_on:"),
    st.Page("pages/augmentation.py", title="Augmentation preview", icon=":material/shuffle:"),
    st.Page("pages/live.py", title="Live classification", icon=":material/photo_camera:"),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/report:"),
    st.Page("pages/trust.py", title="Calibration and robustness", icon=":material/verified:"),
    st.Page("pages/report.py", title="Report and model cards", icon=":material/description:"),
]
# A read-only viewer (CIFAR10_STUDIO_VIEWER=1, core.serving.deployment) has no Train page: a link to
# /train then gets Streamlit's "page not found" and the default page.
if not common.viewer_mode():
    PAGES.append(st.Page("pages/train.py", title="Train", icon=":material/model_training:"))

page = st.navigation(PAGES)

with st.sidebar:
    if common.viewer_mode():
        st.caption(common.VIEWER_CAPTION)
    st.markdown("**Models**")
    for name, status in common.statuses().items():
        mark = {
            "ready": ":green[:material/check_circle:]",
            "missing": ":gray[:material/radio_button_unchecked:]",
            "broken": ":orange[:material/warning:]",
        }[status.state]
        label = (
            "ready"
            if status.ready
            else (common.missing_label(name) if status.state == "missing" else "broken")
        )
        st.caption(f"{mark} {common.title(name)}: {label}")

try:
    common.run_page(page)
finally:
    # Once the first page is drawn, the models load in the background (ui.common), so the Live
    # page answers without its first-visit wait.
    common.start_warm_up()

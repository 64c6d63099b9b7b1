"""The report to take to the meeting, and each model's card."""

import streamlit as st

from ui import common

common.require_dashboard()

st.title("Report and model cards")

# --- the report -------------------------------------------------------------------------------
st.header("Take it to the meeting")
st.write(
    "One HTML file that opens offline in any browser (no remote scripts, styles or fonts): the "
    "model table with 95 % intervals, the reference comparison, confusion matrices, per-class "
    "F1, calibration, robustness, a few test images with each model's Grad-CAM, and every "
    "model's card. The same file as `python -m core.report --out report.html`."
)
ready = common.ready_models()
if not ready:
    common.no_models_message()
elif st.session_state.get("report_wanted"):
    st.download_button(
        "Download report.html",
        data=common.report_html(),
        file_name="cifar10-report.html",
        mime="text/html",
        icon=":material/download:",
        type="primary",
    )
else:
    st.button(
        "Prepare the report",
        icon=":material/description:",
        help="Takes a few seconds: it loads every model for the Grad-CAM examples.",
        on_click=lambda: st.session_state.update(report_wanted=True),
    )

st.subheader("Slides")
st.write(
    "The findings as an editable PowerPoint deck (16:9, native charts): one finding per slide, "
    "each with speaker notes that give the numbers and the command behind them. The same file "
    "as `python -m core.report --pptx deck.pptx`."
)
if ready:
    st.download_button(
        "Download slides (.pptx)",
        data=common.slides_pptx,  # built when clicked (about a minute: Grad-CAM), then cached
        file_name="cifar10-slides.pptx",
        mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
        icon=":material/slideshow:",
        help="Builds the deck when clicked, which takes a minute: it loads every model for the "
        "Grad-CAM examples.",
    )

# --- model cards ------------------------------------------------------------------------------
st.header("Model cards")
st.caption("Each artifact's MODEL_CARD.md: data, command, training time, machine and metrics.")
cards = {name: card for name in common.registry() if (card := common.model_card(name))}
if not cards:
    st.info("No model card yet: every trained model writes one into its artifact.")
for name, card in cards.items():
    with st.expander(f"{common.title(name)} (`{name}`)", expanded=len(cards) == 1):
        st.markdown(card)
missing = [common.title(name) for name in common.registry() if name not in cards]
if missing and cards:
    st.caption(f"No card yet (not trained): {', '.join(missing)}.")

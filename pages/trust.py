"""How far to trust the models: calibration of their confidence, and accuracy under corruptions."""

import pandas as pd
import streamlit as st

from core import charts
from core.robustness import CORRUPTIONS, summary_line
from ui import common

common.require_dashboard()

st.title("Calibration and robustness")
ready = common.ready_models()
if not ready:
    common.no_models_message()
    common.not_trained(list(common.registry()))
    st.stop()

# --- calibration ------------------------------------------------------------------------------
st.header("Can we trust the confidence?")
st.write(
    "A calibrated model that says 80 % is right 80 % of the time. The expected calibration error "
    "(ECE) is the average gap between confidence and accuracy over 15 equal-width confidence "
    "bins of the test images. Temperature scaling divides the model's logits by one number T, "
    "fitted on the validation split (never the test set); it changes the confidence, never the "
    "answer."
)
rows, missing_val = [], []
for name in ready:
    result = common.calibration(name)
    test, t = result["test"], result["temperature"]
    if t is None:
        missing_val.append(name)
    rows.append(
        {
            "model": common.title(name),
            "ECE": test["ece_before"],
            "NLL": test["nll_before"],
            # text, so a model without validation predictions shows "-", not "None"
            "temperature T": "-" if t is None else f"{t:.3f}",
            "ECE after T": "-" if t is None else f"{test['ece_after']:.4f}",
            "NLL after T": "-" if t is None else f"{test['nll_after']:.4f}",
        }
    )
st.dataframe(
    pd.DataFrame(rows).style.format({"ECE": "{:.4f}", "NLL": "{:.4f}"}),
    hide_index=True,
    width="stretch",
)
st.caption(
    "On the test images; NLL is the cross-entropy loss. T > 1 means the model was "
    "over-confident, T < 1 under-confident."
)
if missing_val:
    st.info(
        "No validation predictions stored for "
        + ", ".join(f"`{n}`" for n in missing_val)
        + ", so no temperature yet. Add them with "
        f"`python -m core.calibration --backfill {' '.join(missing_val)} --data PATH`."
    )
chosen = st.multiselect("Reliability diagram of", ready, default=ready, format_func=common.title)
if chosen:
    fig = charts.reliability_figure({common.title(n): common.reliability(n) for n in chosen})
    st.plotly_chart(fig, width="stretch")
    st.caption("Points below the diagonal: more confident than right (over-confident).")

# --- robustness -------------------------------------------------------------------------------
st.header("How does it hold up?")
results = {name: r for name in ready if (r := common.robustness(name))}
if results:
    first = next(iter(results.values()))
    st.write(
        "Accuracy on the same test images after six common corruptions, each at five "
        f"severities ({first.get('subset', '')})."
    )
    for name, result in results.items():
        st.markdown(f"- **{common.title(name)}**: {summary_line(result)}")
    titled = {common.title(n): r for n, r in results.items()}
    cols = st.columns(2)
    for i, corruption in enumerate(CORRUPTIONS):
        cols[i % 2].plotly_chart(
            charts.robustness_figure(corruption, titled), width="stretch", key=f"rob_{corruption}"
        )
    st.caption(
        "Severity 0 is the clean subset. "
        + " ".join(f"`{r['command']}`" for r in results.values())
        + " reproduces these numbers."
    )
missing = [n for n in ready if n not in results]
if missing:
    st.info(
        "Not measured yet: "
        + ", ".join(f"`python -m core.robustness {n}`" for n in missing)
        + " (a few minutes per model on two cores)."
    )

"""How far to trust the models: calibration of their confidence, and accuracy under corruptions."""

import pandas as pd
import streamlit as st

from ui import common, figures, links, unfamiliar
from ui.api import (
    CORRUPTIONS,
    SEVERITIES,
    abstain,
    by_any_label,
    charts,
    corrupt,
    example_rows,
    ood,
    summary_line,
)

common.require_dashboard()

st.title("Calibration and robustness")
ready = common.require_models()

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
    figures.chart(fig, "Reliability: accuracy against confidence")
    st.caption("Points below the diagonal: more confident than right (over-confident).")

# --- abstaining (issue 21) ----------------------------------------------------------------------
st.header("What if it may say “not sure”?")
st.write(
    "A model that abstains below a confidence answers only the images it is surer of. The "
    "risk-coverage curve shows its accuracy on the images it answers against the share it "
    "answers, most confident first: at 100 % it answers everything (its plain accuracy). The "
    "confidence is temperature-scaled where the model has a temperature."
)
short = common.short_labels(ready)
curves = {short[n]: common.risk_coverage(n) for n in ready}
figures.chart(
    charts.risk_coverage_figure(curves, by_any_label()),
    "Accuracy on the answered images against the share answered",
    key="risk_coverage",
)
summary = abstain.summary_rows(curves)
st.dataframe(
    summary.style.format({c: "{:.2f}" if "below" in c else "{:.1%}" for c in summary.columns[1:]}),
    hide_index=True,
    width="stretch",
)
unscaled = [common.title(n) for n in ready if common.temperature(n) is None]
st.caption(
    "Abstain below: the temperature-scaled confidence under which the model says “not sure” to "
    "answer that share of the test images (the Live page's slider uses the same confidence)."
    + (f" No temperature, so raw confidence: {', '.join(unscaled)}." if unscaled else "")
)


def corruption_view(results: dict[str, dict]) -> None:
    """A few test images under one corruption and severity, and each model's accuracy there."""
    st.subheader("See a corruption")
    links.seed("rob_corruption", "corruption", list(CORRUPTIONS))
    links.seed("rob_severity", "severity", SEVERITIES, int)
    st.session_state.setdefault("rob_severity", 3)
    c1, c2, c3 = st.columns([3, 3, 1.5], vertical_alignment="bottom")
    corruption = c1.selectbox(
        "Corruption",
        list(CORRUPTIONS),
        format_func=lambda c: CORRUPTIONS[c].title,
        key="rob_corruption",
    )
    severity = c2.select_slider("Severity", SEVERITIES, key="rob_severity")
    links.keep(corruption=corruption, severity=severity)
    links.share(c3)
    accuracy = ", ".join(
        f"{common.title(n)} {r['corruptions'][corruption]['accuracy'][severity - 1]:.1%}"
        for n, r in results.items()
    )
    c = CORRUPTIONS[corruption]
    st.write(
        f"**{c.title}, severity {severity}** ({c.parameter} {c.levels[severity - 1]:g}): "
        f"accuracy {accuracy}."
    )
    samples = common.test_images()
    if isinstance(samples, str):
        return
    rows = example_rows(samples.labels, 8)
    corrupted = corrupt(samples.images[rows], corruption, severity)
    cols = st.columns(len(rows))
    for col, row, image in zip(cols, rows, corrupted, strict=True):
        label = common.class_name(samples.labels[row])
        col.image(
            common.pixelated(image, 3),
            caption=label,
            alt=f"Test image {row}, a {label}, under {c.title.lower()} at severity {severity}",
        )


# --- robustness -------------------------------------------------------------------------------
st.header("How does it hold up?")
results = {name: r for name in ready if (r := common.robustness(name))}
if results:
    subsets = {r.get("subset", "") for r in results.values()}
    st.write(
        "Accuracy on the same test images after six common corruptions, each at five "
        f"severities ({subsets.pop()})."
        if len(subsets) == 1
        else "Accuracy on class-balanced test subsets after six common corruptions, each at "
        "five severities. Not every model was measured on the same subset (the number of "
        "images follows each name), so small differences between them are not meaningful."
    )
    for name, result in results.items():
        st.markdown(f"- **{common.title(name)}**: {summary_line(result)}")
    titled = {common.title(n): r for n, r in results.items()}
    cols = st.columns(2)
    for i, corruption in enumerate(CORRUPTIONS):
        figures.chart(
            charts.robustness_figure(corruption, titled), where=cols[i % 2], key=f"rob_{corruption}"
        )
    corruption_view(results)
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

# --- unfamiliar images (issue 21) ---------------------------------------------------------------
st.header("Does it notice an image unlike CIFAR-10?")
unfamiliar.gate_section()
ood_summaries = {n: s for n in ready if (s := common.ood_summary(n))}
if ood_summaries:
    st.write(
        "Each model scores how unlike the training images an upload is, from its penultimate "
        "features; above a threshold that 95 % of CIFAR-10 validation images stay below, the "
        "Live page warns that the answers are guesses. Measured on the unfamiliar test set "
        "(photos and renders of none of the ten classes, kept apart from the set the method "
        "was chosen on)."
    )
    titles = {n: common.title(n) for n in ood_summaries}
    table = pd.DataFrame(ood.table_rows(ood_summaries, titles, unfamiliar.judged_by()))
    percent = {c: "{:.1%}" for c in ("detected at 5% false alarms", "CIFAR-10 test flagged")}
    st.dataframe(
        table.style.format({**percent, "AUROC": "{:.3f}", "threshold": "{:.4g}"}),
        hide_index=True,
        width="stretch",
    )
    figures.chart(
        charts.detection_figure(ood_summaries, titles),
        "Unfamiliar images flagged, per model",
        key="ood",
    )
    st.caption(
        "“decides”: the model whose score the Live page and `python -m core.predict --json` "
        "use. " + " ".join(f"`{s['command']}`" for s in ood_summaries.values())
    )
ood_missing = [n for n in ready if n not in ood_summaries]
if ood_missing:
    st.info(f"No unfamiliar-image statistics yet: `python -m core.ood {' '.join(ood_missing)}`.")

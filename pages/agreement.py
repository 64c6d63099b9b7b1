"""Agreement sets: which test images each combination of models gets right, and their images."""

import pandas as pd
import streamlit as st

from ui import common, figures, links
from ui.api import agreement, answers, by_any_label, charts, format_p

common.require_dashboard()

COLUMNS = 6
PATTERN_KEY = "agree_pattern"
CLICKED_KEY = "agree_clicked"

st.title("Agreement sets")
ready = common.require_models(2, "the agreement sets")

samples = common.test_images()
labels = samples.labels if not isinstance(samples, str) else common.predictions(ready[0])["y_true"]
aligned = common.evaluated_on(labels, ready)
if len(aligned) < len(ready):
    st.caption(
        "Left out (evaluated on another test set): "
        + ", ".join(common.title(n) for n in ready if n not in aligned)
    )
if len(aligned) < 2:
    st.stop()
probs = {n: common.predictions(n)["probs"] for n in aligned}
short = common.short_labels(aligned)
correct = agreement.correctness(labels, probs)
table = agreement.patterns(correct, short, agreement.default_groups(aligned))
counts = dict(zip(table["pattern"], table["images"], strict=True))

st.write(
    f"Every test image falls in exactly one pattern: the set of the {len(aligned)} models that "
    "get it right. The bars count the images of each pattern, the largest first; the dots "
    "below show which models are right in it (filled: right, grey: wrong). Drag a box over a "
    "bar, or pick a pattern below, to see its images."
)
common.dataset_caption(len(labels), aligned)
st.markdown(
    f"All right: **{counts.get(agreement.ALL_RIGHT, 0):,}** · all wrong: "
    f"**{counts.get(agreement.ALL_WRONG, 0):,}** · {len(table)} of the "
    f"{2 ** len(aligned)} possible patterns occur."
)

left, right = st.columns([5, 4])
with left:
    fig = charts.upset_figure(table, short, by_any_label())
    event = figures.chart(
        fig,
        "Test images by the set of models that get them right",
        on_select="rerun",
        selection_mode=("points", "box"),
        key="upset",
    )
    shown = table[["pattern", "images", "share"]]
    st.dataframe(
        shown.style.format({"images": "{:,}", "share": "{:.1%}"}),
        hide_index=True,
        width="stretch",
        height=min(35 * (len(shown) + 1) + 3, 320),
    )

with right:
    st.header("Is a difference real? McNemar's exact test")
    tests = agreement.mcnemar_rows(labels, probs, short)
    tests["verdict"] += " (" + tests.pop("p-value").map(format_p) + ")"
    st.dataframe(tests, hide_index=True, width="stretch")
    st.caption(
        'For each pair, only the images exactly one of them gets right count: under "no real '
        'difference" each is equally likely to favour either model (exact binomial test, '
        "two-sided). The Model comparison page explains one pair in words."
    )

# --- the images of one pattern -------------------------------------------------------------------
options = list(table["pattern"])
points = (event or {}).get("selection", {}).get("points", [])
clicked = next((p.get("x") for p in points if p.get("x") in counts), None)
# A new selection in the chart picks its pattern; a selection kept from before the selectbox was
# changed does not, and an emptied selection lets the next click count again.
if clicked is None:
    st.session_state.pop(CLICKED_KEY, None)
elif clicked != st.session_state.get(CLICKED_KEY):
    st.session_state[CLICKED_KEY] = clicked
    st.session_state[PATTERN_KEY] = clicked
links.seed(PATTERN_KEY, "pattern", counts)
if st.session_state.get(PATTERN_KEY) not in counts:
    st.session_state[PATTERN_KEY] = next(
        (o for o in options if o != agreement.ALL_RIGHT), options[0]
    )

c1, c2 = st.columns([3, 1])
pattern = c1.selectbox(
    "Show the images of",
    options,
    key=PATTERN_KEY,
    format_func=lambda name: f"{name} ({counts[name]:,} images)",
)
limit = c2.selectbox("Show", [12, 24, 48, 96], index=1, key="agree_limit")
links.keep(pattern=pattern)
links.share(c2)
chosen = table[table["pattern"] == pattern].iloc[0]
rows = agreement.pattern_rows(correct, [n for n in aligned if chosen[n]])
st.write(
    f"**{pattern}: {len(rows):,}** test images; the first {min(limit, len(rows))} in test order."
)

if isinstance(samples, str):
    st.caption(f"Test images unavailable, so no examples: {samples}")
    st.stop()
gallery: pd.DataFrame = answers(rows[:limit], labels, probs)
cols = st.columns(COLUMNS)
for i, (_, item) in enumerate(gallery.iterrows()):
    box = cols[i % COLUMNS].container(border=True)
    row = int(item["row"])
    box.image(
        common.pixelated(samples.images[row]),
        caption=f"test image {row}",
        alt=f"Test image {row}, a {item['true']}",
    )
    lines = [f"true: **{item['true']}**"]
    for name in aligned:
        mark = ":green[✓]" if item[name] == item["true"] else ":red[✗]"
        lines.append(f"{mark} {short[name]}: {item[name]} {item[f'{name} confidence']:.0%}")
    box.markdown("  \n".join(lines))

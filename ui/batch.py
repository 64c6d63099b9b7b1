"""The Live page's batch: many uploaded images (or a ``.zip``) answered with a progress bar, one
sortable table row per image and a CSV download. The work is ``core.serving.batch``'s."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from ui import common
from ui.api import (
    MAX_BATCH,
    MAX_ZIP_BYTES,
    answering,
    capped,
    classify_batch,
    from_uploads,
    short_label,
    table_rows,
    thumbnail,
    to_csv,
)

CARDS = 6  # result cards (with Grad-CAM) for the first images; the table has every image
CAP = f"up to {MAX_BATCH} images at a time, or a .zip of them; {MAX_ZIP_BYTES / 2**20:g} MiB a file"


def entries(files: list[tuple[str, bytes]]) -> list:
    """The uploads as batch entries: each ``.zip`` opened, everything past ``MAX_BATCH`` images
    kept as a row that says it was not classified."""
    return capped(from_uploads(files), MAX_BATCH)


def classify(
    predictor, files: list[tuple[str, bytes]], k: int, models: list[str] | None = None
) -> list:
    """Every uploaded image's answers (``entries``), under a progress bar that goes once they
    are all in. Kept for the session until the files, ``k`` or the models change: the page's
    other widgets (abstain, heatmaps) rerun it, and 200 images take minutes on a busy CPU."""
    digest = hashlib.blake2b(digest_size=16)
    for name, data in files:
        digest.update(name.encode("utf-8", "replace") + b"\0")
        digest.update(hashlib.blake2b(data, digest_size=16).digest())
    models = list(predictor.models) if models is None else list(models)
    # Answered again once the unfamiliar-image gate has warmed up, and as the Keras models of
    # fast-start copies load (core.serving.fast_start): then they are checked too.
    fast = getattr(getattr(predictor, "predictor", None), "fast", ())
    key = (
        digest.hexdigest(),
        k,
        tuple(models),
        getattr(predictor, "gate", None) is not None,
        tuple(sorted(fast)),
    )
    kept = st.session_state.get("batch_answers")
    if kept is not None and kept[0] == key:
        return kept[1]
    with answering():  # a replica rolled meanwhile waits for this answer before it stops
        results = _classify(predictor, entries(files), k, models)
    # An image decoded but unanswered met a busy server (core.serving.batcher.Busy): ask again.
    if not any(r.error and r.image is not None for r in results):
        st.session_state["batch_answers"] = (key, results)
    return results


def _classify(predictor, batch: list, k: int, models: list[str]) -> list:
    slot = st.empty()
    bar = slot.progress(0.0, text=f"Classifying {len(batch)} images…") if len(batch) > 1 else None

    def moved(done: int, total: int) -> None:
        if bar is not None:
            bar.progress(done / total, text=f"{done} of {total} images classified")

    results = classify_batch(predictor, batch, k=k, progress=moved, models=models)
    slot.empty()
    return results


def table(results: list, models: list[str]) -> None:
    """One row per image (two or more): thumbnail, each model's class and confidence, whether the
    models agree, the unfamiliar flag; sortable by any column, with the same rows as CSV."""
    if len(results) < 2:
        return
    rows = table_rows(results, models)
    frame = pd.DataFrame(rows)
    frame.insert(1, "image", [thumbnail(r.image) for r in results])
    # The reason a file failed is long and mostly empty: last, after the answers.
    frame = frame[[c for c in frame.columns if c != "problem"] + ["problem"]]
    answered = sum(1 for r in results if not r.error)
    flagged = int((frame["unfamiliar"] == "yes").sum())
    disagree = int((frame["agree"] == "no").sum())
    st.subheader(f"All {len(results)} images")
    st.caption(
        f"{answered} classified, {len(results) - answered} could not be (their reason is in the "
        f"*problem* column), {flagged} flagged as unfamiliar, {disagree} where the models "
        "disagree. Click a column's name to sort by it."
    )
    config = {
        "image": st.column_config.ImageColumn("image", help="What the models see (32x32)"),
        "problem": st.column_config.TextColumn("problem", help="Why a file was not classified"),
        "unfamiliar": st.column_config.TextColumn(
            "unfamiliar", help="Unlike the ten classes: treat its answers as guesses"
        ),
        "agree": st.column_config.TextColumn("agree", help="Every model picks the same class"),
    }
    for model in models:
        label = short_label(model)
        config[f"{model}_class"] = st.column_config.TextColumn(
            f"{label}: class", help=common.title(model)
        )
        config[f"{model}_confidence"] = st.column_config.ProgressColumn(
            f"{label}: confidence", min_value=0.0, max_value=1.0, format="percent"
        )
    st.dataframe(frame, column_config=config, hide_index=True, width="stretch", key="batch_table")
    st.download_button(
        "Download the table (CSV)",
        to_csv(rows),
        file_name="predictions.csv",
        mime="text/csv",
        icon=":material/download:",
        key="batch_csv",
    )
    if len(results) > CARDS:
        st.caption(f"Cards with heatmaps for the first {CARDS} images; the table has them all.")

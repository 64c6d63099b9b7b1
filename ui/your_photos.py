"""The Comparison page's "Your photos vs CIFAR-10": a labelled ``.zip`` evaluated by every model,
beside its CIFAR-10 test figures. The work is ``core.serving.batch.evaluate_labelled``'s."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import api, common, figures, tables
from ui.api import CLASS_NAMES, MAX_BATCH, MAX_ZIP_BYTES, charts, short_label

WORST_PER_ROW = 6


def section() -> None:
    """The upload, then (once evaluated) the shift table, per-class metrics, confusion matrices,
    McNemar's test between models and the hardest images."""
    st.header("Your photos vs CIFAR-10")
    st.write(
        "How do the models do on **your** photos? Zip a folder with one sub-folder per class, "
        f"named after the classes ({', '.join(CLASS_NAMES)}), and upload it: every model "
        "classifies every photo, and the results stand beside its CIFAR-10 test figures."
    )
    upload = st.file_uploader(
        f"Labelled photos (.zip of class folders; up to {MAX_BATCH} images, "
        f"{MAX_ZIP_BYTES / 2**20:g} MiB)",
        type=["zip"],
        key="own_zip",
        max_upload_size=MAX_ZIP_BYTES // 2**20,
    )
    if upload is None:
        return
    # Evaluated once per upload: the page's other widgets rerun it. Only the latest is kept.
    kept = st.session_state.get("own_photos_result")
    if kept is None or kept[0] != upload.file_id:
        # Looked up only now: the models (and TensorFlow) load for an upload, not for the page.
        try:
            entries = api.capped(api.labelled(upload.getvalue(), upload.name), MAX_BATCH)
        except api.BatchError as exc:
            st.error(str(exc))
            return
        predictor = common.shared_predictor()  # waits, under a message, while models load
        if not predictor.models:
            common.no_models_message()
            return
        slot = st.empty()
        bar = slot.progress(0.0, text=f"Evaluating {len(entries)} photos…")

        def moved(done: int, total: int) -> None:
            bar.progress(done / total, text=f"{done} of {total} photos classified")

        result, results = api.evaluate_labelled(predictor, entries, progress=moved)
        slot.empty()
        images = {w["row"]: results[w["row"]].image for w in result["worst"]}
        kept = st.session_state["own_photos_result"] = (upload.file_id, result, images)
    _show(*kept[1:])


def _show(result: dict, images: dict) -> None:
    skipped = result["skipped_files"]
    st.caption(
        f"{result['images']} photos evaluated, {len(skipped)} skipped, "
        f"{result['unfamiliar']} flagged as unlike the ten classes."
    )
    if skipped:
        with st.expander(f"{len(skipped)} file(s) skipped"):
            st.markdown("\n".join(f"- {s['reason']}" for s in skipped))
    for model, reason in result.get("failed_models", {}).items():
        st.error(f"{common.title(model)} is left out: it failed on some photos ({reason}).")
    if not result["images"]:
        st.warning("No photo could be evaluated.")
        return
    names = list(result["models"])
    cifar = {name: common.metrics(name) for name in names}

    st.subheader("Accuracy: your photos and CIFAR-10 test")
    shift = pd.DataFrame(api.own_photos.shift_rows(result, cifar))
    shift["model"] = shift["model"].map(common.title)
    st.dataframe(
        shift.style.format(
            {c: "{:.3f}" for c in shift.columns if c not in ("model", "95% CI")}, na_rep="–"
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "Accuracy change: your photos minus CIFAR-10 test, the shift from the images the models "
        "were trained for to yours. 95% CI: bootstrap over your photos (few photos, wide "
        "interval). Macro F1 averages the classes in your photos."
    )

    st.subheader("Per class")
    per_class = pd.DataFrame(api.own_photos.per_class_rows(result, cifar))
    per_class["model"] = per_class["model"].map(short_label)
    tables.table(per_class, {c: "{:.3f}" for c in per_class.columns if ":" in c})
    model = st.selectbox(
        "Confusion matrices of", names, format_func=common.title, key="own_photos_model"
    )
    left, right = st.columns(2)
    figures.chart(
        charts.confusion_figure(
            result["models"][model]["confusion_matrix"], f"Your photos: {short_label(model)}"
        ),
        where=left,
    )
    figures.chart(
        charts.confusion_figure(
            cifar[model]["confusion_matrix"], f"CIFAR-10 test: {short_label(model)}"
        ),
        where=right,
    )

    if result["mcnemar"]:
        st.subheader("Is one model really better on your photos? McNemar's exact test")
        pairs = pd.DataFrame(
            {
                "model A": [common.title(p["a"]) for p in result["mcnemar"]],
                "model B": [common.title(p["b"]) for p in result["mcnemar"]],
                "only A right": [p["only_a_right"] for p in result["mcnemar"]],
                "only B right": [p["only_b_right"] for p in result["mcnemar"]],
                "p": [api.format_p(p["p_value"]) for p in result["mcnemar"]],
            }
        )
        st.dataframe(pairs, hide_index=True, width="stretch")
        st.caption(
            "Only the photos exactly one of the two models gets right count (exact binomial "
            "test, two-sided); with few photos even a real difference may not show."
        )

    st.subheader("The hardest photos")
    if not result["worst"]:
        st.success("Every model gets every photo right.")
        return
    st.caption("Most models wrong first, then the least probability given to the true class.")
    cols = st.columns(WORST_PER_ROW)
    for i, worst in enumerate(result["worst"]):
        answers = ", ".join(
            f"{short_label(m)}: {a['class']} {a['probability']:.0%}"
            for m, a in worst["answers"].items()
        )
        cols[i % WORST_PER_ROW].image(
            common.pixelated(images[worst["row"]], 3),
            caption=f"{worst['file'].rsplit('/', 1)[-1]}, a {worst['label']} "
            f"({worst['models_wrong']} of {len(worst['answers'])} models wrong). {answers}",
            alt=f"Your photo {worst['file'].rsplit('/', 1)[-1]}, a {worst['label']}; {answers}",
        )

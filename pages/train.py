"""Train: start ``core.training.train`` in a background process and follow its progress live."""

import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from ui import common, figures
from ui.api import (
    DATA_ENV,
    MODEL_MAX_BYTES,
    SCALINGS,
    RunSpec,
    charts,
    compare,
    deployment,
    import_job,
    jobs,
    runspec,
)

common.require_dashboard()
if common.viewer_mode():  # dashboard.py leaves this page out in viewer mode; never run it there
    st.error(deployment.viewer_refusal("has no Train page"))
    st.stop()

st.title("Train a model")
st.write(
    "Training runs in a separate background process, so the dashboard stays usable; progress "
    "is read from the run's log. When it ends, the new artifact replaces the old one and shows "
    "up in every page. On a laptop CPU a full run takes from minutes (Custom CNN) to hours."
)

registry = common.shipped()  # added models are never trained here
status = common.statuses()
name = st.selectbox(
    "Model",
    list(registry),
    format_func=lambda n: (
        f"{registry[n].title} ({n}) · "
        + ("trained" if status[n].ready else common.missing_label(n))
    ),
)
spec = registry[name]
st.caption(spec.description)

weights_flag = None
blocked = None
if spec.transfer:
    problem = common.weights_problem(name)
    choice = st.radio(
        "Backbone weights",
        ["ImageNet", "a weights file", "none (random init, no transfer)"],
        horizontal=True,
    )
    if choice == "ImageNet":
        if problem:
            st.warning(f"**ImageNet weights are missing.** {problem}")
            blocked = "ImageNet weights are missing (see above)."
        weights_flag = "imagenet"
    elif choice == "a weights file":
        typed = st.text_input(
            "Path to the weights archive (.tgz, .whl or .pth; see docs/models.md)",
            help="Absolute, or relative to a data root. Data roots: " + deployment.roots_text(),
        ).strip()
        if not typed:
            blocked = "Enter the path of a weights file."
        else:
            try:
                weights_flag = str(deployment.resolve_weights_file(typed))
            except deployment.SourceRefused as exc:
                st.warning(str(exc))
                blocked = "The weights file is not usable (see above)."
    else:
        weights_flag = "none"
        st.caption("Without ImageNet weights this is just a large network trained from scratch.")

recipe = RunSpec.for_model(name)


def _widget(column, f, default):
    """An input for one RunSpec field, from its type, help and choices."""
    label = f.name.replace("_", " ").capitalize()
    help_text = f.metadata["help"]
    if f.metadata["choices"]:
        choices = list(f.metadata["choices"])
        return column.selectbox(label, choices, index=choices.index(default), help=help_text)
    if isinstance(default, int):
        return int(column.number_input(label, 0, 100_000, default, help=help_text))
    value = column.number_input(label, 0.0, 10.0, float(default), format="%.5g", help=help_text)
    return float(value)


with st.form("hyperparameters"):
    settings, columns = {}, st.columns(4)
    for i, f in enumerate(runspec.form_fields()):
        settings[f.name] = _widget(columns[i % 4], f, getattr(recipe, f.name))
    data = st.text_input(
        "Data source (folder, tarball or .npz)",
        value=jobs.default_data_source(common.root()),
        help=f"Defaults to ${DATA_ENV}, else the source the existing artifacts were trained "
        "on. Empty: the official download (needs a network). Absolute, or relative to a "
        "data root; only paths under the data roots are read.",
    )
    st.caption("Data roots (set by `$CIFAR10_DATA_ROOTS`): " + deployment.roots_text())
    c = st.columns(2)
    limit_train = c[0].number_input("Quick run: training images (0 = all)", 0, 50_000, 0, 1000)
    limit_test = c[1].number_input("Quick run: test images (0 = all)", 0, 10_000, 0, 1000)
    st.caption(
        f"Other settings (augmentation {recipe.augment.to_dict()}, test-time views, seed "
        f"{recipe.seed}) follow the model's recipe; `python -m core.train --help` lists them."
    )
    state = jobs.job_state(name, common.root())
    submitted = st.form_submit_button(
        "Start training", type="primary", disabled=state.running or blocked is not None
    )
if blocked:
    st.caption(f"Cannot start: {blocked}")
if limit_test:
    st.caption(
        "A run on a subset of the test set writes an artifact whose test rows do not match "
        "the shipped test images, so the per-class page cannot show its images."
    )

source = None
if submitted and data.strip():
    try:
        source = str(deployment.resolve_data_source(data))
    except deployment.SourceRefused as exc:
        st.error(str(exc))
        submitted = False

if submitted:
    request = replace(
        RunSpec.for_model(name, **settings),
        data=source,
        limit_train=int(limit_train) or None,
        limit_test=int(limit_test) or None,
        weights=None if weights_flag == "none" else weights_flag or recipe.weights,
    )
    try:
        pid = jobs.start_training(request, common.root())
    except (RuntimeError, OSError, ValueError) as exc:
        st.error(f"Could not start training: {exc}")
    else:
        st.session_state[f"started_{name}"] = time.time()
        st.toast(f"Training of {name} started in the background (process {pid}).")
        st.rerun()  # redraw the form with its button disabled while the run lasts


@st.fragment(run_every=2)
def live_progress(model: str) -> None:
    state = jobs.job_state(model, common.root())
    if state.running:
        st.subheader(f"{model}: training (process {state.pid})")
    elif state.progress or state.log_tail:
        st.subheader(f"{model}: last run")
    else:
        st.caption(f"{model} has no training run to follow yet.")
        return
    last = state.progress[-1] if state.progress else None
    if last:
        epoch = int(last.get("epoch", 0)) + 1
        text = f"epoch {epoch} of {last.get('epochs')}"
        if last.get("event") == "batch":
            text += f", batch {last['batch'] + 1} of {last.get('steps')}"
        text += f" · {last.get('time', 0) / 60:.1f} min"
        st.progress(state.fraction, text=text)
    elif state.running:
        st.progress(0.0, text="starting (loading TensorFlow and the data)…")
    fig = charts.training_curves(state.curve_records(), height=380)
    if fig is not None:
        figures.chart(fig, f"Training curves of {common.title(model)}", key=f"live_{model}")
    if not state.running:
        art_status = common.statuses()[model]
        started = state.started or st.session_state.get(f"started_{model}")
        fresh = (
            art_status.ready and started and compare.modified_time(common.stamp(model)) > started
        )
        if fresh:
            m = common.metrics(model)
            st.success(
                f"Finished: the new artifact is in place (test accuracy {m['accuracy']:.1%} on "
                f"{common.data_label([model])}); the other pages show it now."
            )
        elif state.returncode not in (None, 0):
            st.error(f"The run failed (exit status {state.returncode}); see its log below.")
    if state.log_tail:
        with st.expander("Log (last lines)", expanded=not state.running and not state.progress):
            st.code(state.log_tail[-3000:], language=None)


live_progress(name)

others = [n for n in registry if n != name and jobs.job_state(n, common.root()).running]
if others:
    st.divider()
    st.caption("Also training now: " + ", ".join(others))
    for other in others:
        with st.container(border=True):
            live_progress(other)

with st.expander("Runs of every model"):
    rows = []
    for n in registry:
        s = jobs.job_state(n, common.root())
        rows.append(
            {
                "model": n,
                "state": "training" if s.running else status[n].state,
                "progress": f"{s.fraction:.0%}" if s.running else "",
                "process": str(s.pid or ""),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# --- add your own model (issue 37) ------------------------------------------------------------
st.divider()
st.header("Add your own model")
cap_mib = MODEL_MAX_BYTES // 2**20
st.write(
    f"Upload a CIFAR-10 classifier trained elsewhere (a Keras `.keras` or a `.tflite` file, at "
    f"most {cap_mib} MiB): the studio scores it on the validation and test images, calibrates "
    "it, measures its robustness and its latency, and shows it on every page beside the "
    "shipped models, marked *imported*. It runs in the background (a few minutes for a small "
    "model). Keras files are loaded in safe mode: a file with Python code in it (a `Lambda` "
    "layer) is refused. See docs/own_model.md; `.h5` files and SavedModel folders are added "
    "with `python -m core.add_model`."
)
SCALING_CHOICES = ["auto", *SCALINGS]
with st.form("add_model"):
    upload = st.file_uploader(
        f"Model file (.keras or .tflite, at most {cap_mib} MiB)",
        type=list(import_job.UPLOAD_TYPES),
        max_upload_size=cap_mib,  # Streamlit's server counts MB as 2**20 bytes
        key="add_file",
    )
    c = st.columns(3)
    new_name = (
        c[0]
        .text_input(
            "Name (letters, digits and _)",
            key="add_name",
            help="Its folder under the artifacts root.",
        )
        .strip()
    )
    new_title = c[1].text_input("Title on the pages (default: the name)", key="add_title")
    scaling = c[2].selectbox(
        "Input scaling",
        SCALING_CHOICES,
        format_func=lambda s: (
            "auto: the best on the validation images" if s == "auto" else SCALINGS[s].title
        ),
        key="add_scaling",
        help="The pixel range the model expects; auto tries each on the validation images.",
    )
    add_data = st.text_input(
        "Data source for the validation and test images (folder, tarball or .npz)",
        value=jobs.default_data_source(common.root()),
        key="add_data",
        help="As for training: absolute, or relative to a data root.",
    )
    add_clicked = st.form_submit_button("Add the model", type="primary")

if add_clicked:
    try:
        if upload is None:
            raise ValueError("Choose a model file to upload first.")
        if not new_name:
            raise ValueError("Give the model a name.")
        source = str(deployment.resolve_data_source(add_data)) if add_data.strip() else None
        import_job.start(
            upload.getvalue(),
            upload.name,
            new_name,
            scaling=scaling,
            title=new_title.strip() or None,
            data_source=source,
            root=common.root(),
        )
    except (ValueError, deployment.SourceRefused) as exc:  # one line each (ImportRefused, ...)
        st.error(str(exc))
    else:
        st.session_state["add_following"] = new_name


@st.fragment(run_every=1)
def import_progress() -> None:
    for name, job in import_job.jobs().items():
        if not job.done:
            st.progress(job.fraction, text=f"{name}: {job.stage} ({job.step + 1} of {job.steps})")
        elif job.refusal:
            if st.session_state.get("add_following") == name:
                st.error(f"{job.filename} was not added: {job.refusal}")
        elif st.session_state.get("add_following") == name:
            st.success(
                f"Added **{common.title(name)}** (`{name}`): test accuracy "
                f"{common.metrics(name)['accuracy']:.1%}; every page shows it now."
            )


import_progress()

"""Caching at the boundary between the pages and ``core``, plus a few shared widgets.

Per-model readers are written ``@per_artifact def reader(root, name)`` and called
``reader(name)``: cached per artifacts root and artifact stamp (size and mtime of every file in
its folder), so a retrained model shows up in every page without a restart.
"""

from __future__ import annotations

import functools
import os
import runpy
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from core.analysis import compare
from core.data.cifar10 import CLASS_NAMES
from core.models.registry import REGISTRY
from core.serving import deployment
from core.store import artifacts, catalog

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard.py"
# Whether the script run in this thread goes through dashboard.py (Streamlit gives each script
# run its own thread).
_this_run = threading.local()


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that so that apps building a model on every run do not leak. Ours are built
    once per process (``st.cache_resource``), so the call only costs: a full ``gc.collect()``
    and an emptied TensorFlow kernel cache, about half a second after every rerun of the live
    page (measured with py-spy), and it resets Keras' global state while another session's
    thread may be predicting. No public option turns it off, so this replaces the function
    Streamlit's script runner calls at the end of every run: the one Streamlit internal the
    dashboard touches. tests/test_dashboard.py checks that Streamlit still calls it and that
    Keras' state survives a run of the dashboard.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = lambda: None


_keep_keras_state_between_runs()
# "0": the models load when a page first needs them, not when the server starts (the tests'
# servers that never classify).
WARM_UP_ENV = "CIFAR10_STUDIO_WARM_UP"
WARM_UP_TIMEOUT_S = 900
WARMING_UP = (
    "The models are still loading and tracing their graphs (the server started moments ago); "
    "your images are answered as soon as they are ready…"
)
TRAIN_HINT = "Train it on the **Train** page, or run `python -m core.train {name}`."
# An added model is never trained here: it is added again from its file.
ADD_AGAIN_HINT = (
    "Add it again from its file: `python -m core.add_model FILE --name {name} --replace`, or "
    "`python -m core.add_model --remove {name}`."
)
# In viewer mode there is no Train page to point to (core.serving.deployment).
VIEWER_TRAIN_HINT = (
    "This dashboard is a read-only viewer: the administrator trains models on the server with "
    "`python -m core.train {name}`."
)
VIEWER_CAPTION = (
    ":material/visibility: Read-only viewer: no training, no server paths. Models are trained "
    "by the administrator."
)


def viewer_mode() -> bool:
    """Whether the dashboard runs as a read-only viewer
    (``core.serving.deployment.viewer_mode``)."""
    return deployment.viewer_mode()


def train_hint(name: str) -> str:
    """How to train ``name``: the Train page and the CLI, or in viewer mode who does it."""
    if not catalog.is_shipped(name):
        return ADD_AGAIN_HINT.format(name=name)
    return (VIEWER_TRAIN_HINT if viewer_mode() else TRAIN_HINT).format(name=name)


def root() -> str:
    return str(artifacts.artifacts_root())


def registry() -> dict:
    """name -> ModelSpec of every model: the shipped ones (registry order), then the ones added
    to the artifacts root (``core.store.catalog``). Listed again on every call, so a model
    added while the server runs appears on the next rerun; no TensorFlow."""
    return {name: catalog.spec_of(name, root()) for name in catalog.list_models(root())}


def shipped() -> dict:
    """name -> ModelSpec of the models the studio ships and trains (the Train page's list)."""
    return REGISTRY


def is_imported(name: str) -> bool:
    return catalog.imported(name, root()) is not None


def title(name: str) -> str:
    """The model's title as every page names it; an added model's ends in "(imported)"."""
    return catalog.label(name, root())


def per_artifact(
    loader=None, *, resource: bool = False, spinner: str | bool = False, persist: bool = False
):
    """``loader(root, name)`` -> ``f(name)``, cached per artifact version.

    The cache is keyed by the artifacts root and the artifact's stamp (every file in its
    folder), so a retrained model, or any backfilled file, shows up without a restart.
    ``resource``: one shared object (``st.cache_resource``) instead of a copy per call, for
    large read-only values. ``persist``: also kept on disk (Streamlit's cache folder), so a
    restarted server need not recompute it.
    """

    def wrap(loader):
        cache = st.cache_resource if resource else st.cache_data

        @functools.wraps(loader)  # Streamlit keys each cache by the loader's name and source
        def cached(root_: str, name: str, stamp_: tuple):
            return loader(root_, name)

        options = {"persist": "disk"} if persist else {}
        cached = cache(show_spinner=spinner, max_entries=64, **options)(cached)

        @functools.wraps(loader)
        def by_name(name: str):
            return cached(root(), name, stamp(name))

        by_name.clear = cached.clear
        return by_name

    return wrap(loader) if loader is not None else wrap


@st.cache_data(show_spinner=False, max_entries=64)
def _status(root_: str, name: str, files_key: tuple) -> artifacts.Status:
    return artifacts.Artifact(name, root_).status()


def statuses() -> dict[str, artifacts.Status]:
    """Every model's artifact status (shipped and added), re-checked when one of its files
    changes."""
    return {n: _status(root(), n, stamp(n)) for n in registry()}


def ready_models() -> list[str]:
    return [name for name, status in statuses().items() if status.ready]


def _files_key(*paths: Path) -> tuple:
    """(path, size, mtime) of each file, (path, None) when absent: the cache key of what is
    read from files outside an artifact."""
    key = []
    for path in paths:
        try:
            found = path.stat()
            key.append((str(path), found.st_size, found.st_mtime_ns))
        except OSError:
            key.append((str(path), None))
    return tuple(key)


def stamp(name: str) -> tuple:
    """The artifact's one freshness key (every file in its folder): what every cache here is
    keyed on, so replacing any file of it, the model alone included, is picked up."""
    return compare.artifact_key(name, root())


def all_stamps() -> tuple[tuple[str, tuple], ...]:
    """(model, stamp) of every model, shipped and added: the key of everything loaded from all
    of them (so adding a model loads it, and rebuilds the report)."""
    return tuple((name, stamp(name)) for name in registry())


def data_label(names: list[str] | None = None) -> str:
    """The data the (ready) models were measured on, named from their artifacts' dataset ids."""
    return compare.dataset_label(names if names is not None else ready_models(), root())


@per_artifact
def metrics(root_: str, name: str) -> dict:
    return artifacts.Artifact(name, root_).metrics()


@per_artifact
def history(root_: str, name: str) -> dict:
    return artifacts.Artifact(name, root_).history()


@per_artifact
def config(root_: str, name: str) -> dict:
    return artifacts.Artifact(name, root_).config()


@per_artifact
def summary(root_: str, name: str) -> dict:
    """The model's row of the Overview and Comparison tables
    (``core.analysis.compare.summary_row``)."""
    return compare.summary_row(name, root_)


@per_artifact
def ood_summary(root_: str, name: str) -> dict | None:
    """The artifact's unfamiliar-image detector (``core.analysis.ood.summary``), or None."""
    from core.analysis.ood import summary

    return summary(name, root_)


@per_artifact
def predictions(root_: str, name: str) -> dict[str, np.ndarray]:
    """{"y_true", "probs"} of the model's stored test predictions."""
    return artifacts.Artifact(name, root_).predictions()


def _verify_with(root_: str):
    samples = _test_images(root_)
    # Two test images' ten probabilities each, within 1e-3, tell a swapped or retrained model
    # file as surely as 32 did: another model does not reproduce them. Eight cost ResNet50's
    # six views seconds of the warm-up here, on a loaded machine.
    return None if isinstance(samples, str) else (samples.dataset_id, samples.images[:2])


def _stop_worker(loading) -> None:
    # The models were replaced (a retrained artifact): free the old ones once they are loaded.
    loading.add_done_callback(lambda f: f.exception() is None and f.result()[0].batcher.close())


@st.cache_resource(show_spinner=False, max_entries=2, on_release=_stop_worker)
def _models_loading(root_: str, stamps: tuple[tuple[str, float], ...]):
    from core.serving import warming

    # One model at a time, fastest first; each answers once warm (core.serving.warming), and a
    # server stopped meanwhile exits at the next step.
    return warming.start([name for name, _ in stamps], root_, lambda: _verify_with(root_))


def models_loading():
    """The process's models, loading in a background thread (started once, by the first call):
    a ``core.serving.warming.Warming``, a future of (``SharedPredictor``, {model: why it is not
    loaded}) whose ``shared`` predictor answers with each model as soon as it is warm."""
    return _models_loading(root(), all_stamps())


def start_warm_up() -> None:
    """Start loading the models now, unless ``$CIFAR10_STUDIO_WARM_UP`` is 0 (then the first
    page that needs them does)."""
    if os.environ.get(WARM_UP_ENV, "1") != "0":
        models_loading()


def _models(root_: str, stamps: tuple[tuple[str, float], ...]):
    """(SharedPredictor, {model: why it is not loaded}), once the loading has ended."""
    return _models_loading(root_, stamps).result(timeout=WARM_UP_TIMEOUT_S)


def _loaded_models():
    root_, stamps = root(), all_stamps()
    if _models_loading(root_, stamps).done():
        return _models(root_, stamps)
    with st.spinner(WARMING_UP):
        return _models(root_, stamps)


def answering_models():
    """(SharedPredictor answering with the models warm so far, [models still warming up]):
    waits, under a message, only until the first model is warm (or every one failed)."""
    import time

    loading = models_loading()
    if not loading.shared.models and not loading.done():
        with st.spinner(WARMING_UP):
            deadline = time.monotonic() + WARM_UP_TIMEOUT_S
            while not loading.shared.models and not loading.done():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
    if loading.done():
        loading.result()  # an error of the warm-up itself shows here
        return loading.shared, []
    return loading.shared, loading.pending()


def predictor():
    """(Predictor of every ready model, {model: why it is not loaded}); loaded once per process."""
    shared, failures = _loaded_models()
    return shared.predictor, failures


def shared_predictor():
    """The process's ``SharedPredictor``: every session's predictions and Grad-CAM requests go
    through its one batching worker (``core.serving.batcher``)."""
    return _loaded_models()[0]


@st.cache_data(show_spinner="Timing the models…", max_entries=8)
def _latency(root_: str, stamps: tuple[tuple[str, float], ...]) -> dict[str, float]:
    loaded = _models(root_, stamps)[0].predictor
    return {name: loaded.latency_ms(name) for name in loaded.models}


def latencies() -> dict[str, float]:
    """Median ms per single image for every loaded model, timed through the ``Predictor``'s
    compiled graphs (loads the models, hence TensorFlow; measured once per artifact)."""
    return _latency(root(), all_stamps())


@st.cache_data(show_spinner=False, max_entries=8)
def _stored_latency(root_: str, stamps: tuple, file_key: tuple) -> dict[str, float]:
    return compare.stored_latencies([name for name, _ in stamps], root_)


def stored_latencies() -> dict[str, float]:
    """Median ms per image from the stored benchmark (``compare.LATENCY_FILE``), for the models
    whose artifact is still the one it timed; no TensorFlow."""
    return _stored_latency(root(), all_stamps(), _files_key(compare.LATENCY_FILE))


@st.cache_resource(show_spinner="Loading the test images…")
def _test_images(root_: str):
    from core.store.samples import SamplesUnavailable, load_test_images

    try:
        return load_test_images(root_)
    except SamplesUnavailable as exc:
        return str(exc)


def test_images():
    """``core.store.samples.TestImages``, or a string saying why they are unavailable."""
    return _test_images(root())


# Decoding and checking the 10,000 test images takes most of a second: the Overview, the first
# page of every fresh server, keeps only what it shows, on disk.
@st.cache_data(show_spinner=False, persist="disk", max_entries=4)
def _at_a_glance(root_: str, files_key: tuple, per_class: int):
    from core.store.samples import at_a_glance

    samples = _test_images(root_)
    return samples if isinstance(samples, str) else at_a_glance(samples, per_class)


def test_set_at_a_glance(per_class: int = 8):
    """``core.store.samples.AtAGlance`` of the test images, or why they are unavailable."""
    from core.store.samples import BUNDLED_PATH, SAMPLES_FILE

    files = _files_key(Path(root()) / SAMPLES_FILE, BUNDLED_PATH)
    return _at_a_glance(root(), files, per_class)


@st.cache_data(show_spinner="Looking for the ImageNet weights…", ttl=300)
def weights_problem(name: str) -> str | None:
    """Why a transfer model's ImageNet weights are unusable here (checked at most every 5 min)."""
    from core.models.registry import weights_problem as problem

    return problem(name)


def dataset_caption(n_test: int | None = None, names: list[str] | None = None) -> None:
    size = f"{n_test:,} " if n_test else ""
    st.caption(f"Measured on the {size}test images of {data_label(names)}.")


def missing_label(name: str) -> str:
    """Why a model has no artifact, in a few words: its weights cannot be had, or no run yet."""
    if catalog.is_shipped(name) and weights_problem(name):
        return "needs its ImageNet weights archive (see docs/models.md)"
    return "not trained yet"


def not_trained(names: list[str]) -> None:
    """The clear state of models without a usable artifact: why, and what to do about it."""
    all_status = statuses()
    for name in names:
        status = all_status[name]
        if status.state == "missing" and catalog.is_shipped(name) and weights_problem(name):
            st.info(
                f"**{title(name)}** (`{name}`) needs its ImageNet weights. "
                f"{weights_problem(name)} Then "
                + ("the administrator trains it" if viewer_mode() else "train it")
                + f" with `python -m core.train {name}`."
            )
        elif status.state == "missing":
            st.info(f"**{title(name)}** (`{name}`) is not trained yet. " + train_hint(name))
        elif status.state == "broken":
            st.warning(
                f"**{title(name)}** (`{name}`) has a broken artifact ({status.reason}). "
                + train_hint(name)
            )


def evaluated_on(labels: np.ndarray, names: list[str]) -> list[str]:
    """The models among ``names`` whose stored test predictions are of these labels, in this
    order (the same images): the ones a page may show beside the shipped test images."""
    return [n for n in names if np.array_equal(predictions(n)["y_true"], labels)]


def require_models(at_least: int = 1, what: str = "this page") -> list[str]:
    """The ready models; with fewer than ``at_least``, the page says why and stops."""
    ready = ready_models()
    if not ready:
        no_models_message()
        not_trained(list(registry()))
        st.stop()
    if len(ready) < at_least:
        st.info(
            f"Only {title(ready[0])} is trained; {what} needs {at_least} trained models. "
            + train_another_hint()
        )
        st.stop()
    return ready


def no_models_message() -> None:
    how = (
        VIEWER_TRAIN_HINT.format(name="NAME")
        if viewer_mode()
        else "Train one on the **Train** page, or run `python -m core.train custom`."
    )
    st.info("No model is trained yet, so there is nothing to show here. " + how)


def train_another_hint() -> str:
    """The comparison page's hint when only one model is trained."""
    if viewer_mode():
        return VIEWER_TRAIN_HINT.format(name="NAME")
    return "Train another one on the **Train** page."


def pixelated(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """Enlarge a small image without smoothing, so its 32x32 pixels stay visible."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    return arr.repeat(scale, axis=0).repeat(scale, axis=1)


def class_name(index: int) -> str:
    return CLASS_NAMES[int(index)]


def run_page(page) -> None:
    """Run the page ``st.navigation`` picked, as part of a dashboard run (``dashboard.py``)."""
    _this_run.in_dashboard = True
    try:
        page.run()
    finally:
        _this_run.in_dashboard = False


def require_dashboard() -> None:
    """Run this page inside ``dashboard.py``'s ``st.navigation``, never on its own.

    With a ``pages/`` folder beside the entry point, Streamlit runs a deep-linked page file
    alone (its way before ``st.navigation``) until some run in the process has called
    ``st.navigation``: a fresh server's first visitor to ``/comparison`` gets the page without
    the wide layout and the sidebar, and so does every ``AppTest`` run after ``switch_page``.
    Then this runs the entry point in this same run (a rerun would drop the click that caused
    it): its ``st.navigation`` picks this page again (same URL path) and runs it through
    ``run_page``, and the outer, standalone run stops.
    """
    if not getattr(_this_run, "in_dashboard", False):
        runpy.run_path(str(DASHBOARD), run_name="__main__")
        st.stop()


# --- Beyond the scores (issue 14): intervals, McNemar, calibration, robustness, Grad-CAM,
# model cards and the HTML report. Cached like the helpers above: keyed by the artifacts root
# and the artifact's stamp, which covers every file of it (validation predictions and
# robustness.json included).


# About 0.6 s of bootstrap per model on the first page of every fresh server: kept on disk.
@per_artifact(persist=True)
def intervals(root_: str, name: str) -> dict[str, tuple[float, float]]:
    """Bootstrap 95 % intervals of a model's test accuracy and macro F1
    (``core.analysis.stats``)."""
    from core.analysis.stats import headline_intervals

    preds = artifacts.Artifact(name, root_).predictions()
    return headline_intervals(preds["y_true"], preds["probs"])


@st.cache_data(show_spinner=False, max_entries=64)
def _mcnemar(root_: str, a: str, b: str, stamps: tuple):
    from core.analysis.stats import mcnemar as test

    pa, pb = (artifacts.Artifact(n, root_).predictions() for n in (a, b))
    return test(pa["y_true"], pa["probs"], pb["probs"])


def mcnemar(a: str, b: str):
    """``core.analysis.stats.McNemar`` of two models' test predictions (``.sentence(title_a,
    title_b)``)."""
    return _mcnemar(root(), a, b, (stamp(a), stamp(b)))


@per_artifact
def calibration(root_: str, name: str) -> dict:
    """ECE, NLL and temperature scaling of a model (``core.analysis.calibration.for_artifact``)."""
    from core.analysis.calibration import for_artifact

    return for_artifact(name, root_)


@per_artifact
def reliability(root_: str, name: str):
    """``core.analysis.calibration.Reliability`` of a model's stored test predictions."""
    from core.analysis.calibration import reliability as bins

    preds = artifacts.Artifact(name, root_).predictions()
    return bins(preds["y_true"], preds["probs"])


@per_artifact
def robustness(root_: str, name: str) -> dict | None:
    """The model's ``robustness.json`` (``python -m core.robustness``), or None."""
    from core.analysis.robustness import load

    return load(name, root_)


def model_card(name: str) -> str | None:
    path = artifacts.Artifact(name, root()).path / artifacts.CARD_FILE
    try:
        return path.read_text()
    except OSError:
        return None


def no_gradcam(name: str) -> str | None:
    """Why Grad-CAM cannot explain this model, in one line (an added model without a spatial
    map, a TFLite one: found when it was added); None when it can."""
    imported = config(name).get("imported") or {}
    if imported and not imported.get("gradcam_layer"):
        return imported.get("gradcam_unavailable") or "Grad-CAM is not available for this model."
    return None


def gradcam(name: str, images: np.ndarray, class_index) -> np.ndarray | None:
    """(N, 32, 32) Grad-CAM heatmaps of a loaded model for ``class_index`` (one class, or one
    per image), batched with other sessions' requests; None when the model is not loaded or the
    shared worker is too busy to answer in time."""
    from core.serving.batcher import Busy

    shared = shared_predictor()
    if name not in shared.models or no_gradcam(name):
        return None
    try:
        return shared.gradcam(name, images, class_index)
    except (Busy, ValueError):  # ValueError: GradCamUnavailable
        return None


@st.cache_data(show_spinner="Computing Grad-CAM…", max_entries=64)
def _test_gradcam(root_: str, stamps: tuple, name: str, rows: tuple, classes: tuple) -> np.ndarray:
    images = _test_images(root_).images[list(rows)]
    return _models(root_, stamps)[0].gradcam(name, images, np.asarray(classes))


def test_gradcam(name: str, rows, classes) -> np.ndarray | None:
    """Grad-CAM heatmaps (N, 32, 32) of shipped test images ``rows`` for ``classes``; None when
    the model is not loaded or the shared worker is too busy (not cached, so tried again)."""
    from core.serving.batcher import Busy

    if no_gradcam(name) or isinstance(test_images(), str) or not len(rows):
        return None
    if name not in predictor()[0].models:
        return None
    try:
        rows, classes = tuple(map(int, rows)), tuple(map(int, classes))
        return _test_gradcam(root(), all_stamps(), name, rows, classes)
    except (Busy, ValueError):  # ValueError: GradCamUnavailable
        return None


def gradcam_overlay(image: np.ndarray, heatmap: np.ndarray, scale: int = 4) -> np.ndarray:
    from core.analysis.gradcam import overlay

    return overlay(image, heatmap, alpha=0.5, scale=scale)


@st.cache_data(show_spinner="Writing the report (Grad-CAM, intervals, charts)…", max_entries=2)
def _report(root_: str, key: tuple) -> bytes:
    from core.reporting.report import build_report

    return build_report(root_).encode("utf-8")


def report_html() -> bytes:
    """The self-contained HTML report of ``python -m core.report``, built once per artifacts."""
    return _report(root(), all_stamps())


@st.cache_data(show_spinner=False, max_entries=2)
def _slides(root_: str, key: tuple, day: str) -> bytes:
    import datetime as dt

    from core.reporting.slides import build_deck

    return build_deck(root_, date=dt.date.fromisoformat(day))


def slides_pptx() -> bytes:
    """The slide deck of ``python -m core.report --pptx``, built once per artifacts and day
    (the date is on its title slide). Called by the download button when it is clicked."""
    import datetime as dt

    return _slides(root(), all_stamps(), dt.date.today().isoformat())


# --- Agreement sets and abstaining (issue 21): no TensorFlow ---------------------------------


def short_labels(names: list[str]) -> dict[str, str]:
    """name -> the model's short label ("Model 2", ``core.reporting.palette``), for charts and
    patterns."""
    from core.reporting.palette import short_label

    return {name: short_label(name) for name in names}


@per_artifact
def temperature(root_: str, name: str) -> float | None:
    """The model's temperature T (``core.analysis.abstain.temperature``), or None without one."""
    from core.analysis.abstain import temperature as stored

    return stored(name, root_)


@per_artifact
def risk_coverage(root_: str, name: str):
    """The model's risk-coverage curve over its stored test predictions, with its
    temperature-scaled confidence (``core.analysis.abstain.risk_coverage``)."""
    from core.analysis.abstain import risk_coverage as curve
    from core.analysis.abstain import temperature as stored

    preds = artifacts.Artifact(name, root_).predictions()
    return curve(preds["y_true"], preds["probs"], stored(name, root_))


# --- Embedding map (issue 21): read once per artifact version; shared, never modified.


@per_artifact(resource=True)
def embedding_map(root_: str, name: str):
    """``core.analysis.embedding.EmbeddingMap`` of the model's test images, or None without one."""
    from core.analysis import embedding

    return embedding.load(name, root_)


@per_artifact(resource=True, spinner="Loading the model…")
def feature_extractor(root_: str, name: str):
    """The model's image -> penultimate features (``core.analysis.embedding``); only this model is
    loaded, not every model as for the Live page. None when it cannot be loaded."""
    from core.analysis.embedding import feature_extractor as build

    try:
        return build(artifacts.Artifact(name, root_).load_model())
    except artifacts.ArtifactError:
        return None


def place_on_map(name: str, image: np.ndarray):
    """(position (2,), nearest test rows (k,)) of a (32, 32, 3) image in [0, 1] on the model's
    map; None when the model has no map or cannot be loaded."""
    emap, extractor = embedding_map(name), feature_extractor(name)
    if emap is None or extractor is None:
        return None
    features = np.asarray(extractor(image[None].astype(np.float32), training=False))
    rows, _ = emap.neighbours(features)
    return emap.place(features)[0], rows[0]


@per_artifact
def embedding_summary(root_: str, name: str) -> dict | None:
    """The model's ``embedding.json`` (how its map was made and how faithful it is), or None."""
    from core.analysis import embedding

    return embedding.summary(name, root_)

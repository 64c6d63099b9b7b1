"""Viewer mode and data roots (issue 15, part 2): ``core.serving.deployment`` and its use by
``core.training.jobs``, the dashboard's navigation and the Train page; Streamlit's upload cap (part
3)."""

import os
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.serving import deployment
from core.serving.deployment import DATA_ROOTS_ENV, VIEWER_ENV, SourceRefused
from core.store import artifacts
from core.training import jobs
from core.training.runspec import RunSpec

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = "That path is not under a data root. The dashboard reads training data only from: {}."


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """(data root, a folder beside it holding cifar.npz, its real path) with viewer mode off."""
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "cifar.npz").write_bytes(b"x")
    monkeypatch.setenv(DATA_ROOTS_ENV, str(root))
    return root, outside, os.path.realpath(root)


def _refusal(resolve, typed: str) -> str:
    with pytest.raises(SourceRefused) as caught:
        resolve(typed)
    return str(caught.value)


# --- core.serving.deployment


@pytest.mark.parametrize(
    "resolve", [deployment.resolve_data_source, deployment.resolve_weights_file]
)
def test_a_path_outside_the_roots_gets_one_message_whether_it_exists_or_not(roots, resolve):
    root, outside, _ = roots
    (root / "out_dir").symlink_to(outside, target_is_directory=True)
    (root / "out_file.npz").symlink_to(outside / "cifar.npz")
    (root / "out_missing.npz").symlink_to(outside / "missing.npz")
    typed = [
        str(outside / "cifar.npz"),  # exists
        str(outside / "missing.npz"),  # does not
        str(outside),  # an existing folder
        str(outside / "no" / "such" / "folder"),
        str(root / ".." / "outside" / "cifar.npz"),  # `..` out of the root, absolute
        "../outside/cifar.npz",  # and relative to the root
        "../outside/missing.npz",
        str(root / "out_dir" / "cifar.npz"),  # a symlink in the root pointing out
        "out_dir/cifar.npz",
        "out_dir/missing.npz",
        "out_file.npz",
        "out_missing.npz",
        "/",
        "bad\0path",
    ]
    messages = {path: _refusal(resolve, path) for path in typed}
    assert set(messages.values()) == {OUTSIDE.format(root)}, messages


def test_a_path_inside_a_root_is_accepted_as_its_real_path(roots):
    root, _, real_root = roots
    (root / "cifar.npz").write_bytes(b"x")
    (root / "tree" / "train").mkdir(parents=True)
    (root / "alias.npz").symlink_to(root / "cifar.npz")  # a symlink that stays inside
    expected = Path(real_root, "cifar.npz")
    assert deployment.resolve_data_source(str(root / "cifar.npz")) == expected
    assert deployment.resolve_data_source("  cifar.npz ") == expected  # relative to the root
    assert deployment.resolve_data_source("tree/../cifar.npz") == expected
    assert deployment.resolve_data_source("alias.npz") == expected
    assert deployment.resolve_data_source("tree") == Path(real_root, "tree")
    assert deployment.resolve_weights_file("cifar.npz") == expected
    assert _refusal(deployment.resolve_weights_file, "tree") == (
        f"There is no weights file tree under the data roots ({root})."
    )


def test_a_relative_path_is_looked_up_under_each_root_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
    (second / "only_second.npz").write_bytes(b"x")
    (first / "both.npz").write_bytes(b"x")
    (second / "both.npz").write_bytes(b"x")
    monkeypatch.setenv(DATA_ROOTS_ENV, os.pathsep.join([str(first), "", str(second)]))
    assert deployment.data_roots() == [first, second]
    found = deployment.resolve_data_source("only_second.npz")
    assert found == Path(os.path.realpath(second), "only_second.npz")
    assert deployment.resolve_data_source("both.npz") == Path(os.path.realpath(first), "both.npz")
    assert deployment.resolve_data_source(str(second / "both.npz")).parent.name == "second"


def test_a_missing_path_inside_a_root_says_so_and_an_empty_one_is_refused(roots):
    root, _, _ = roots
    assert _refusal(deployment.resolve_data_source, "nothing.npz") == (
        f"There is no data source nothing.npz under the data roots ({root})."
    )
    assert _refusal(deployment.resolve_data_source, "  ") == "No data source given."


def test_default_roots_are_data_the_cache_and_the_folder_of_cifar10_data(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    monkeypatch.setenv("CIFAR10_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CIFAR10_DATA", raising=False)
    assert deployment.data_roots() == [ROOT / "data", tmp_path / "cache"]
    monkeypatch.setenv("CIFAR10_DATA", str(tmp_path / "sets" / "cifar10-jpeg"))
    assert deployment.data_roots() == [ROOT / "data", tmp_path / "cache", tmp_path / "sets"]
    monkeypatch.setenv(DATA_ROOTS_ENV, str(tmp_path / "only"))
    assert deployment.data_roots() == [tmp_path / "only"]


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("", False)]
    + [("no", False), ("off", False), ("viewer", False)],
)
def test_viewer_mode_is_on_for_truthy_values_only(value, on, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, value)
    assert deployment.viewer_mode() is on


def test_the_viewer_takes_no_server_path_even_under_a_root(roots, monkeypatch):
    root, _, _ = roots
    (root / "cifar.npz").write_bytes(b"x")
    monkeypatch.setenv(VIEWER_ENV, "1")
    assert _refusal(deployment.resolve_data_source, "cifar.npz") == (
        "This dashboard is a read-only viewer (CIFAR10_STUDIO_VIEWER is set): it takes no server "
        "paths. The administrator trains models on the server with `python -m core.train NAME`."
    )


# --- core.training.jobs


def test_start_training_refuses_in_viewer_mode(tmp_path, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, "1")
    with pytest.raises(PermissionError) as caught:
        jobs.start_training(RunSpec.for_model("custom", epochs=1), tmp_path)
    assert isinstance(caught.value, deployment.ViewerModeError)
    assert str(caught.value) == (
        "This dashboard is a read-only viewer (CIFAR10_STUDIO_VIEWER is set): it starts no "
        "training runs. The administrator trains models on the server with "
        "`python -m core.train NAME`."
    )
    assert not artifacts.work_dir("custom", tmp_path).exists(), "no run was started"


def test_start_training_refuses_a_data_source_or_weights_file_outside_the_roots(roots, tmp_path):
    root, outside, _ = roots
    for spec in (
        RunSpec.for_model("custom", data=str(outside / "cifar.npz")),
        RunSpec.for_model("resnet50_transfer", weights=str(outside / "cifar.npz")),
    ):
        with pytest.raises(SourceRefused, match="not under a data root"):
            jobs.start_training(spec, tmp_path / "artifacts")
        assert not artifacts.work_dir(spec.model, tmp_path / "artifacts").exists()


def test_the_suggested_data_source_is_always_under_a_root(roots, tmp_path, monkeypatch):
    root, outside, real_root = roots
    store = tmp_path / "artifacts"
    (store / "custom").mkdir(parents=True)
    (store / "custom" / "config.json").write_text(
        '{"dataset": {"source": "%s"}}' % (outside / "cifar.npz")
    )
    monkeypatch.setenv("CIFAR10_DATA", str(outside / "cifar.npz"))
    assert jobs.default_data_source(store) == "", "both candidates lie outside the root"
    (root / "mine.npz").write_bytes(b"x")
    monkeypatch.setenv("CIFAR10_DATA", str(root / "mine.npz"))
    assert jobs.default_data_source(store) == os.path.join(real_root, "mine.npz")
    monkeypatch.setenv(VIEWER_ENV, "1")
    assert jobs.default_data_source(store) == ""


# --- the upload cap ----------------------------------------------------------------------------


def test_streamlits_upload_cap_is_core_images_cap():
    from core.data.images import MAX_BYTES

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    # Streamlit's upload handler counts server.maxUploadSize in MiB (size * 1024 * 1024).
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_BYTES
    assert config["runner"]["postScriptGC"] is False, "the existing keys are kept"


def test_incoming_websocket_messages_are_capped_where_streamlit_refuses_them_anyway():
    import streamlit.config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    # uvicorn reads an incoming message up to server.maxMessageSize before Streamlit closes the
    # connection for one over server.maxWidgetStateSize: a larger cap only lets a client make
    # the server hold a message that is refused anyway.
    widget_cap = streamlit.config.get_config_options()["server.maxWidgetStateSize"].default_val
    assert 1 <= config["server"]["maxMessageSize"] <= widget_cap


# --- the dashboard (AppTest) -------------------------------------------------------------------


@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    """No artifacts (quick pages), no network checks for the ImageNet weights."""
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    monkeypatch.setattr("core.data.cifar10.is_online", lambda *a, **k: False)
    return tmp_path / "artifacts"


def _dashboard() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_the_viewer_has_no_train_page(empty_store, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, "1")
    at = _dashboard()
    assert "Read-only viewer" in _texts(at.sidebar.caption)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/train.py")  # not among st.navigation's pages
    at.switch_page("pages/live.py").run()  # the other pages are there
    assert not at.exception and [t.value for t in at.title] == ["Live classification"]
    infos = _texts(at.info)
    assert "read-only viewer" in infos and "`python -m core.train" in infos
    assert "Train** page" not in infos, "no pointer to a page the viewer does not have"


def test_the_train_page_is_there_outside_viewer_mode(empty_store, monkeypatch):
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    at = _dashboard()
    assert "Read-only viewer" not in _texts(at.sidebar.caption)
    at.switch_page("pages/live.py").run()
    assert "Train it on the **Train** page" in _texts(at.info)
    at.switch_page("pages/train.py").run()
    assert [t.value for t in at.title] == ["Train a model"]
    assert [b.label for b in at.get("form_submit_button")] == ["Start training", "Add the model"]


def test_a_session_asking_for_the_train_page_in_viewer_mode_gets_the_overview(
    empty_store, monkeypatch
):
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    at = _dashboard()
    at.switch_page("pages/train.py")  # the Train page's hash, as a stale or crafted request
    monkeypatch.setenv(VIEWER_ENV, "1")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["CIFAR-10 CNN studio"]
    assert not at.get("form_submit_button") and not at.text_input


def _train_page_as_if_listed(repo: str) -> None:
    """pages/train.py run as if dashboard.py had put it in its navigation."""
    import runpy
    import sys

    sys.path.insert(0, repo)
    from ui import common

    common._this_run.in_dashboard = True
    try:
        runpy.run_path(f"{repo}/pages/train.py", run_name="__main__")
    finally:
        common._this_run.in_dashboard = False


@pytest.mark.parametrize("viewer", [True, False])
def test_the_train_page_itself_refuses_to_render_in_viewer_mode(viewer, empty_store, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, "1" if viewer else "0")
    at = AppTest.from_function(_train_page_as_if_listed, args=(str(ROOT),), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if viewer:
        assert _texts(at.error) == (
            "This dashboard is a read-only viewer (CIFAR10_STUDIO_VIEWER is set): it has no "
            "Train page. The administrator trains models on the server with "
            "`python -m core.train NAME`."
        )
        assert not at.title and not at.text_input and not at.get("form_submit_button")
    else:  # the same harness renders the page when viewer mode is off
        assert [t.value for t in at.title] == ["Train a model"] and not at.error


def _train_page(monkeypatch, started: list) -> AppTest:
    monkeypatch.setattr(jobs, "start_training", lambda req, root: started.append(req) or 4242)
    at = _dashboard()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_train_page_refuses_a_data_source_outside_the_roots_alike(
    roots, empty_store, monkeypatch
):
    root, outside, real_root = roots
    started = []
    at = _train_page(monkeypatch, started)
    assert f"Data roots (set by `$CIFAR10_DATA_ROOTS`): {root}" in _texts(at.caption)
    errors = []
    for typed in (str(outside / "cifar.npz"), str(outside / "missing.npz"), "../outside"):
        at.text_input[0].set_value(typed)
        at.get("form_submit_button")[0].click().run()
        assert not at.exception, [e.value for e in at.exception]
        errors.append(_texts(at.error))
    assert errors == [OUTSIDE.format(root)] * 3 and started == []
    (root / "cifar.npz").write_bytes(b"x")
    at.text_input[0].set_value("cifar.npz")
    at.get("form_submit_button")[0].click().run()
    assert [req.data for req in started] == [os.path.join(real_root, "cifar.npz")]


def test_the_train_page_refuses_a_weights_file_outside_the_roots_alike(
    roots, empty_store, monkeypatch
):
    root, outside, real_root = roots
    at = _train_page(monkeypatch, [])
    at.selectbox[0].set_value("resnet50_transfer").run()
    at.radio[0].set_value("a weights file").run()
    warnings = []
    for typed in (str(outside / "cifar.npz"), str(outside / "missing.h5")):
        at.text_input[0].set_value(typed).run()
        assert not at.exception, [e.value for e in at.exception]
        warnings.append(_texts(at.warning))
        assert at.get("form_submit_button")[0].disabled
    assert warnings == [OUTSIDE.format(root)] * 2
    (root / "backbone.h5").write_bytes(b"x")
    at.text_input[0].set_value("backbone.h5").run()
    assert not at.warning and not at.get("form_submit_button")[0].disabled

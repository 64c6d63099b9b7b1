"""Real replicas behind a real nginx (`python -m core.serve`'s ``Cluster``), driven by Debian's
Chromium: six browsers upload at once and every upload is answered on the replica holding its
session; with stickiness off uploads get "400 Invalid session_id" (so the first test can
fail); a killed replica's viewers reconnect to another and upload again; rolling the replicas
onto new artifacts while browsers upload fails no page load and no upload, a page kept open
on a draining replica included.

Three replicas serve a copy of the smallest model alone, so they warm up in seconds.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.reporting.palette import short_label
from core.serving.cluster import Cluster
from core.serving.nginx import NginxError, find_nginx
from core.serving.replicas import free_port
from core.serving.serve import main
from core.store.samples import SAMPLES_FILE
from tests.browser_harness import CHROMIUM_ARGS, ROOT, require_playwright, wait_rendered

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MODEL = "custom"  # the smallest shipped model: three replicas warm up fastest with it alone
LABEL = short_label(MODEL)
UPLOAD = "/_stcore/upload_file/"
BOXES_JS = """(names) => names.every(name => [...document.querySelectorAll('h3')]
    .some(h => h.innerText.includes(name)))
    && document.querySelectorAll('[class*="st-key-pred_"] .studio-answer').length
       >= names.length"""


def require_nginx() -> str:
    """nginx for a test: skipped without it, failed under CI (.ci/run installs it)."""
    try:
        return find_nginx()
    except NginxError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI runs the replica tests)", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_nginx()
    require_playwright()
    shared = tmp_path_factory.mktemp("artifacts")
    shutil.copytree(ROOT / "artifacts" / MODEL, shared / MODEL)
    shutil.copy2(ROOT / "artifacts" / SAMPLES_FILE, shared / SAMPLES_FILE)
    running = Cluster(3, free_port(), shared, warm_timeout_s=240, log=lambda _: None)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    folder, rng = tmp_path_factory.mktemp("uploads"), np.random.default_rng(40)
    paths = []
    for i in range(24):
        path = folder / f"photo_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


class Session:
    """One browser (its own cookies) on the Live page, recording every upload's answer."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.uploads: list[tuple[int, str]] = []  # (HTTP status, X-Studio-Replica)
        self.backends: list[str] = []  # each upload's X-Studio-Backend: the replica's address
        self.page.on("response", self._record)
        loaded = self.page.goto(f"{url}/live", timeout=60_000)
        self.slot = loaded.headers.get("x-studio-replica", "")
        self.shown: list[str] = []

    def _record(self, response) -> None:
        if UPLOAD in response.url and response.request.method == "PUT":
            self.uploads.append((response.status, response.headers.get("x-studio-replica", "")))
            self.backends.append(response.headers.get("x-studio-backend", ""))

    def upload(self, files: list[Path]) -> None:
        wait_rendered(self.page, 60_000)
        uploader = self.page.locator('[data-testid="stFileUploader"] input[type="file"]').first
        uploader.set_input_files([str(f) for f in files], timeout=30_000)
        self.shown += [f.name for f in files]

    def wait_answers(self, timeout_ms: int = 60_000) -> None:
        """Every file uploaded so far has its heading and its model's answer on the page."""
        self.page.wait_for_function(BOXES_JS, arg=self.shown, timeout=timeout_ms)

    def wait_uploads(self, count: int, timeout_s: float = 30.0) -> None:
        """Wait until ``count`` upload requests have had their answer (whatever it was)."""
        deadline = time.monotonic() + timeout_s
        while len(self.uploads) < count and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)  # Playwright delivers the responses meanwhile


def _browser(playwright):
    chromium, _ = require_playwright()
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def test_six_browsers_uploading_at_once_are_all_answered_and_spread_over_replicas(cluster, images):
    _, playwright = require_playwright()
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        try:
            sessions = [Session(browser, cluster.url) for _ in range(6)]
            files = iter(images)
            # Three rounds: one file, two files at once, one file; all six browsers each round.
            for count in (1, 2, 1):
                for s in sessions:
                    s.upload([next(files) for _ in range(count)])
                for s in sessions:
                    s.wait_answers()
            for s in sessions:
                assert s.page.locator('[data-testid="stException"]').count() == 0
                assert LABEL in s.page.inner_text('[class*="st-key-pred_"]')
            statuses = [status for s in sessions for status, _ in s.uploads]
            assert len(statuses) == 6 * 4, f"every file is one PUT: {statuses}"
            assert all(200 <= status < 300 for status in statuses), statuses
            # Each browser's uploads all reached one replica, and the browsers spread out.
            per_session = [{replica for _, replica in s.uploads} for s in sessions]
            assert all(len(r) == 1 for r in per_session), per_session
            # Random cookies put all six on one replica in about 0.4 % of runs (3 x 3^-6): then
            # more browsers come, up to six, until one lands elsewhere (3 x 3^-12 for all 12).
            for i in range(6):
                if len(set().union(*per_session)) > 1:
                    break
                extra = Session(browser, cluster.url)
                extra.upload([images[18 + i]])
                extra.wait_answers()
                per_session.append({replica for _, replica in extra.uploads})
            assert len(set().union(*per_session)) > 1, f"all on one replica: {per_session}"
        finally:
            browser.close()


def test_without_stickiness_uploads_reach_other_replicas_and_are_refused(cluster, images):
    _, playwright = require_playwright()
    cluster.set_sticky(False)
    try:
        with playwright.sync_playwright() as p:
            browser = _browser(p)
            try:
                sessions = [Session(browser, cluster.url) for _ in range(3)]
                for round_ in range(2):
                    for i, s in enumerate(sessions):
                        s.upload([images[i * 2 + round_]])
                    for s in sessions:  # each PUT answered, one way or the other
                        s.wait_uploads(round_ + 1)
                statuses = [status for s in sessions for status, _ in s.uploads]
            finally:
                browser.close()
    finally:
        cluster.set_sticky(True)
    # Round robin sends an upload to a replica that does not hold its session: Streamlit's
    # "400 Invalid session_id", the failure stickiness prevents (the first test would fail).
    assert 400 in statuses, statuses
    assert 403 not in statuses, f"one cookie secret for all replicas: {statuses}"


def _fresh_images(folder: Path):
    """A new small PNG for every upload, for as long as asked."""
    rng = np.random.default_rng(41)
    for i in itertools.count():
        path = folder / f"roll_{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
        yield path


def test_a_killed_replicas_viewers_reconnect_to_another_and_upload_again(cluster, images):
    _, playwright = require_playwright()
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        try:
            sessions = [Session(browser, cluster.url) for _ in range(3)]
            for i, s in enumerate(sessions):
                s.upload([images[i]])
            for s in sessions:
                s.wait_answers()
            on = {i: s.uploads[-1][1] for i, s in enumerate(sessions)}
            victim = max(set(on.values()), key=list(on.values()).count)
            cluster.replicas[victim].proc.send_signal(signal.SIGKILL)
            cluster.replicas[victim].proc.wait(timeout=10)
            for i, s in enumerate(sessions):
                s.shown = []  # a reconnected session starts afresh; its earlier answer may go
                s.upload([images[12 + i]])
            for s in sessions:
                s.wait_answers(timeout_ms=90_000)
            statuses = [status for s in sessions for status, _ in s.uploads]
            assert all(200 <= status < 300 for status in statuses), statuses
            after = {i: s.uploads[-1][1] for i, s in enumerate(sessions)}
            moved = [i for i in on if on[i] == victim]
            assert moved and all(after[i] != victim for i in moved), (victim, on, after)
            assert all(after[i] == on[i] for i in on if i not in moved), "others stay put"
        finally:
            browser.close()


def test_serve_names_the_nginx_package_when_nginx_is_missing(monkeypatch, capsys):
    monkeypatch.setattr("core.serving.nginx.shutil.which", lambda *a, **k: None)
    assert main(["--replicas", "3", "--port", "8080"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: nginx not found: install Debian's nginx package (apt-get install nginx)"
    )


def test_rolling_new_artifacts_fails_no_upload_and_ends_with_every_replica_on_them(
    tmp_path, images
):
    import threading

    require_nginx()
    _, playwright = require_playwright()
    folders = {}
    for version in ("old", "new"):
        folders[version] = tmp_path / version
        shutil.copytree(ROOT / "artifacts" / MODEL, folders[version] / MODEL)
        shutil.copy2(ROOT / "artifacts" / SAMPLES_FILE, folders[version] / SAMPLES_FILE)
    logged = []  # (time, line): what `python -m core.serve` prints during the roll
    running = Cluster(
        2,
        free_port(),
        folders["old"],
        warm_timeout_s=240,
        log=lambda line: logged.append((time.monotonic(), line)),
    )
    rolled, outcome, draining = threading.Event(), {}, []

    def browse() -> None:
        # Playwright's sync API stays in one thread; the roll stays in this test's thread,
        # which started the replicas (each dies with the thread that started it).
        with playwright.sync_playwright() as p:
            browser = _browser(p)
            try:
                sessions = [Session(browser, running.url) for _ in range(2)]
                # A viewer who keeps the page open through the roll: it uploads while its
                # replica drains (the new one holds no such session), then leaves.
                staying = Session(browser, running.url)
                files, rounds = itertools.cycle(images), 0
                outcome["open"] = True
                while True:
                    last = rolled.is_set()  # one more round once the roll has ended
                    for i, s in enumerate(sessions):
                        # A page load each round (the roll must fail none), which also empties
                        # the uploader: past six images the answers are a table, not cards.
                        outcome["step"] = f"round {rounds}, viewer {i}: page load and upload"
                        loaded = s.page.goto(f"{running.url}/live", timeout=60_000)
                        outcome.setdefault("pages", []).append(loaded.status)
                        s.shown = []
                        s.upload([next(files)])
                    for i, s in enumerate(sessions):
                        outcome["step"] = f"round {rounds}, viewer {i}: answer to {s.shown}"
                        s.wait_answers(timeout_ms=90_000)
                    if staying.slot in draining and "staying" not in outcome:
                        outcome["step"] = f"round {rounds}, the staying viewer"
                        staying.upload([next(files)])
                        staying.wait_answers(timeout_ms=90_000)
                        outcome["staying"] = list(staying.uploads), list(staying.backends)
                        staying.context.close()  # its replica's drain can end
                    rounds += 1
                    outcome["during"] = outcome.get("during", 0) + (not rolled.is_set())
                    if last or rounds > 60:
                        break
                    sessions[0].page.wait_for_timeout(1000)
                outcome["rounds"] = rounds
                outcome["uploads"] = [u for s in sessions for u in s.uploads]
            except Exception as exc:  # noqa: BLE001 - reported by the test's assertions
                outcome["error"] = f"{outcome.get('step')}: {exc!r}"
            finally:
                browser.close()

    try:
        running.start()
        before = {name: r.port for name, r in running.replicas.items()}
        browsing = threading.Thread(target=browse)
        browsing.start()
        deadline = time.monotonic() + 120
        while "open" not in outcome and "error" not in outcome and time.monotonic() < deadline:
            time.sleep(0.2)
        running.roll(folders["new"], on_drain=draining.append)
        rolled.set()
        browsing.join(timeout=300)
        # What nginx answered with other than 200, 204, 304 or a websocket (101): the 404s of
        # the pages' first health checks, and nothing a viewer would see as an error (a 502
        # takes a whole slot out of the ring: its sessions meet replicas that lack them).
        access = running.nginx.access_log.read_text().splitlines()
        unusual = [x for x in access if not re.search(r'" (20[04]|101|304) ', x)]
        assert "error" not in outcome, (outcome["error"], logged, unusual[-20:])
        assert not [x for x in unusual if re.search(r'" 5\d\d ', x)], (logged, unusual)
        assert outcome["during"] >= 2, outcome  # uploads went on during the roll, and after it
        statuses = [status for status, _ in outcome["uploads"]]
        assert len(statuses) == 2 * outcome["rounds"], statuses
        assert all(200 <= status < 300 for status in statuses), statuses
        assert all(status == 200 for status in outcome["pages"]), outcome["pages"]
        # The staying viewer's upload reached the draining replica that holds its session,
        # through the new one's slot, and was answered there; once it left, the drain ended
        # well before its limit.
        (((status, slot),), (backend,)) = outcome["staying"]
        assert 200 <= status < 300 and backend.endswith(f":{before[slot]}"), outcome["staying"]
        began = {line.split(":")[0]: at for at, line in logged if "drains" in line}
        ended = {line.split(":")[0]: at for at, line in logged if "now on port" in line}
        assert sorted(began) == sorted(ended) == sorted(before), logged
        assert all(ended[n] - began[n] < running.drain_limit_s / 2 for n in before), logged
        after = {name: r.port for name, r in running.replicas.items()}
        assert all(after[name] != before[name] for name in before), (before, after)
        assert all(r.artifacts == folders["new"].resolve() for r in running.replicas.values())
    finally:
        rolled.set()
        running.stop()

"""Start the dashboard with `streamlit run` on a free port and drive it with Debian's Chromium.

Shared by tests/test_browser.py and bench/browser_timing.py. Never downloads a browser: the
executable is ``$CHROMIUM`` (a path or a command name), else ``chromium`` or
``chromium-browser`` on PATH.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ENV = "CHROMIUM"


def find_chromium() -> str | None:
    """The Chromium executable to drive, or None when there is none."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return shutil.which(configured)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """The Chromium executable, for a test: skipped without one, but failed under CI ($CI set),
    which must run the browser tests rather than pass without them."""
    import pytest

    if CHROMIUM:
        return CHROMIUM
    message = (
        f"Chromium not found: set ${CHROMIUM_ENV} to its executable or put chromium (or "
        "chromium-browser) on PATH; on Debian, apt-get install chromium"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI runs the browser tests)", pytrace=False)
    pytest.skip(message)


def require_playwright():
    """(Chromium executable, ``playwright.sync_api``) for a test: skipped without either, but
    failed under CI, where requirements.txt installs Playwright."""
    import pytest

    chromium = require_chromium()
    if os.environ.get("CI"):
        import playwright.sync_api as playwright
    else:
        playwright = pytest.importorskip("playwright.sync_api")
    return chromium, playwright


CHROMIUM = find_chromium() or ""  # "" when absent, so os.path.exists(CHROMIUM) stays valid
# Flags for a root, offline, headless Chromium (without them it tries Google's hosts at start).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Navigation label -> (URL path, the page's heading).
PAGES = {
    "Overview": ("", "CIFAR-10 CNN studio"),
    "Model comparison": ("comparison", "Model comparison"),
    "Agreement sets": ("agreement", "Agreement sets"),
    "Embedding map": ("embedding", "Embedding map"),
    "Per-class metrics": ("per_class", "Per-class metrics and confusion matrices"),
    "Augmentation preview": ("augmentation", "Augmentation preview"),
    "Live classification": ("live", "Live classification"),
    "Mistakes": ("mistakes", "Where the models fail"),
    "Calibration and robustness": ("trust", "Calibration and robustness"),
    "Report and model cards": ("report", "Report and model cards"),
    "Train": ("train", "Train a model"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    env: dict | None = None, timeout: float = 180.0, script: str | Path = "dashboard.py"
):
    """Yield (base_url, seconds until the server answered its health check) of ``script``."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited during start-up")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > timeout:
                raise TimeoutError("streamlit did not answer its health check")
            time.sleep(0.2)
        yield url, time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_rendered(page, timeout_ms: int = 120_000) -> None:
    """Wait until the page's script has finished running (Streamlit's status widget is gone)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_selector("h1", timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def wait_settled(page, quiet_ms: int = 1_500, timeout_ms: int = 30_000) -> None:
    """Wait until the page stops adding or removing elements for `quiet_ms` (charts load late).

    Keyboard tests need it: a Tab pressed while a chart or widget is still mounting skips it.
    """
    page.wait_for_function(
        """([quiet]) => {
            const n = document.querySelectorAll('*').length, now = performance.now();
            const last = window.__settle;
            if (last === undefined || last.n !== n) window.__settle = {n, since: now};
            return now - window.__settle.since >= quiet;
        }""",
        arg=[quiet_ms],
        polling=250,
        timeout=timeout_ms,
    )


@contextlib.contextmanager
def fresh_server_and_browser(env: dict | None = None, viewport: tuple[int, int] = (1400, 1000)):
    """(base URL, browser page) of a newly started `streamlit run dashboard.py`, for a test."""
    chromium, playwright = require_playwright()
    with streamlit_server(env) as (url, _), playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            width, height = viewport
            yield url, browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def foreign_requests(page) -> list[str]:
    """A list that fills with every URL ``page`` asks of a host other than the studio's own
    server (data: and blob: URLs are local)."""
    from urllib.parse import urlparse

    seen: list[str] = []

    def note(request) -> None:
        parts = urlparse(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            seen.append(request.url)

    page.on("request", note)
    return seen


def upload(page, files: list[Path], timeout_ms: int = 120_000) -> None:
    """Upload ``files`` once the Live page's uploader is there (the first visit of a server
    prepares every model's graphs first: seconds per model, more on a busy machine)."""
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]').first
    uploader.wait_for(state="attached", timeout=timeout_ms)
    uploader.set_input_files([str(f) for f in files], timeout=timeout_ms)


# Whether every model's result box ("<short label>: <class>" over its bars) is drawn.
ANSWERS_SHOWN_JS = """(labels) => labels.every(label =>
    [...document.querySelectorAll('[class*="st-key-pred_"]')].some(box =>
        box.innerText.includes(label + ": ") && box.querySelector('.studio-answer')))"""


def wait_for_predictions(page, labels: list[str], timeout_ms: int = 120_000) -> None:
    """Wait until every model's result box (its first line "<short label>: <class>", as
    ``core.reporting.palette.short_label`` names the model, over its bars) is drawn.

    Checked on every animation frame: a locator's wait polls at growing intervals (up to
    0.5 s), which put half of the upload timings 0.5 s late."""
    page.wait_for_function(ANSWERS_SHOWN_JS, arg=labels, polling="raf", timeout=timeout_ms)


def wait_ready_file(ready_file: Path, timeout_s: float = 300.0) -> None:
    """Wait until a server started with ``core.serving.readiness.READY_FILE_ENV`` = ``ready_file``
    has ended its warm-up (every Keras model loaded, Grad-CAM graphs traced): the fast-start
    copies answer within seconds, while that work goes on in the background for half a minute."""
    deadline = time.monotonic() + timeout_s
    while not Path(ready_file).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not finish its warm-up in {timeout_s:.0f} s")
        time.sleep(0.2)


def time_upload(page, url: str, image: Path, models: list[str], settle: float) -> float:
    """Seconds from uploading ``image`` on a freshly opened Live page to every answer shown.

    ``settle`` seconds pass first, as for a user picking a file: the previous upload's Grad-CAM
    heatmaps run after its answers, and a batch in progress is not interrupted.
    """
    page.goto(f"{url}/live", timeout=180_000)
    wait_rendered(page)
    page.wait_for_timeout(settle * 1000)
    start = time.perf_counter()
    upload(page, [image])
    wait_for_predictions(page, models)
    return time.perf_counter() - start


def disagreed_test_image(folder: Path) -> Path:
    """A 32x32 PNG (classified as is, no resizing) of the first shipped test image on which the
    trained models' stored answers differ, so that the Live page shows "The models disagree";
    the first test image when they agree on every one."""
    import numpy as np
    from PIL import Image

    from core.models.registry import REGISTRY
    from core.store import artifacts
    from core.store.samples import load_test_images

    samples = load_test_images()
    answers = [
        artifacts.Artifact(n).predictions()["probs"].argmax(axis=1)
        for n in REGISTRY
        if artifacts.Artifact(n).status().ready
    ]
    answers = [a for a in answers if len(a) == len(samples)]
    differ = np.flatnonzero(np.ptp(np.stack(answers), axis=0) > 0) if answers else []
    row = int(differ[0]) if len(differ) else 0
    path = Path(folder) / f"test_image_{row}.png"
    Image.fromarray(samples.images[row]).save(path)
    return path


# --- stopping a real server ---------------------------------------------------------------------


def start_logged_server(port: int, log: Path, env: dict | None = None) -> subprocess.Popen:
    """`streamlit run dashboard.py` on ``port`` with the warm-up on and its output in ``log``;
    ``PYTHONFAULTHANDLER=1``, so a crash prints every thread's Python stack there."""
    env = {**os.environ, "CIFAR10_STUDIO_WARM_UP": "1", "PYTHONFAULTHANDLER": "1", **(env or {})}
    command = [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited during start-up ({proc.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("streamlit did not answer its health check")


def signal_server(
    browser,
    delay: float,
    sig: int,
    log: Path,
    limit: float = 30.0,
    image: Path | None = None,
) -> tuple[int | str, float]:
    """Start a fresh server, draw its Overview in ``browser`` (which starts the models'
    warm-up), optionally upload ``image`` on the Live page, wait ``delay`` seconds, send
    ``sig``; returns (exit status, or "hung" after ``limit`` seconds; seconds to the exit)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_logged_server(port, log)
    try:
        wait_healthy(url, proc)
        page = browser.new_page()
        page.goto(url, timeout=180_000)
        wait_rendered(page)
        if image is not None:
            page.goto(f"{url}/live", timeout=180_000)
            upload(page, [image])
        time.sleep(delay)
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            status: int | str = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            status = "hung"
        took = time.monotonic() - sent
        page.close()
        return status, took
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""Replicas behind a load balancer share nothing but a read-only artifacts folder.

Two `streamlit run dashboard.py` servers in viewer mode read one copy of the artifacts (through
$CIFAR10_ARTIFACTS): the same upload gets the same answer from each, and neither writes a byte
into the folder they share.
"""

import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.reporting.palette import short_label
from core.serving.deployment import VIEWER_ENV
from core.store.artifacts import ARTIFACTS_ENV
from core.store.samples import SAMPLES_FILE
from tests.browser_harness import (
    CHROMIUM_ARGS,
    ROOT,
    require_playwright,
    streamlit_server,
    upload,
    wait_for_predictions,
    wait_rendered,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MODEL = "custom"  # the smallest shipped model (2 MB): the replicas start fastest with it alone


def _snapshot(root: Path) -> dict[str, str]:
    """Every directory and file under root (hidden ones too): path -> "dir" or its SHA-256."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = "dir"
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return found


ANSWERS_JS = """() => Object.fromEntries(
    [...document.querySelectorAll('[class*="st-key-pred_"]')].map(box => [
        (box.querySelector('[data-testid="stMarkdownContainer"]')?.innerText ?? '').trim(),
        [...box.querySelectorAll('.studio-answer')].map(row => row.innerText.trim()),
    ]))"""


def _answers(page, timeout_s: float = 15.0) -> dict[str, list[str]]:
    """Each model's result box on the Live page: its heading ("<label>: <class>") -> its bars
    ("<class> · <percent>").

    Read in one pass of the page's own script, again until every box shows three bars (or
    ``timeout_s``): the page redraws each second until its warm-up has ended, and reading box by
    box once caught a box redrawn between its heading and its bars (a fresh-clone suite run)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answers = page.evaluate(ANSWERS_JS)
        complete = answers and all(len(bars) == 3 for bars in answers.values())
        if complete or time.monotonic() > deadline:
            return answers
        page.wait_for_timeout(200)


def test_two_replicas_share_only_a_read_only_artifacts_folder_and_answer_alike(tmp_path):
    chromium, playwright = require_playwright()

    shipped = ROOT / "artifacts"
    shared = tmp_path / "artifacts"
    shutil.copytree(shipped / MODEL, shared / MODEL)
    shutil.copy2(shipped / SAMPLES_FILE, shared / SAMPLES_FILE)
    before = _snapshot(shared)

    image = tmp_path / "noise.png"
    rng = np.random.default_rng(15)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(image)

    env = {ARTIFACTS_ENV: str(shared), VIEWER_ENV: "1"}
    title = short_label(MODEL)  # what the result box shows
    with (
        streamlit_server(env) as (url_a, _),
        streamlit_server(env) as (url_b, _),
        playwright.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # One visitor per replica, as a load balancer would spread them.
            pages = [
                browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                for _ in range(2)
            ]
            for page, url in zip(pages, [url_a, url_b], strict=True):
                page.goto(f"{url}/live")  # both replicas load their model at the same time
            for page in pages:
                wait_rendered(page)
                upload(page, [image])
            answers = []
            for page in pages:
                wait_for_predictions(page, [title])
                wait_rendered(page)
                assert page.locator('[data-testid="stException"]').count() == 0
                answers.append(_answers(page))
        finally:
            browser.close()

    # Each replica serves the shared copy (its one model), not the repository's artifacts/.
    headings = list(answers[0])
    assert len(headings) == 1, f"one model in the shared copy, but the page shows {headings}"
    heading = headings[0]
    assert heading.startswith(f"{title}: ")
    assert len(answers[0][heading]) == 3 and all("%" in bar for bar in answers[0][heading])
    assert answers[1] == answers[0], "the two replicas gave different answers"
    assert heading.removeprefix(f"{title}: ") == answers[0][heading][0].split(" · ")[0]

    after = _snapshot(shared)
    assert sorted(set(after) - set(before)) == [], "the replicas created files in artifacts/"
    assert sorted(set(before) - set(after)) == [], "the replicas removed files from artifacts/"
    changed = sorted(path for path in before if before[path] != after[path])
    assert changed == [], "the replicas changed files in artifacts/"

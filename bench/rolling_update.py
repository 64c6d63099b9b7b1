"""A rolling update under load: browsers keep uploading while every replica is replaced.

    python bench/rolling_update.py [--replicas 3] [--sessions 4] [--models custom]

Starts ``core.serving.cluster.Cluster`` (the code behind `python -m core.serve`) on a copy of
--models, opens --sessions Chromium sessions on the Live page through nginx, and has each one
upload a new image every few seconds while ``Cluster.roll`` restarts the replicas one at a time
onto a second copy of the artifacts. Counts every page load and upload that failed (an upload
PUT not answered 2xx, an upload not answered on the page within 60 s) and prints how long the
roll took and which replicas (and ports) answered before and after.
"""

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.serving.cluster import Cluster  # noqa: E402
from core.serving.replicas import free_port  # noqa: E402
from core.store.samples import SAMPLES_FILE  # noqa: E402
from tests.browser_harness import CHROMIUM, CHROMIUM_ARGS, ROOT  # noqa: E402
from tests.test_serve import Session  # noqa: E402


def copy_artifacts(models: list[str], target: Path) -> Path:
    for name in models:
        shutil.copytree(ROOT / "artifacts" / name, target / name)
    shutil.copy2(ROOT / "artifacts" / SAMPLES_FILE, target / SAMPLES_FILE)
    return target


def remove_uploaded(page) -> None:
    """Remove the files uploaded before, as a person replacing the photo would: past six images
    the Live page answers in a table, not in the cards the sessions wait for."""
    chips = page.locator('[data-testid="stFileChipDeleteBtn"] button')
    for _ in range(20):
        if chips.count() == 0:
            return
        chips.first.click(timeout=30_000)
        page.wait_for_timeout(200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--models", default="custom")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rolling-"))
    models = args.models.split(",")
    old = copy_artifacts(models, folder / "old")
    new = copy_artifacts(models, folder / "new")
    rng = np.random.default_rng(0)
    images = []
    for i in range(400):
        path = folder / f"photo_{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
        images.append(path)

    began = time.perf_counter()

    def say(line: str) -> None:
        print(f"{time.perf_counter() - began:7.1f} s  {line}", flush=True)

    cluster = Cluster(args.replicas, free_port(), old, log=say)
    result: dict = {}
    sessions_open, roll_done = threading.Event(), threading.Event()

    def browse() -> None:
        """Its own thread (Playwright's sync API stays in one): upload until the roll is done,
        then one more round."""
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            sessions = [Session(browser, cluster.url) for _ in range(args.sessions)]
            sessions_open.set()
            files, late, rounds, last = iter(images), 0, 0, False
            while True:
                last = roll_done.is_set()
                for i, s in enumerate(sessions):
                    s.shown = []
                    try:
                        remove_uploaded(s.page)
                        s.upload([next(files)])
                    except Exception:  # noqa: BLE001 - the uploader not usable in 30 s: counted
                        late += 1
                        say(f"session {i}: could not upload (round {rounds})")
                for i, s in enumerate(sessions):
                    try:
                        s.wait_answers(timeout_ms=60_000)
                    except Exception:  # noqa: BLE001 - a Playwright timeout: counted
                        late += 1
                        say(f"session {i}: upload of round {rounds} not answered in 60 s")
                rounds += 1
                if last:
                    break
                sessions[0].page.wait_for_timeout(2000)
            result["statuses"] = [status for s in sessions for status, _ in s.uploads]
            result["replicas"] = sorted({r for s in sessions for _, r in s.uploads})
            result["late"], result["rounds"] = late, rounds
            browser.close()

    try:
        started = time.perf_counter()
        cluster.start()
        print(
            f"{args.replicas} replicas warm behind nginx in {time.perf_counter() - started:.1f} s"
        )
        # Replicas are started from this (main) thread: each dies with the thread that started
        # it (PR_SET_PDEATHSIG), so the roll runs here and the browsers in another thread.
        browser_thread = threading.Thread(target=browse)
        browser_thread.start()
        sessions_open.wait(timeout=120)
        before = {name: r.port for name, r in cluster.replicas.items()}
        t = time.perf_counter()
        cluster.roll(new)
        took = time.perf_counter() - t
        roll_done.set()
        browser_thread.join(timeout=300)
        after = {name: r.port for name, r in cluster.replicas.items()}
        statuses = result.get("statuses", [])
        failed = [st for st in statuses if not 200 <= st < 300]
        print(f"roll of {args.replicas} replicas: {took:.1f} s; ports {before} -> {after}")
        print(
            f"{result.get('rounds')} rounds of {args.sessions} uploads: {len(statuses)} upload "
            f"requests, {len(failed)} failed {failed}, {result.get('late')} uploads not answered "
            f"on the page within 60 s (or not made); replicas that answered: "
            f"{result.get('replicas')}"
        )
        on_new = all(r.artifacts == new.resolve() for r in cluster.replicas.values())
        print(f"every replica on the new artifacts: {on_new}")
    finally:
        roll_done.set()
        cluster.stop()


if __name__ == "__main__":
    main()

"""A fresh server's first answers: how long an upload waits, and when every model answers.

    python bench/cold_start.py [--runs 3] [--artifacts DIR]

Each run starts `streamlit run dashboard.py` (warm-up on), opens the Live page in Debian's
Chromium the moment the server answers its health check, and uploads a photo as soon as the
uploader is there. Prints, per run and as medians: seconds from the upload to the first model's
answer on screen (target ≤ 5 s), and from the server's start to every model's answer on screen
(target ≤ 15 s), with the time each model's answer appeared (the models warm up one by one,
fastest first: core.serving.warming). Models with a fast-start copy (`python -m
core.fast_start`, once) answer with it first; `--no-fast-start` measures without the copies.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.reporting.palette import short_label  # noqa: E402
from core.serving import fast_start  # noqa: E402
from core.store.artifacts import ARTIFACTS_ENV  # noqa: E402
from core.store.catalog import list_models  # noqa: E402
from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    start_logged_server,
    upload,
    wait_healthy,
    wait_rendered,
)

# The labels of the result boxes that show an answer (a progress bar under "<label>: <class>").
ANSWERED_JS = """() => [...document.querySelectorAll('[class*="st-key-pred_"]')]
    .filter(box => box.querySelector('.studio-answer'))
    .map(box => box.innerText.split(':')[0].trim())"""


def one_run(browser, image: Path, labels: list[str], log: Path, env: dict) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = start_logged_server(port, log, env)
    try:
        wait_healthy(url, proc)
        healthy = time.perf_counter() - started
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/live", timeout=180_000)
        wait_rendered(page)
        uploaded = time.perf_counter()
        upload(page, [image])
        seen: dict[str, float] = {}
        deadline = uploaded + 300
        while len(seen) < len(labels) and time.perf_counter() < deadline:
            for label in page.evaluate(ANSWERED_JS):
                seen.setdefault(label, time.perf_counter() - started)
            page.wait_for_timeout(50)
        page.close()
        first = min(seen.values()) - (uploaded - started) if seen else float("nan")
        every = max(seen.values()) if len(seen) == len(labels) else float("nan")
        return {
            "healthy": healthy,
            "upload_at": uploaded - started,
            "first": first,
            "all": every,
            "seen": seen,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--artifacts", default=None)
    parser.add_argument(
        "--no-fast-start", action="store_true", help="answer without the fast-start copies"
    )
    args = parser.parse_args()
    env = {ARTIFACTS_ENV: str(Path(args.artifacts).resolve())} if args.artifacts else {}
    names = list_models(args.artifacts)
    labels = [short_label(name) for name in names]
    if args.no_fast_start:
        env[fast_start.FAST_START_ENV] = "0"
        print("fast-start copies: off")
    else:
        copies = [
            n for n in names if (p := fast_start.copy_path(n, args.artifacts)) and p.is_file()
        ]
        print(
            f"fast-start copies: {len(copies)} of {len(names)} models (python -m core.fast_start)"
        )
    folder = Path(tempfile.mkdtemp(prefix="cold-start-"))
    image = folder / "photo.png"
    Image.new("RGB", (64, 48), (30, 160, 60)).save(image)
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for run in range(args.runs):
            r = one_run(browser, image, labels, folder / f"server-{run}.log", env)
            results.append(r)
            by_time = sorted(r["seen"].items(), key=lambda x: x[1])
            order = ", ".join(f"{k} {v:.1f}" for k, v in by_time)
            print(
                f"run {run + 1}: health {r['healthy']:.1f} s, upload at {r['upload_at']:.1f} s; "
                f"first answer {r['first']:.1f} s after the upload; every answer "
                f"{r['all']:.1f} s after the start ({order})",
                flush=True,
            )
        browser.close()
    first = statistics.median(r["first"] for r in results)
    every = statistics.median(r["all"] for r in results)
    print(
        f"median of {len(results)}: first answer {first:.1f} s after the upload (target ≤ 5 s); "
        f"every model's answer {every:.1f} s after the server's start (target ≤ 15 s)"
    )


if __name__ == "__main__":
    main()

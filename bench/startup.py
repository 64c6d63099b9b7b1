"""How fast the dashboard's pages open, as ratios against a bare Streamlit page.

    python bench/startup.py [--runs 5]

Both apps are started the same way (`streamlit run`, headless, on a free port) and opened in
Debian's Chromium driven by Playwright, so the ratios hold across machines while the seconds do
not. Prints, as medians over --runs fresh servers:

- first useful render: `streamlit run` to the page's first useful content on screen, for a bare
  page (its one line) and for the Overview (its headline: the best model and its accuracy, drawn
  before the tables and charts); the ratio is the target's measure (≤ 1.5x); and, for both, to
  the script finished;
- warm-up: seconds from the Overview drawn to the models answering on the Live page (the
  server loads them in the background once its first page is drawn);
- every page's settle time on a warm server (goal ≤ 2 s each);
- upload -> every model's answer on the Live page of a warm server (goal ≤ 0.5 s), --runs
  uploads on each server.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.models.registry import REGISTRY  # noqa: E402
from core.reporting.palette import short_label  # noqa: E402
from core.serving.readiness import READY_FILE_ENV  # noqa: E402
from core.store import artifacts  # noqa: E402
from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    streamlit_server,
    time_upload,
    upload,
    wait_for_predictions,
    wait_ready_file,
    wait_rendered,
)

BARE_PAGE = 'import streamlit as st\n\nst.title("Bare page")\nst.write("One line.")\n'


def first_render(browser, script: Path | str, useful_text: str) -> tuple[float, float]:
    """Seconds from starting ``script``'s server to (its first useful content on screen: the
    element holding ``useful_text``; its script finished)."""
    start = time.perf_counter()
    with streamlit_server(script=script) as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url, timeout=180_000)
        page.get_by_text(useful_text).first.wait_for(timeout=180_000)
        useful = time.perf_counter() - start
        wait_rendered(page)
        finished = time.perf_counter() - start
        page.close()
    return useful, finished


def warm_server_times(
    browser, images: list[Path], models: list[str], settle: float
) -> dict[str, list[float]]:
    """On one fresh server: warm-up after the Overview, each page's settle time once warm, and
    one upload -> answers time per image."""
    times: dict[str, list[float]] = {}
    ready_file = Path(tempfile.mkdtemp()) / "ready.json"
    with streamlit_server({READY_FILE_ENV: str(ready_file)}) as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url, timeout=180_000)
        wait_rendered(page)
        start = time.perf_counter()
        page.goto(f"{url}/live", timeout=180_000)
        upload(page, [images[0]])
        wait_for_predictions(page, models, timeout_ms=600_000)
        times["warm-up"] = [time.perf_counter() - start]
        # With fast-start copies the models answer within seconds while their Keras models load
        # behind them; "warm" is once that has ended too.
        wait_ready_file(ready_file)
        for label, (path, _) in PAGES.items():
            start = time.perf_counter()
            page.goto(f"{url}/{path}", timeout=180_000)
            wait_rendered(page)
            times[label] = [time.perf_counter() - start]
        times["upload"] = [time_upload(page, url, image, models, settle) for image in images]
        page.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--settle", type=float, default=2.0, help="idle seconds on the Live page before an upload"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    bare_script = tmp / "bare.py"
    bare_script.write_text(BARE_PAGE)
    images = []
    for i in range(args.runs):  # photo-sized, so decoding and shrinking are timed too
        images.append(tmp / f"upload{i}.jpg")
        Image.new("RGB", (800, 600), (40 * i, 120, 200 - 30 * i)).save(images[-1])
    models = [short_label(n) for n in REGISTRY if artifacts.Artifact(n).status().ready]
    bare, overview, warm = [], [], {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            bare.append(first_render(browser, bare_script, "One line."))
            # The Overview's headline: the best model and its accuracy, drawn before the tables
            # and charts (pages/overview.py).
            overview.append(first_render(browser, "dashboard.py", "Best model so far"))
        for _ in range(args.runs):
            for key, values in warm_server_times(browser, images, models, args.settle).items():
                warm.setdefault(key, []).extend(values)
        browser.close()
    report(bare, overview, warm, args.runs, models)


def report(bare, overview, warm, runs: int, models: list[str]) -> None:
    med = statistics.median
    b, o = med(u for u, _ in bare), med(u for u, _ in overview)
    print(f"first useful render, median of {runs} fresh servers:")
    print(f"  bare Streamlit page (its line)     {b:6.2f} s")
    print(
        f"  Overview (the best model's line)   {o:6.2f} s   {o / b:.2f}x bare (target <= 1.5x)"
        f"   runs: {_runs([u for u, _ in overview])}"
    )
    bf, of = med(f for _, f in bare), med(f for _, f in overview)
    print(f"script finished: bare {bf:.2f} s, Overview {of:.2f} s ({of / bf:.2f}x)")
    print(
        f"warm-up after the Overview, to {len(models)} models answering: "
        f"{med(warm['warm-up']):.1f} s"
    )
    print("page settle on a warm server (target <= 2 s), median:")
    for label in PAGES:
        print(f"  {label:28s} {med(warm[label]):6.2f} s   (max {max(warm[label]):.2f})")
    uploads = warm["upload"]
    print(
        f"upload -> every model's answer: median {med(uploads):.2f} s over {len(uploads)} uploads "
        f"(target <= 0.5 s; runs: {_runs(uploads)})"
    )


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()

"""How fast the dashboard's pages open, as ratios against a bare Streamlit page.

    python bench/startup.py [--runs 5]

Both apps are started the same way (`streamlit run`, headless, on a free port) and opened in
Debian's Chromium driven by Playwright, so the ratios hold across machines while the seconds do
not. Prints, as medians over --runs fresh servers:

- first render: `streamlit run` to the page's heading drawn and its script finished, for a bare
  page (a title and a line) and for the Overview; the ratio is the target's measure (≤ 1.5x);
- every page's settle time on a warm server (opened after the Overview; goal ≤ 2 s each).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    streamlit_server,
    wait_rendered,
)

BARE_PAGE = 'import streamlit as st\n\nst.title("Bare page")\nst.write("One line.")\n'


def first_render(browser, script: Path | str) -> float:
    """Seconds from starting ``script``'s server to its first page drawn and finished."""
    start = time.perf_counter()
    with streamlit_server(script=script) as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url, timeout=180_000)
        wait_rendered(page)
        seconds = time.perf_counter() - start
        page.close()
    return seconds


def page_settle_times(browser) -> dict[str, float]:
    """Seconds each page takes to settle on a server already warmed by the Overview."""
    times = {}
    with streamlit_server() as (url, _):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url, timeout=180_000)
        wait_rendered(page)
        for label, (path, _) in PAGES.items():
            start = time.perf_counter()
            page.goto(f"{url}/{path}", timeout=180_000)
            wait_rendered(page)
            times[label] = time.perf_counter() - start
        page.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bare_script = Path(tempfile.mkdtemp()) / "bare.py"
    bare_script.write_text(BARE_PAGE)
    bare, overview, settle = [], [], {label: [] for label in PAGES}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            bare.append(first_render(browser, bare_script))
            overview.append(first_render(browser, "dashboard.py"))
        for _ in range(args.runs):
            for label, seconds in page_settle_times(browser).items():
                settle[label].append(seconds)
        browser.close()
    b, o = statistics.median(bare), statistics.median(overview)
    print(f"first render, median of {args.runs} fresh servers:")
    print(f"  bare Streamlit page  {b:6.2f} s")
    print(f"  Overview             {o:6.2f} s   {o / b:.2f}x bare (target <= 1.5x)")
    print("page settle on a warm server (goal <= 2 s):")
    for label, values in settle.items():
        print(f"  {label:28s} {statistics.median(values):6.2f} s")


if __name__ == "__main__":
    main()

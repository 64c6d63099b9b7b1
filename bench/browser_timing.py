"""Browser timings of the dashboard, in Debian's Chromium driven by Playwright.

    python bench/browser_timing.py [--runs 5]

Prints (1) seconds from `streamlit run dashboard.py` to the Overview page rendered in the
browser (fresh server each run) and (2) seconds from uploading one image on the Live
classification page to every ready model's prediction shown (same server, new upload each run,
each on a freshly loaded page left idle for --settle seconds first, as a person picking a file
would: uploading within milliseconds of a reload also times the browser finishing the page
load); medians over --runs.
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
from core.store import artifacts
from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    streamlit_server,
    time_upload,
    wait_rendered,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds before upload")
    args = parser.parse_args()
    ready = [short_label(n) for n in REGISTRY if artifacts.Artifact(n).status().ready]
    first_render, upload_to_result = [], []
    tmp = Path(tempfile.mkdtemp())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for run in range(args.runs):
            start = time.perf_counter()
            with streamlit_server() as (url, _):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                wait_rendered(page)
                first_render.append(time.perf_counter() - start)
                if run == 0:  # one server is enough for the upload timings
                    for i in range(args.runs):
                        image = tmp / f"upload{i}.jpg"
                        Image.new("RGB", (800, 600), (40 * i, 120, 200 - 30 * i)).save(image)
                        upload_to_result.append(time_upload(page, url, image, ready, args.settle))
                page.close()
        browser.close()
    print(f"models shown: {', '.join(ready)}")
    print(
        f"streamlit run -> first page rendered: median {statistics.median(first_render):.1f} s "
        f"(runs: {', '.join(f'{t:.1f}' for t in first_render)})"
    )
    print(
        f"upload -> predictions shown: median {statistics.median(upload_to_result):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in upload_to_result)})"
    )


if __name__ == "__main__":
    main()

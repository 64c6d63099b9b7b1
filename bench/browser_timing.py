"""Browser timings of the dashboard, in Debian's Chromium driven by Playwright.

    python bench/browser_timing.py [--runs 5]

Prints (1) seconds from `streamlit run dashboard.py` to the Overview page rendered in the
browser (fresh server each run) and (2) seconds from uploading one image on the Live
classification page to every ready model's prediction shown (same server, new upload each run,
each on a freshly loaded page left idle for --settle seconds first, as a person picking a file
would: uploading within milliseconds of a reload also times the browser finishing the page
load); medians over --runs. The first upload is made while the models still warm up and is
printed on its own; the others wait until the warm-up has ended (Grad-CAM graphs included:
the server's ready file, core.serving.readiness), as on a server that has been up a while.
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
from core.store import artifacts
from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    streamlit_server,
    time_upload,
    wait_ready_file,
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
            ready_file = tmp / f"ready{run}.json"
            with streamlit_server({READY_FILE_ENV: str(ready_file)}) as (url, _):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                wait_rendered(page)
                first_render.append(time.perf_counter() - start)
                if run == 0:  # one server is enough for the upload timings
                    for i in range(args.runs + 1):
                        image = tmp / f"upload{i}.jpg"
                        Image.new("RGB", (800, 600), (40 * i, 120, 200 - 30 * i)).save(image)
                        if i == 1:
                            wait_ready_file(ready_file)
                        seconds = time_upload(page, url, image, ready, args.settle)
                        if i == 0:
                            cold = seconds
                        else:
                            upload_to_result.append(seconds)
                page.close()
        browser.close()
    print(f"models shown: {', '.join(ready)}")
    print(
        f"streamlit run -> first page rendered: median {statistics.median(first_render):.1f} s "
        f"(runs: {', '.join(f'{t:.1f}' for t in first_render)})"
    )
    print(f"first upload, models still warming up -> predictions shown: {cold:.2f} s")
    print(
        f"upload -> predictions shown, warm: median {statistics.median(upload_to_result):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in upload_to_result)})"
    )


if __name__ == "__main__":
    main()

"""Screenshots of every page of the real app in Debian's Chromium, for review and the README.

    python bench/screenshots.py [--sizes 1280x800,1920x1080] [--out docs/screenshots]

Starts `streamlit run dashboard.py` on a free port (tests/browser_harness.py), opens each page
at each window size, waits until its script has finished, and writes ``<page>-<width>.png``
(the full page). The README's screenshot is ``docs/screenshots/overview-1280.png``.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    streamlit_server,
    wait_rendered,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1280x800,1920x1080")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--pages", help="comma-separated URL paths (default: every page)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    wanted = args.pages.split(",") if args.pages else None
    with streamlit_server() as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, height in sizes:
            page = browser.new_page(viewport={"width": width, "height": height})
            for path, _heading in PAGES.values():
                name = path or "overview"
                if wanted and name not in wanted:
                    continue
                page.goto(f"{url}/{path}")
                wait_rendered(page)
                page.wait_for_timeout(1500)  # charts draw after the script ends
                target = out / f"{name}-{width}.png"
                page.screenshot(path=str(target), full_page=name != "overview")
                print(target.relative_to(ROOT))
            page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

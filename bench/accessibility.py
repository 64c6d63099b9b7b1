"""axe-core on every page of the real app, at a desktop and a phone width, in Debian's Chromium.

    python bench/accessibility.py [--sizes 1280x800,390x844] [--pages live,trust]

Starts `streamlit run dashboard.py` with the models' warm-up on, opens each page, uploads a test
image on the Live page (so its answers and heatmaps are audited too), waits until the page has
settled, runs axe-core (tests/axe_harness.py) and prints, per page and width, the number of
violations by impact with the rule ids of the critical and serious ones, and every request the
page made to a host other than the studio's own server.
"""

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.axe_harness import audit, axe_source, blocking  # noqa: E402
from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    disagreed_test_image,
    foreign_requests,
    streamlit_server,
    upload,
    wait_for_predictions,
    wait_rendered,
)

IMPACTS = ("critical", "serious", "moderate", "minor")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1280x800,390x844")
    parser.add_argument("--pages", help="comma-separated URL paths (default: every page)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from core.models.registry import REGISTRY
    from core.reporting.palette import short_label
    from core.store import artifacts

    source = axe_source()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    wanted = args.pages.split(",") if args.pages else None
    ready = [short_label(n) for n in REGISTRY if artifacts.Artifact(n).status().ready]
    total = Counter()
    with (
        streamlit_server({"CIFAR10_STUDIO_WARM_UP": "1"}) as (url, _),
        sync_playwright() as p,
        tempfile.TemporaryDirectory() as tmp,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, height in sizes:
            page = browser.new_page(viewport={"width": width, "height": height})
            seen = foreign_requests(page)
            for path, _heading in PAGES.values():
                name = path or "overview"
                if wanted and name not in wanted:
                    continue
                seen.clear()
                page.goto(f"{url}/{path}", timeout=300_000)
                wait_rendered(page, 300_000)
                if path == "live":
                    upload(page, [disagreed_test_image(Path(tmp))], timeout_ms=300_000)
                    wait_for_predictions(page, ready, timeout_ms=300_000)
                    wait_rendered(page, 300_000)
                page.wait_for_timeout(1500)  # charts and images draw after the script ends
                found = audit(page, source)
                counts = Counter()
                for v in found:
                    counts[v["impact"]] += v["count"]
                total.update(counts)
                worst = sorted({f"{v['id']}({v['count']})" for v in blocking(found)})
                other = sorted(
                    {f"{v['id']}({v['count']})" for v in found if v not in blocking(found)}
                )
                row = ", ".join(f"{i} {counts[i]}" for i in IMPACTS if counts[i]) or "none"
                print(f"{name:>12} {width:>5}px: {row}", flush=True)
                for v in blocking(found):
                    print(f"{'':>21}{v['id']}: {v['nodes']}", flush=True)
                if worst:
                    print(f"{'':>21}critical/serious: {' '.join(worst)}", flush=True)
                if other:
                    print(f"{'':>21}moderate/minor: {' '.join(other)}", flush=True)
                if seen:
                    print(f"{'':>21}other hosts: {sorted(set(seen))}", flush=True)
            page.close()
        browser.close()
    print("all pages: " + (", ".join(f"{i} {total[i]}" for i in IMPACTS if total[i]) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

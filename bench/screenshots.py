"""Screenshots of every page of the real app in Debian's Chromium, for review and the README.

    python bench/screenshots.py [--sizes 1280x800,1920x1080] [--out docs/screenshots]

Starts `streamlit run dashboard.py` on a free port (tests/browser_harness.py), opens each page
at each window size, waits until its script has finished, and writes ``<page>-<width>.png``:
the whole page, except ``overview-1280.png``, the README's screenshot, which is what a 1280x800
window shows. On the Live page it first uploads a shipped test image the models disagree on, so
the verdict note and every model's card are in the picture. A PNG over 300 KB is re-encoded with
a 256-colour palette (Pillow), which keeps text sharp.

Beside them, ``manifest.json`` records which artifacts each screenshot shows (the sha256 of every
shipped model's metrics.json), so tests/test_readme.py fails once an artifact changes and the
screenshots were not retaken.
"""

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.models.registry import REGISTRY  # noqa: E402
from core.reporting.palette import short_label  # noqa: E402
from core.serving.readiness import READY_FILE_ENV  # noqa: E402
from core.store import artifacts  # noqa: E402
from tests.browser_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    disagreed_test_image,
    streamlit_server,
    upload,
    wait_for_predictions,
    wait_ready_file,
    wait_rendered,
)

MANIFEST = "manifest.json"
MAX_BYTES = 300_000
MAX_HEIGHT = 8000  # px: a taller page is cut there
README_SHOT = "overview-1280.png"
# Streamlit's document never scrolls (its main section does), so a "full page" screenshot of the
# document is one window high: the window is made as tall as the main section's content instead.
CONTENT_HEIGHT_JS = "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"


def artifacts_shown(root=None) -> dict[str, str]:
    """{shipped model: sha256 of its metrics.json, or "not trained"}: what the pages show."""
    shown = {}
    for name in REGISTRY:
        metrics = artifacts.Artifact(name, root).path / artifacts.METRICS_FILE
        shown[name] = (
            hashlib.sha256(metrics.read_bytes()).hexdigest() if metrics.is_file() else "not trained"
        )
    return shown


def fingerprint(shown: dict[str, str]) -> str:
    """One id of ``artifacts_shown()``, stored per screenshot."""
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]


def record(out: Path, files: list[str], shown: dict[str, str]) -> None:
    """Note in ``out/manifest.json`` that ``files`` show the artifacts ``shown``."""
    path = out / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest.setdefault("shots", {}).update({f: fingerprint(shown) for f in files})
    manifest.setdefault("artifacts", {})[fingerprint(shown)] = shown
    used = set(manifest["shots"].values())
    manifest["artifacts"] = {k: v for k, v in manifest["artifacts"].items() if k in used}
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def optimise(path: Path, max_bytes: int = MAX_BYTES) -> None:
    """Re-encode ``path`` with an adaptive 256-colour palette when it is over ``max_bytes``."""
    if path.stat().st_size <= max_bytes:
        return
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def show_live_answers(page, folder: Path, timeout_ms: int) -> None:
    """Upload a test image the models disagree on and wait for every answer and heatmap."""
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    upload(page, [disagreed_test_image(folder)], timeout_ms=timeout_ms)
    wait_for_predictions(page, [short_label(n) for n in ready], timeout_ms=timeout_ms)
    wait_rendered(page, timeout_ms)


def shoot(page, target: Path, full: bool) -> None:
    """Screenshot ``page`` into ``target``: the window, or (``full``) all of the page's content."""
    window = page.viewport_size
    if full:
        height = min(MAX_HEIGHT, max(window["height"], page.evaluate(CONTENT_HEIGHT_JS)))
        page.set_viewport_size({"width": window["width"], "height": height})
        page.wait_for_timeout(1000)  # charts redraw for the new size
    page.screenshot(path=str(target))
    page.set_viewport_size(window)
    optimise(target)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1280x800,1920x1080")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--pages", help="comma-separated URL paths (default: every page)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for a page (default 300)"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    wanted = args.pages.split(",") if args.pages else None
    timeout_ms = int(args.timeout * 1000)
    showing, taken = artifacts_shown(), []
    with (
        tempfile.TemporaryDirectory() as tmp,
        streamlit_server({READY_FILE_ENV: str(Path(tmp) / "ready.json")}) as (url, _),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The first page starts the models' warm-up; the pages are taken once it has ended, so
        # the Live page shows its heatmaps and unfamiliar-image check, not "still loading" notes.
        first = browser.new_page()
        first.goto(url)
        wait_rendered(first, timeout_ms)
        wait_ready_file(Path(tmp) / "ready.json", args.timeout)
        first.close()
        for width, height in sizes:
            page = browser.new_page(viewport={"width": width, "height": height})
            for path, _heading in PAGES.values():
                name = path or "overview"
                if wanted and name not in wanted:
                    continue
                page.goto(f"{url}/{path}")
                wait_rendered(page, timeout_ms)
                if path == "live":
                    show_live_answers(page, Path(tmp), timeout_ms)
                page.wait_for_timeout(1500)  # charts draw after the script ends
                target = out / f"{name}-{width}.png"
                shoot(page, target, full=target.name != README_SHOT)
                taken.append(target.name)
                shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
                print(f"{shown}: {target.stat().st_size / 1e3:.0f} KB", flush=True)
            page.close()
        browser.close()
    record(out, taken, showing)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTML report in a real browser (Debian's Chromium via Playwright), fully offline."""

import pytest

from core.models.registry import REGISTRY
from core.reporting import report
from core.store import artifacts
from tests import browser_harness as harness

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_opens_offline_and_names_every_ready_model_with_its_accuracy(tmp_path):
    chromium, playwright = harness.require_playwright()  # skipped, or failed under CI
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    assert ready, "the repository ships trained models"
    out = report.write_report(tmp_path / "report.html", n_examples=2, n_boot=200)

    requests, errors = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=harness.CHROMIUM_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri(), wait_until="load")
        # plotly.js (inline) has drawn every chart, and every inline image decoded
        charts = page.locator(".js-plotly-plot")
        charts.first.wait_for(timeout=60_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".every(p => p.querySelector('.main-svg'))",
            timeout=60_000,
        )
        images_ok = page.evaluate(
            "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        )
        n_images = page.evaluate("() => document.images.length")
        body = page.inner_text("body")
        rows = page.locator("table").first.inner_text()
        n_charts = charts.count()
        (harness.ROOT / "screenshots").mkdir(exist_ok=True)
        page.screenshot(path=str(harness.ROOT / "screenshots" / "report.png"), full_page=True)
        browser.close()

    assert errors == [], "the inline scripts run without an error"
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == [], "no network"
    assert n_charts >= len(ready) + 2, "a confusion matrix each, per-class F1, reliability"
    assert images_ok and n_images >= 2 * (len(ready) + 1)
    for name in ready:
        accuracy = artifacts.Artifact(name).metrics()["accuracy"]
        line = next(r for r in rows.splitlines() if f"({name})" in r)
        assert REGISTRY[name].title in line and f"{accuracy:.4f} [" in line, line
    assert "Model cards" in body

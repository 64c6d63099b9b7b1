"""A real browser (Debian's Chromium via Playwright) against `streamlit run dashboard.py`."""

import contextlib
import os
from pathlib import Path

import pytest
from PIL import Image

from core import artifacts
from core.deployment import VIEWER_ENV
from core.models import REGISTRY
from tests.browser_harness import (
    CHROMIUM_ARGS,
    PAGES,
    ROOT,
    require_chromium,
    streamlit_server,
    upload,
    wait_for_predictions,
    wait_rendered,
)

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "screenshots"


@contextlib.contextmanager
def _fresh_server_and_browser(env: dict | None = None):
    """(base URL, browser page) of a newly started `streamlit run dashboard.py`."""
    chromium = require_chromium()
    if os.environ.get("CI"):  # requirements.txt installs it: missing under CI is a failure
        import playwright.sync_api as playwright
    else:
        playwright = pytest.importorskip("playwright.sync_api")
    with streamlit_server(env) as (url, _), playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield url, browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser_page():
    with _fresh_server_and_browser() as (url, page):
        yield url, page


def test_a_fresh_servers_first_visit_by_deep_link_gets_the_page_inside_the_dashboard():
    # Before any st.navigation call, Streamlit would run a deep-linked page file on its own,
    # without the dashboard's sidebar and navigation (ui.common.require_dashboard).
    path, heading = PAGES["Model comparison"]
    with _fresh_server_and_browser() as (url, page):
        page.goto(f"{url}/{path}")
        wait_rendered(page)
        assert [h.inner_text().strip() for h in page.locator("h1").all()] == [heading]
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("Models", exact=True).count() == 1
        assert sidebar.get_by_role("link", name="Live classification").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0


def test_the_viewer_has_no_train_page_not_even_by_deep_link():
    train_path, train_heading = PAGES["Train"]
    with _fresh_server_and_browser({VIEWER_ENV: "1"}) as (url, page):
        # The first visit of a fresh server, by deep link: before any st.navigation call,
        # Streamlit would run pages/train.py on its own (ui.common.require_dashboard).
        page.goto(f"{url}/{train_path}")
        wait_rendered(page)
        headings = [h.inner_text().strip() for h in page.locator("h1").all()]
        assert headings == [PAGES["Overview"][1]], "the default page, not the Train page"
        assert page.get_by_text(train_heading, exact=True).count() == 0
        assert page.get_by_role("button", name="Start training").count() == 0
        assert page.locator("input[type=text]").count() == 0, "no box to type a path into"
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("Read-only viewer", exact=False).count() == 1
        assert sidebar.get_by_role("link", name="Live classification").count() == 1
        assert sidebar.get_by_role("link", name="Train", exact=True).count() == 0
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "viewer_train_link.png"), full_page=True)
        page.goto(f"{url}/{train_path}")  # again, now that st.navigation has run
        wait_rendered(page)
        assert [h.inner_text().strip() for h in page.locator("h1").all()] == headings
        assert page.get_by_role("button", name="Start training").count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.parametrize("label", list(PAGES))
def test_every_page_renders_without_an_exception(browser_page, label):
    url, page = browser_page
    path, heading = PAGES[label]
    page.goto(f"{url}/{path}")
    wait_rendered(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}.png"), full_page=True)
    assert page.locator("h1").first.inner_text().strip() == heading
    assert page.locator('[data-testid="stException"]').count() == 0


def test_uploaded_image_gets_every_models_prediction(browser_page, tmp_path):
    url, page = browser_page
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    assert ready, "the repository ships trained models"
    image = tmp_path / "red_car.png"
    Image.new("RGB", (300, 200), (200, 20, 20)).save(image)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")

    page.goto(f"{url}/live")
    wait_rendered(page)
    upload(page, [image, bad])
    page.get_by_text("what the models see (32x32)").wait_for(timeout=120_000)
    wait_rendered(page)
    wait_for_predictions(page, [REGISTRY[name].title for name in ready])
    assert page.get_by_text("notes.jpg: not a recognised image file").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SCREENSHOTS / "live_uploaded.png"), full_page=True)
    assert Path(SCREENSHOTS / "live_uploaded.png").stat().st_size > 0

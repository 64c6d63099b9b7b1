"""A freshly started `streamlit run dashboard.py` in Chromium: its first visitor, by deep link,
gets the page inside the dashboard, and a read-only viewer has no Train page.

Apart from tests/test_browser.py (whose tests share one server) so that the two test workers
share the browser tests more evenly."""

import pytest

from core.serving.deployment import VIEWER_ENV
from tests.browser_harness import PAGES, ROOT, fresh_server_and_browser, wait_rendered

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = ROOT / "screenshots"


def test_a_fresh_servers_first_visit_by_deep_link_gets_the_page_inside_the_dashboard():
    # Before any st.navigation call, Streamlit would run a deep-linked page file on its own,
    # without the dashboard's sidebar and navigation (ui.common.require_dashboard).
    path, heading = PAGES["Model comparison"]
    with fresh_server_and_browser() as (url, page):
        page.goto(f"{url}/{path}")
        wait_rendered(page)
        assert [h.inner_text().strip() for h in page.locator("h1").all()] == [heading]
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("Models", exact=True).count() == 1
        assert sidebar.get_by_role("link", name="Live classification").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0


def test_the_viewer_has_no_train_page_not_even_by_deep_link():
    train_path, train_heading = PAGES["Train"]
    with fresh_server_and_browser({VIEWER_ENV: "1"}) as (url, page):
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
        # A presenter's toolbar (client.toolbarMode = "viewer"): with Streamlit's default
        # ("auto") a visit from localhost shows a Deploy button here.
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0

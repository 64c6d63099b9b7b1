"""What a room sees on a 1280 px screen: no page scrolls sideways, no note or card on the Live
page wraps word by word (a real Chromium against `streamlit run dashboard.py`)."""

import re

import pytest

from core import artifacts
from core.palette import short_label
from core.registry import REGISTRY
from tests.browser_harness import (
    PAGES,
    disagreed_test_image,
    fresh_server_and_browser,
    upload,
    wait_for_predictions,
    wait_rendered,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTH, HEIGHT = 1280, 800
# Streamlit's document never scrolls: its main section (stMain) does. Both are measured.
WIDTHS_JS = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    return {
        document: [document.documentElement.scrollWidth, window.innerWidth],
        main: [main.scrollWidth, main.clientWidth],
    };
}"""
# Each result card's first line ("<short label>: <class>") in lines of its own line height.
CARD_LINES_JS = """() => [...document.querySelectorAll('[class*="st-key-pred_"]')].map(box => {
    const p = box.querySelector('[data-testid="stMarkdownContainer"] p');
    const lines = p.getBoundingClientRect().height / parseFloat(getComputedStyle(p).lineHeight);
    return [p.innerText, lines];
})"""


def _live_layout(page, tmp_path) -> tuple[float, dict[str, float]]:
    """On the Live page after an upload the models disagree on: (the verdict note's width as a
    share of the main column's, each card's first line -> how many lines it takes)."""
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    upload(page, [disagreed_test_image(tmp_path)])
    wait_for_predictions(page, [short_label(n) for n in ready])
    wait_rendered(page)
    note = page.locator(
        '[data-testid="stAlert"]', has_text=re.compile("The models disagree|All models agree")
    )
    column = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()["width"]
    cards = dict(page.evaluate(CARD_LINES_JS))
    assert len(cards) == len(ready), cards
    return note.bounding_box()["width"] / column, cards


def test_no_page_scrolls_sideways_at_1280_px_and_live_notes_and_cards_keep_their_lines(tmp_path):
    overflowing, live = {}, None
    with fresh_server_and_browser(viewport=(WIDTH, HEIGHT)) as (url, page):
        for path, heading in PAGES.values():
            page.goto(f"{url}/{path}")
            wait_rendered(page)
            assert page.locator("h1").first.inner_text().strip() == heading
            if path == "live":
                live = _live_layout(page, tmp_path)
            widths = page.evaluate(WIDTHS_JS)
            if any(scroll > visible for scroll, visible in widths.values()):
                overflowing[path or "overview"] = widths
    assert overflowing == {}, "(scrollWidth, visible width) of the pages that scroll sideways"
    note_share, cards = live
    # The verdict once sat in the picture's ~60 px column, one word per line.
    assert note_share > 0.5
    # A full model title ("Model 2 (12-layer VGG, optimised)") wrapped over three lines.
    assert {card: round(lines) for card, lines in cards.items()} == dict.fromkeys(cards, 1)

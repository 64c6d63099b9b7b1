"""A real browser (Debian's Chromium via Playwright) against `streamlit run dashboard.py`,
at a room's 1280x800: every page renders without scrolling sideways, uploads are answered."""

import contextlib
import http.client
import io
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from core.data.images import MAX_BYTES
from core.models.registry import REGISTRY
from core.reporting.palette import short_label
from core.store import artifacts
from tests.axe_harness import AxeUnavailable, audit, axe_source, blocking
from tests.browser_harness import (
    PAGES,
    ROOT,
    disagreed_test_image,
    foreign_requests,
    fresh_server_and_browser,
    upload,
    wait_for_predictions,
    wait_rendered,
    wait_settled,
)
from ui.common import WARM_UP_ENV

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = ROOT / "screenshots"
# What Streamlit 1.67's file uploader shows for a file over its widget's max_upload_size (20 here,
# pages/live.py). The frontend counts that cap in MB of 10^6 bytes (1024^2 on a Windows client):
# Chromium on Linux refuses anything over 20,000,000 bytes, a little under
# core.data.images.MAX_BYTES.
TOO_LARGE = "File must be 20.0MB or smaller."
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


# Text that CSS cuts with an ellipsis ("Model 1 (12-la…", a "Copy link" button shown as "C…").
TRUNCATED_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] *')].filter(e =>
    e.offsetWidth > 0 && e.tagName !== 'INPUT' && getComputedStyle(e).textOverflow === 'ellipsis'
    && e.scrollWidth > e.clientWidth + 1
).map(e => e.textContent.trim().slice(0, 60))"""
COPY_LINK_JS = """() => [...document.querySelectorAll('[data-testid="stPopoverButton"]')].map(b => {
    const label = [...b.querySelectorAll('p')].find(p => p.textContent.includes('Copy'));
    return [label ? label.textContent : b.textContent, label ? label.scrollWidth : 0,
            label ? label.getBoundingClientRect().width : 0];
})"""
# Pixel sizes of the Live page's Grad-CAM maps, as drawn.
HEATMAP_SIZES_JS = """() => [...document.querySelectorAll('img[alt*="Grad-CAM"]')].map(i => {
    const r = i.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)];
})"""


@pytest.fixture(scope="module")
def browser_page():
    with fresh_server_and_browser({WARM_UP_ENV: "1"}, viewport=(WIDTH, HEIGHT)) as (url, page):
        yield url, page


@pytest.fixture(scope="module")
def axe():
    """axe-core's script, fetched with npm once into the studio's cache."""
    try:
        return axe_source()
    except AxeUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def elsewhere(browser_page):
    """Every request the module's page makes to a host other than the studio's server."""
    return foreign_requests(browser_page[1])


def _accessible(page, axe: str, elsewhere: list[str], where: str) -> None:
    """The page as it is now: no critical or serious axe-core violation, nothing asked of
    another host, no label cut short, a whole "Copy link"."""
    page.wait_for_timeout(1000)  # charts and images draw after the script has finished
    assert not blocking(audit(page, axe)), (where, blocking(audit(page, axe)))
    assert not elsewhere, (where, sorted(set(elsewhere)))
    assert page.evaluate(TRUNCATED_JS) == [], where
    for label, needed, shown in page.evaluate(COPY_LINK_JS):
        assert label == "Copy link" and needed <= shown + 1, (where, label, needed, shown)


def test_live_uploader_is_there_at_once_and_an_early_upload_is_answered_after_warm_up(
    browser_page, tmp_path
):
    # First in this file: the server is fresh, so its models are still loading in the
    # background (started once the Overview was drawn) when the Live page opens.
    url, page = browser_page
    page.goto(url)
    wait_rendered(page)
    page.goto(f"{url}/live")
    started = time.perf_counter()
    page.locator('[data-testid="stFileUploader"]').wait_for(timeout=60_000)
    opened = time.perf_counter() - started
    image = tmp_path / "early.png"
    Image.new("RGB", (64, 48), (30, 160, 60)).save(image)
    upload(page, [image])
    # The models warm up one by one (core.serving.warming): the upload waits under a message
    # until the first is warm, then the warm ones answer and the rest say "warming up".
    waiting = page.get_by_text("The models are still loading", exact=False)
    page.get_by_text("warming up…", exact=False).or_(waiting).first.wait_for(timeout=30_000)
    ready = [short_label(n) for n in REGISTRY if artifacts.Artifact(n).status().ready]
    wait_for_predictions(page, ready, timeout_ms=300_000)
    wait_rendered(page)
    assert waiting.count() == 0
    assert page.get_by_text("warming up…", exact=False).count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    # The page drew its uploader while the models loaded; loading them takes far longer here.
    assert opened < 15, f"the Live page took {opened:.1f} s to open during the warm-up"


@pytest.mark.parametrize("label", list(PAGES))
def test_every_page_renders_without_an_exception(browser_page, axe, elsewhere, label):
    url, page = browser_page
    path, heading = PAGES[label]
    elsewhere.clear()
    page.goto(f"{url}/{path}")
    wait_rendered(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}.png"), full_page=True)
    assert page.locator("h1").first.inner_text().strip() == heading
    assert page.locator('[data-testid="stException"]').count() == 0
    widths = page.evaluate(WIDTHS_JS)  # (scrollWidth, visible width): none scrolls sideways
    assert all(scroll <= visible for scroll, visible in widths.values()), widths
    _accessible(page, axe, elsewhere, f"{label} at {WIDTH} px")


def test_every_page_is_accessible_on_a_phone(browser_page, axe, tmp_path):
    url, desktop = browser_page
    page = desktop.context.browser.new_page(viewport={"width": 390, "height": 844})
    elsewhere = foreign_requests(page)
    ready = [short_label(n) for n in REGISTRY if artifacts.Artifact(n).status().ready]
    try:
        for label, (path, _) in PAGES.items():
            page.goto(f"{url}/{path}")
            wait_rendered(page)
            if path == "live":  # with an upload answered, heatmaps included
                upload(page, [disagreed_test_image(tmp_path)])
                wait_for_predictions(page, ready)
                page.locator('img[alt*="Grad-CAM"]').nth(len(ready) - 1).wait_for(timeout=120_000)
                wait_rendered(page)
            _accessible(page, axe, elsewhere, f"{label} at 390 px")
    finally:
        page.close()


def test_mcnemar_table_shows_its_four_counts_in_full(browser_page):
    url, page = browser_page
    page.goto(f"{url}/comparison")
    wait_rendered(page)
    table = page.locator('[data-testid="stTable"]').first
    table.scroll_into_view_if_needed()
    cells = page.evaluate(
        """() => [...document.querySelector('[data-testid="stTable"]').querySelectorAll('td')]
        .filter(td => /^[0-9,]+$/.test(td.textContent.trim()))
        .map(td => [td.textContent.trim(), td.scrollWidth, td.clientWidth,
                    td.getBoundingClientRect().right])"""
    )
    assert len(cells) == 4, cells  # both right, A only, B only, both wrong
    n_test = len(artifacts.Artifact("custom").predictions()["y_true"])
    assert sum(int(text.replace(",", "")) for text, *_ in cells) == n_test
    assert all(scroll <= width and right <= WIDTH for _, scroll, width, right in cells), cells


def test_keyboard_reaches_the_controls_with_a_visible_focus_and_opens_the_link_box(browser_page):
    url, page = browser_page
    page.goto(f"{url}/per_class")
    wait_rendered(page)
    page.locator('input[aria-label="Model"]').wait_for(timeout=30_000)
    page.locator('[data-testid="stPlotlyChart"] .modebar').first.wait_for(state="attached")
    wait_settled(page)
    page.locator("h1").first.click()  # start from the page, not the address bar
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => { const e = document.activeElement; const s = getComputedStyle(e);
                const name = e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30);
                return [e.tagName, name, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
                        || s.boxShadow !== 'none'] }"""
            )
        )
    # A rerun that redraws the element holding the focus drops it to <body> (no ring to show):
    # that is the page moving, not an invisible focus ring; the next Tab starts over.
    dropped = [r for r in reached if r[0] == "BODY"]
    assert len(dropped) <= 5, reached
    assert all(visible for tag, _, visible in reached if tag != "BODY"), [
        r for r in reached if not r[2] and r[0] != "BODY"
    ]
    names = " | ".join(str(name) for _, name, _ in reached)
    assert "Copy link" in names and "Model" in names, names  # the link box and the model picker
    page.get_by_role("button", name="Copy link").focus()
    page.keyboard.press("Enter")
    page.locator('[data-testid="stCode"]').first.wait_for(timeout=10_000)
    assert "/per_class" in page.locator('[data-testid="stCode"]').first.inner_text()


def test_live_notes_and_cards_keep_their_lines_at_1280_px(browser_page, tmp_path):
    url, page = browser_page
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    page.goto(f"{url}/live")
    wait_rendered(page)
    upload(page, [disagreed_test_image(tmp_path)])
    wait_for_predictions(page, [short_label(n) for n in ready])
    wait_rendered(page)
    note = page.locator(
        '[data-testid="stAlert"]', has_text=re.compile("The models disagree|All models agree")
    )
    column = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()["width"]
    # The verdict once sat in the picture's ~60 px column, one word per line.
    assert note.bounding_box()["width"] / column > 0.5
    # A full model title ("Model 2 (12-layer VGG, optimised)") wrapped over three lines.
    cards = dict(page.evaluate(CARD_LINES_JS))
    assert len(cards) == len(ready), cards
    assert {card: round(lines) for card, lines in cards.items()} == dict.fromkeys(cards, 1)

    # "Abstain below p" at its top (1.0): every answer is marked "not sure", and stays shown.
    page.get_by_role("slider", name="Abstain below p").press("End")
    page.get_by_text("not sure").nth(len(ready) - 1).wait_for(timeout=120_000)
    wait_rendered(page)
    assert page.get_by_text("not sure").count() == len(ready)
    # One set of cards: those drawn while models warmed up once stayed below the new ones.
    assert len(page.evaluate(CARD_LINES_JS)) == len(ready)


def test_uploaded_image_gets_every_models_prediction(browser_page, axe, elsewhere, tmp_path):
    url, page = browser_page
    elsewhere.clear()
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
    wait_for_predictions(page, [short_label(name) for name in ready])
    assert page.get_by_text("notes.jpg: not a recognised image file").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    # Every model's Grad-CAM map, all drawn the same size, each saying what it shows.
    page.locator('img[alt*="Grad-CAM"]').nth(len(ready) - 1).wait_for(timeout=120_000)
    sizes = page.evaluate(HEATMAP_SIZES_JS)
    assert len(sizes) == len(ready) and len(set(map(tuple, sizes))) == 1, sizes
    alts = page.locator('img[alt*="Grad-CAM"]').evaluate_all("els => els.map(e => e.alt)")
    assert all("red_car.png, predicted" in alt for alt in alts), alts
    _accessible(page, axe, elsewhere, f"Live with answers at {WIDTH} px")
    page.screenshot(path=str(SCREENSHOTS / "live_uploaded.png"), full_page=True)
    assert Path(SCREENSHOTS / "live_uploaded.png").stat().st_size > 0


def _padded_png(path: Path, size: int) -> Path:
    """A real PNG (a red picture) padded with zeros after its end to exactly `size` bytes:
    Pillow ignores what follows the image, so the models would classify it if it got through."""
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 20, 20)).save(buf, format="PNG")
    data = buf.getvalue()
    path.write_bytes(data + bytes(size - len(data)))
    return path


@contextlib.contextmanager
def _upload_requests(page):
    """The requests the page sends to Streamlit's upload endpoint (/_stcore/upload_file/...)."""
    sent = []

    def record(request):
        if "/_stcore/upload_file/" in request.url and request.method == "PUT":
            sent.append(request)

    page.on("request", record)
    try:
        yield sent
    finally:
        page.remove_listener("request", record)


def _upload_on_live(page, url: str, file: Path):
    """Open the Live page and upload ``file``: (its chip in the uploader, the chip's error icon)."""
    page.goto(f"{url}/live")
    wait_rendered(page)
    upload(page, [file])
    chip = page.locator('[data-testid="stFileChip"]', has_text=file.name)
    return chip, chip.locator('[data-testid="stFileChipIconError"]')


def test_an_upload_over_the_cap_is_refused_by_the_browser_and_never_sent(browser_page, tmp_path):
    url, page = browser_page
    huge = _padded_png(tmp_path / "huge.png", MAX_BYTES + 1)
    with _upload_requests(page) as sent:
        chip, refused = _upload_on_live(page, url, huge)
        refused.or_(page.get_by_text("what the models see (32x32)")).first.wait_for(timeout=60_000)
        wait_rendered(page)
        page.wait_for_timeout(1_000)  # time for a request the browser would still send
        assert refused.count() == 1
        assert TOO_LARGE in chip.inner_text()
        assert sent == [], "the browser must not send a file over the cap to the server"
    # The script saw no file at all: no prediction, no error of core.data.images, no exception.
    assert page.get_by_text("Upload one or more images to classify them.").count() == 1
    assert page.locator('[class*="st-key-pred_"]').count() == 0
    assert page.locator(".studio-answer").count() == 0
    assert page.get_by_text("what the models see (32x32)").count() == 0
    assert page.locator('[data-testid="stAlert"]', has_text="huge.png").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0


def test_an_upload_under_the_cap_is_classified_and_the_server_refuses_one_over_it_unread(
    browser_page, tmp_path
):
    url, page = browser_page
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    # 19 MiB: under the cap whether the browser counts MB as 10^6 or 2^20 bytes.
    near = _padded_png(tmp_path / "near_cap.png", 19 * 2**20)
    with _upload_requests(page) as sent:
        chip, refused = _upload_on_live(page, url, near)
        shown = page.get_by_text("what the models see (32x32)")
        shown.or_(refused).first.wait_for(timeout=120_000)
        assert refused.count() == 0, chip.inner_text()
        wait_for_predictions(page, [short_label(name) for name in ready])
        wait_rendered(page)
        assert len(sent) == 1
        assert sent[0].response().status == 204
    assert page.locator('[data-testid="stAlert"]', has_text="near_cap.png").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0

    # A client that skips the browser's check (curl, a script) and announces one byte over the
    # cap: the server answers 413 from the request's headers, without waiting for a byte of the
    # body, so the file is never held in memory. The session and XSRF token are the page's own.
    put = urlsplit(sent[0].url)
    headers = sent[0].all_headers()
    conn = http.client.HTTPConnection(put.hostname, put.port, timeout=15)
    try:
        conn.putrequest("PUT", put.path.rsplit("/", 1)[0] + "/over-the-cap")
        conn.putheader("Content-Type", headers["content-type"])
        conn.putheader("Content-Length", str(MAX_BYTES + 1))
        conn.putheader("X-Xsrftoken", headers["x-xsrftoken"])
        conn.putheader("Cookie", headers["cookie"])
        conn.endheaders()  # no body follows
        try:
            response = conn.getresponse()
        except TimeoutError:
            pytest.fail("the server waited for the body of an upload announced over the cap")
        assert (response.status, response.read()) == (413, b"File too large")
    finally:
        conn.close()


def test_agreement_page_counts_the_patterns_and_a_box_over_a_bar_shows_its_images(browser_page):
    from core.analysis import agreement
    from core.reporting.palette import short_label

    url, page = browser_page
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    preds = {n: artifacts.Artifact(n).predictions() for n in ready}
    y_true = preds[ready[0]]["y_true"]
    same = {n: p["probs"] for n, p in preds.items() if len(p["y_true"]) == len(y_true)}
    correct = agreement.correctness(y_true, same)
    table = agreement.patterns(
        correct, {n: short_label(n) for n in same}, agreement.default_groups(same)
    )
    counts = dict(zip(table["pattern"], table["images"], strict=True))

    page.goto(f"{url}/agreement")
    wait_rendered(page)
    summary = page.locator("p", has_text="All right:").first.inner_text()
    assert f"All right: {counts['all right']:,} · all wrong: {counts['all wrong']:,}" in summary
    bars = page.locator(".js-plotly-plot .barlayer .point")
    bars.first.wait_for(timeout=60_000)
    assert bars.count() == min(20, len(table))
    # The page first shows the largest pattern but "all right" (bar 0 or 1); click bar 2.
    third = table["pattern"][2]
    assert page.get_by_text(f"{third}: {counts[third]:,} test images").count() == 0
    # A box dragged over the bar selects it (a plain click selects nothing in Streamlit's chart).
    box = bars.nth(2).bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] - 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 1, steps=8)
    page.mouse.up()
    page.get_by_text(f"{third}: {counts[third]:,} test images").wait_for(timeout=60_000)
    wait_rendered(page)
    assert page.locator('[data-testid="stException"]').count() == 0

"""Links to a view and the embedding map, in a real Chromium against `streamlit run dashboard.py`:
a copied link opens the same view in another browser; a region of the map shows its images;
an uploaded image lands on the map among its nearest test images."""

import re

import pytest
from PIL import Image

from core.analysis import embedding
from core.models.registry import REGISTRY
from core.store import artifacts
from core.store.samples import load_test_images
from tests.browser_harness import fresh_server_and_browser, wait_rendered

pytestmark = [pytest.mark.browser, pytest.mark.slow]
READY = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
MAPPED = [n for n in READY if embedding.load(n) is not None]
MAP_MODEL = "vgg12" if "vgg12" in MAPPED else (MAPPED or [None])[0]


@pytest.fixture(scope="module")
def browser_page():
    with fresh_server_and_browser() as (url, page):
        yield url, page


def _combo(page, label: str) -> str:
    """The value a selectbox shows."""
    return page.get_by_role("combobox", name=label).input_value()


def _copied_link(page) -> str:
    page.get_by_role("button", name=re.compile("Copy link")).first.click()
    code = page.locator('[data-testid="stCode"]').first
    code.wait_for(timeout=30_000)
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def _open(page, url: str) -> None:
    page.goto(url)
    wait_rendered(page)


# (page path, link query, {selectbox label: the value it must show})
VIEWS = [
    (
        "per_class",
        "model=vgg12_opt&true=truck&pred=automobile",
        {
            "Model": "Model 2 (12-layer VGG, optimised)",
            "True class": "truck",
            "Predicted class": "automobile",
        },
    ),
    ("trust", "corruption=jpeg&severity=4", {"Corruption": "JPEG re-compression"}),
]


def test_a_copied_link_opens_the_same_view_in_another_browser(browser_page):
    url, page = browser_page
    for path, query, shown in VIEWS:
        _open(page, f"{url}/{path}?{query}")
        assert {label: _combo(page, label) for label in shown} == shown, path
        link = _copied_link(page)
        assert link == f"{url}/{path}?{query}"
        # Another browser: a new context shares no cookies or session with the first.
        other = page.context.browser.new_context().new_page()
        _open(other, link)
        assert {label: _combo(other, label) for label in shown} == shown, path
        if path == "trust":
            assert other.get_by_text("JPEG re-compression, severity 4").count() == 1
            # The risk-coverage chart is drawn, one curve per ready model.
            chart = other.locator(".st-key-risk_coverage .js-plotly-plot")
            chart.wait_for(timeout=60_000)
            assert chart.locator(".legend .traces").count() == len(READY)
        other.context.close()

    # Changing the view changes the link: pick another model on the Per-class page.
    _open(page, f"{url}/per_class?model=vgg12_opt&true=truck&pred=automobile")
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="Custom CNN").click()
    wait_rendered(page)
    page.wait_for_function("() => location.search.includes('model=custom')")
    assert _copied_link(page) == f"{url}/per_class?model=custom&true=truck&pred=automobile"

    # A value that is not an option is ignored, not an error.
    _open(page, f"{url}/per_class?model=no_such_model&true=truck")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert _combo(page, "True class") == "truck"


@pytest.mark.skipif(MAP_MODEL is None, reason="no shipped model has an embedding map")
def test_the_map_shows_a_selected_region_and_places_an_upload(browser_page, tmp_path):
    samples = load_test_images()
    row = 3
    photo = tmp_path / "test3.png"
    Image.fromarray(samples.images[row]).save(photo)
    url, page = browser_page
    _open(page, f"{url}/embedding?model={MAP_MODEL}&colour=correct&image={row}")
    assert _combo(page, "Map of") == REGISTRY[MAP_MODEL].title
    assert _combo(page, "Colour by") == "right or wrong"
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=60_000)
    assert page.get_by_text(f"test image {row}").count() >= 1  # the star's label

    # A lasso around the middle of the map selects a region: its images and counts appear.
    box = plot.locator(".nsewdrag").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    r = min(box["width"], box["height"]) / 6
    page.mouse.move(cx - r, cy - r)
    page.mouse.down()
    for x, y in [(cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r), (cx - r, cy - r)]:
        page.mouse.move(x, y, steps=5)
    page.mouse.up()
    selected = page.get_by_text(re.compile(r"[\d,]+ images selected"))
    selected.wait_for(timeout=60_000)
    n = int(re.search(r"([\d,]+) images selected", selected.inner_text())[1].replace(",", ""))
    assert 0 < n < len(samples)
    captions = page.locator('[data-testid="stImageCaption"]', has_text="test image")
    captions.nth(min(n, 48)).wait_for(timeout=60_000)
    wait_rendered(page)
    assert captions.count() == 1 + min(n, 48)  # the marked image, the first 48 of the region
    assert page.get_by_text(f"Test image {row}, marked with a star").count() == 1

    # A shipped test image uploaded lands on the map where that test image is, so its
    # nearest test images start with itself.
    page.get_by_text("Place your own image on the map").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
    heading = page.get_by_text(re.compile(r"Its \d+ nearest test images"))
    heading.wait_for(timeout=120_000)
    wait_rendered(page)
    captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
    assert captions[0].startswith("your image")
    assert captions[1] == f"test image {row}"  # the nearest: itself

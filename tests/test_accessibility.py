"""What a viewer who cannot see a chart, or reads with a screen reader, gets from each page.

The axe-core audit of the real pages in Chromium, at 1280 and 390 px, is in test_browser.py
(beside the other checks of the same server); here: every page's tables, charts and images as
the dashboard sends them (AppTest, with the shipped artifacts), and the helpers behind them.
"""

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core.reporting import charts
from core.reporting.figure_data import figure_table
from core.store import artifacts
from ui.tables import MISSING, with_gaps_filled

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
# Every file that draws: the pages and the ui modules they call (ui.figures is the one place
# that may call st.plotly_chart).
DRAWING = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])


def _frame(element) -> pd.DataFrame:
    return pa.ipc.open_stream(element.proto.arrow_data.data).read_all().to_pandas()


def _calls(name: str):
    """(file, call node) of every ``<something>.<name>(...)`` call in pages/ and ui/."""
    for path in DRAWING:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == name:
                yield f"{path.parent.name}/{path.name}", node


@pytest.fixture(scope="module")
def every_page():
    """Each page's AppTest run with the shipped artifacts, one session for all of them."""
    env = pytest.MonkeyPatch()
    env.delenv(artifacts.ARTIFACTS_ENV, raising=False)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180).run()
    runs = {}
    for page in PAGES:
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        runs[page] = {
            "frames": [_frame(df) for df in at.dataframe],
            "charts": [c.proto for c in at.get("plotly_chart")],
            "expanders": [e.label for e in at.expander],
            "images": [img for el in at.get("image") for img in el.proto.imgs],
        }
    env.undo()
    return runs


def test_no_table_on_any_page_has_a_cell_the_grid_would_draw_as_none(every_page):
    # Streamlit's grid draws a missing value as "None" whatever a Styler's na_rep says: the
    # Overview's reference rows once read "None" for precision, recall and F1.
    gaps = {
        (page, i): list(frame.columns[frame.isna().any()])
        for page, run in every_page.items()
        for i, frame in enumerate(run["frames"])
        if frame.isna().values.any()
    }
    assert not gaps, gaps
    assert sum(len(run["frames"]) for run in every_page.values()) >= 10


def test_every_chart_has_a_title_and_its_numbers_in_a_table_beside_it(every_page):
    import json

    shown = 0
    for page, run in every_page.items():
        for proto in run["charts"]:
            figure = json.loads(proto.spec)
            title = (figure["layout"].get("title") or {}).get("text")
            assert title, (page, "a chart without a title")
            has_numbers = any(t.get("type") != "image" for t in figure["data"])
            if has_numbers:
                assert f"Show data: {title.split('<br>')[0]}" in run["expanders"], (page, title)
            shown += 1
    assert shown >= 12, shown


def test_every_image_says_what_it_shows(every_page):
    images = [(page, img) for page, run in every_page.items() for img in run["images"]]
    assert len(images) >= 24, "the pages show their test images"
    missing = [(page, img.caption) for page, img in images if not img.alt.strip()]
    assert not missing, missing
    # A text alternative names the image's content, not its file.
    assert not [img.alt for _, img in images if img.alt.lower().endswith((".png", ".jpg"))]
    assert any("Test image" in img.alt and ", a " in img.alt for _, img in images)


def test_every_image_and_chart_call_in_the_pages_goes_the_accessible_way():
    # Pages the AppTest run above cannot reach (an upload's cards, Grad-CAM on request) too.
    no_alt = [
        (page, node.lineno)
        for page, node in _calls("image")
        if not any(k.arg == "alt" for k in node.keywords)
    ]
    assert not no_alt, f"st.image without alt=: {no_alt}"
    direct = [
        (page, node.lineno) for page, node in _calls("plotly_chart") if page != "ui/figures.py"
    ]
    assert not direct, f"charts drawn without ui.figures.chart (no title/data table): {direct}"


def test_a_figures_table_holds_its_numbers():
    cm = np.arange(100).reshape(10, 10)
    grid = figure_table(charts.confusion_figure(cm, title="t"))
    assert grid.shape == (10, 10)
    assert grid.loc["cat", "dog"] == cm[3, 5]
    bars = figure_table(
        charts.outcome_figure(
            pd.DataFrame({"outcome": ["both right", "both wrong"], "images": [7, 3]})
        )
    )
    assert bars.to_dict("list") == {"images": [7, 3], "label (y)": ["both right", "both wrong"]}
    assert figure_table(charts.examples_grid_figure(np.zeros((2, 2, 3), np.uint8))) is None


def test_gaps_become_dashes_and_the_rest_keeps_its_format():
    frame = pd.DataFrame({"model": ["a", "b"], "f1": [0.91234, None], "acc": [0.5, 0.25]})
    shown = with_gaps_filled(frame, {"f1": "{:.3f}", "acc": "{:.3f}"})
    assert shown["f1"].tolist() == ["0.912", MISSING]
    assert shown["acc"].tolist() == [0.5, 0.25]  # no gap: stays a number, sortable
    assert not math.isnan(shown["acc"].sum())

"""The pages that show stored results render without importing TensorFlow or Keras.

Importing TensorFlow made the Overview's first render about 4x slower than a bare Streamlit page
(issue #20). The pages run, through dashboard.py as a user reaches them, over the shipped
artifacts in a fresh interpreter, which reports after each page whether TensorFlow or Keras got
imported; after a page that imports them, the rest run in a new interpreter.
Only what a user asks for (a Grad-CAM toggle, "Measure latency", the report) may load them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.store.artifacts import ARTIFACTS_ENV

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "artifacts"
PAGES = {  # page -> its title
    "pages/overview.py": "CIFAR-10 CNN studio",
    "pages/comparison.py": "Model comparison",
    "pages/agreement.py": "Agreement sets",
    "pages/per_class.py": "Per-class metrics and confusion matrices",
    "pages/mistakes.py": "Where the models fail",
    "pages/trust.py": "Calibration and robustness",
    "pages/report.py": "Report and model cards",
}

# argv: dashboard.py, the page, and optionally a stored latency benchmark to read instead of
# bench/latency.json. Prints what the page showed and which of TensorFlow and Keras it imported.
RUN_PAGE = """
import json, sys
from pathlib import Path
from streamlit.testing.v1 import AppTest

if len(sys.argv) > 3:
    import core.analysis.compare
    core.analysis.compare.LATENCY_FILE = Path(sys.argv[3])
at = AppTest.from_file(sys.argv[1], default_timeout=240).run()
at.switch_page(sys.argv[2]).run()
from tests.page_tables import table_with
table = table_with(at, "name", "latency (ms/image)")
print(json.dumps({
    "exceptions": [str(e.value) for e in at.exception],
    "titles": [str(t.value) for t in at.title],
    "buttons": [b.label for b in at.button],
    "latency": dict(zip(table["name"], table["latency (ms/image)"].astype(object).where(
        table["latency (ms/image)"].notna(), None))),
    "imported": [m for m in ("tensorflow", "keras") if m in sys.modules],
}))
"""


# argv: dashboard.py, then pages. Prints one JSON line per page until one imports TensorFlow.
RUN_PAGES = """
import json, sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=240).run()
for page in sys.argv[2:]:
    at.switch_page(page).run()
    imported = [m for m in ("tensorflow", "keras") if m in sys.modules]
    print(json.dumps({
        "page": page,
        "exceptions": [str(e.value) for e in at.exception],
        "titles": [str(t.value) for t in at.title],
        "imported": imported,
    }), flush=True)
    if imported:
        break
"""


def _env() -> dict:
    env = {**os.environ, ARTIFACTS_ENV: str(SHIPPED)}
    env.pop("CIFAR10_STUDIO_VIEWER", None)
    return env


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    """page -> what it showed and imported, each page judged in an interpreter that had not
    imported TensorFlow before it."""
    results, left = {}, list(PAGES)
    while left:
        done = subprocess.run(
            [sys.executable, "-c", RUN_PAGES, str(ROOT / "dashboard.py"), *left],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert lines, done.stderr[-3000:]
        results |= {line["page"]: line for line in lines}
        left = left[len(lines) :]
    return results


def _run_page(page: str, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", RUN_PAGE, str(ROOT / "dashboard.py"), page, *extra],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["exceptions"], result["exceptions"]
    return result


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_without_tensorflow(rendered, page):
    result = rendered[page]
    assert not result["exceptions"], result["exceptions"]
    assert result["titles"] == [PAGES[page]], "the page itself rendered"
    assert result["imported"] == [], f"{page} imported {' and '.join(result['imported'])}"


def test_comparison_shows_stored_latency_of_the_artifacts_it_timed(tmp_path):
    """Latency comes from the stored benchmark for the artifacts it timed (same config.json
    "finished"), without TensorFlow; a retrained model's old number is not shown."""
    ready = [p.name for p in sorted(SHIPPED.iterdir()) if (p / "config.json").is_file()]
    fresh, stale = ready[0], ready[1]
    finished = {n: json.loads((SHIPPED / n / "config.json").read_text())["finished"] for n in ready}
    stored = tmp_path / "latency.json"
    models = {
        fresh: {"p50_ms": 1.5, "finished": finished[fresh]},
        stale: {"p50_ms": 2.5, "finished": "an earlier run"},
    }
    stored.write_text(json.dumps({"machine": "test", "models": models}))
    result = _run_page("pages/comparison.py", str(stored))
    assert result["latency"][fresh] == 1.5
    assert result["latency"][stale] is None, "shown as -"
    assert "Measure latency" in result["buttons"], "some models have no stored number"
    assert result["imported"] == []


def test_comparison_without_stored_latency_offers_to_measure_it(tmp_path):
    result = _run_page("pages/comparison.py", str(tmp_path / "no-such-file.json"))
    assert set(result["latency"].values()) == {None}
    assert "Measure latency" in result["buttons"]

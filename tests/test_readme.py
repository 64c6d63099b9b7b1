"""The README is for users: short, its results table generated from the artifacts, its links live.

When a model's artifact changes (or a new one appears), `python bench/results_table.py --write`
brings the README's table up to date; the first test fails until it is run.
"""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The user-facing documents and where they live; their relative links must point at real files.
DOCS = [
    README,
    ROOT / "docs" / "deployment.md",
    ROOT / "docs" / "models.md",
    ROOT / "bench" / "README.md",
]
# Produced later by the screenshot script; the README may point at it before it exists.
NOT_YET = {ROOT / "docs" / "screenshots" / "overview-1280.png"}
MAX_LINES = 200
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "results_table", ROOT / "bench" / "results_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_table = _load_script()


def test_readme_results_table_is_the_one_generated_from_the_artifacts():
    text = README.read_text(encoding="utf-8")
    assert text.count(results_table.START) == 1 and text.count(results_table.END) == 1
    expected = results_table.results_table(ROOT / "artifacts")
    assert results_table.readme_table(text) == expected, (
        "README.md's results table is out of date: run `python bench/results_table.py --write`"
    )


def test_readme_is_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; at most {MAX_LINES}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_of_the_building_machine(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def _relative_links(doc: Path) -> list[str]:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)  # https:, mailto:, ...
    ]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_in_the_repository(doc):
    links = _relative_links(doc)
    if doc == README:
        assert "docs/screenshots/overview-1280.png" in links
        for needed in ("docs/deployment.md", "docs/models.md", "bench/README.md"):
            assert needed in links, f"README.md does not link {needed}"
    broken = []
    for link in links:
        path, _, fragment = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if target in NOT_YET:
            continue
        missing = not target.is_relative_to(ROOT) or not target.exists()
        no_anchor = bool(fragment) and target.suffix == ".md" and fragment not in _anchors(target)
        if missing or (not missing and no_anchor):
            broken.append(link)
    assert broken == []


def test_the_table_follows_the_artifacts_folder(tmp_path):
    def ready(name, accuracy, command, config=True):
        folder = tmp_path / name
        folder.mkdir()
        metrics = {
            "accuracy": accuracy,
            "f1_macro": 0.5,
            "reference_style": {"precision": 0.61234, "recall": 0.5, "f1": 0.55},
        }
        (folder / "metrics.json").write_text(json.dumps(metrics))
        if config:
            (folder / "config.json").write_text(json.dumps({"command": command}))

    ready("vgg16_transfer", 0.9, "python -m core.train vgg16_transfer --data=/srv/c10 --weights w")
    ready("vgg12", 0.83216, "python -m core.train vgg12 --data ../shared/datasets/cifar10-jpeg")
    ready("custom", 0.7, "python -m core.train custom", config=False)  # not ready: no config
    (tmp_path / "test_images.npz").write_bytes(b"")
    rows = results_table.results_table(tmp_path).splitlines()[2:]
    assert len(rows) == 2
    assert rows[0].startswith("| Model 1 (12-layer VGG), `vgg12` | 0.8322 | 0.5000 |")
    assert "| 0.612 / 0.500 / 0.550 | 0.7415 |" in rows[0]
    assert rows[0].endswith("| `python -m core.train vgg12 --data PATH` |")
    assert rows[1].startswith("| VGG16 transfer, `vgg16_transfer` | 0.9000 |")
    assert rows[1].endswith(
        "| - | `python -m core.train vgg16_transfer --data=PATH --weights FILE` |"
    )


def test_write_replaces_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\nbefore\n{results_table.START}\nold\n{results_table.END}\nafter\n")
    assert results_table.write_readme("| a |\n|---|", readme)
    assert readme.read_text() == (
        f"# T\n\nbefore\n{results_table.START}\n| a |\n|---|\n{results_table.END}\nafter\n"
    )
    assert not results_table.write_readme("| a |\n|---|", readme)


def test_the_script_does_not_import_tensorflow():
    if importlib.util.find_spec("core.models.registry") is None:
        pytest.skip("no TensorFlow-free core.models.registry in this checkout")
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('rt', 'bench/results_table.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.results_table()\n"
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _screenshots_script():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "bench" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screenshots_show_the_shipped_artifacts():
    """Each screenshot in docs/screenshots was taken of today's artifacts (its manifest entry is
    the fingerprint of every shipped model's metrics.json), else it must be retaken."""
    shots = _screenshots_script()
    folder = ROOT / "docs" / "screenshots"
    manifest = json.loads((folder / shots.MANIFEST).read_text())
    now = shots.artifacts_shown(ROOT / "artifacts")
    stale = {}
    for png in sorted(p.name for p in folder.glob("*.png")):
        taken = manifest["shots"].get(png)
        if taken != shots.fingerprint(now):
            then = manifest["artifacts"].get(taken, {})
            stale[png] = sorted(m for m in now if then.get(m) != now[m]) or "not in manifest"
    assert stale == {}, (
        f"screenshots of older artifacts (changed models): {stale}; "
        "retake them with `python bench/screenshots.py`"
    )

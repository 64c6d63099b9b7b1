"""The layout docs/architecture.md promises: pages reach core only through ui, core never
imports Streamlit or ui, and each core layer imports only the layers below it."""

import ast
from pathlib import Path

from ui import api

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    "io",
    "data",
    "weights",
    "models",
    "store",
    "analysis",
    "serving",
    "training",
    "reporting",
]
# (importing module, imported module): the one import that goes up a layer, inside the function
# that needs it (robustness runs the models as the Live page does).
UPWARD_ALLOWED = {("core.analysis.robustness", "core.serving.predictor")}


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def test_pages_and_the_entry_point_import_core_only_through_ui():
    scripts = [*sorted((ROOT / "pages").glob("*.py")), ROOT / "dashboard.py"]
    offenders = {
        str(p.relative_to(ROOT)): [m for m in imported_modules(p) if m.split(".")[0] == "core"]
        for p in scripts
    }
    assert {p: m for p, m in offenders.items() if m} == {}


def test_core_never_imports_streamlit_or_ui():
    offenders = [
        (str(p.relative_to(ROOT)), m)
        for p in sorted((ROOT / "core").rglob("*.py"))
        for m in imported_modules(p)
        if m.split(".")[0] in ("streamlit", "ui")
    ]
    assert offenders == []


def test_each_layer_imports_only_the_layers_below_it():
    upward = []
    for layer in LAYERS:
        for path in sorted((ROOT / "core" / layer).glob("*.py")):
            module = f"core.{layer}.{path.stem}"
            for target in imported_modules(path):
                parts = target.split(".")
                if parts[0] != "core" or len(parts) < 2 or parts[1] not in LAYERS:
                    continue
                if LAYERS.index(parts[1]) > LAYERS.index(layer):
                    upward.append((module, ".".join(parts[:3])))
    assert set(upward) <= UPWARD_ALLOWED, sorted(set(upward) - UPWARD_ALLOWED)


def test_every_name_the_pages_take_from_ui_api_exists_in_core():
    assert [name for name in api.__all__ if getattr(api, name, None) is None] == []

"""The layout docs/architecture.md promises: pages reach core only through ui, core never
imports Streamlit or ui, each core layer imports only the layers below it, and no core module
imports one that imports it back. Imports inside functions count."""

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


def module_graph(package: Path) -> dict[str, set[str]]:
    """Which modules of ``package`` each of its modules imports, at the top or inside a function,
    relative imports resolved. ``from a.b import c`` imports ``a.b.c`` when that is a module, else
    ``a.b``; importing ``a.b.c`` also runs the packages ``a`` and ``a.b`` (their ``__init__``)."""
    paths = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def with_packages(name: str) -> set[str]:
        parts = name.split(".")
        return {".".join(parts[:n]) for n in range(1, len(parts) + 1)} & paths.keys()

    graph = {}
    for module, path in paths.items():
        # A relative import starts from the package itself (in an __init__) or the module's own.
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    imported |= with_packages(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    name = f"{base}.{alias.name}"
                    imported |= with_packages(name if name in paths else base)
        graph[module] = imported - {module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle (``[a, b, a]``) through each group of modules that import each other."""

    def path(start: str, goal: str) -> list[str] | None:
        """The shortest import chain start -> ... -> goal, breadth first."""
        came_from, todo = {start: None}, [start]
        for module in todo:
            for target in sorted(graph[module]):
                if target == goal:
                    chain = [goal, module]
                    while came_from[chain[-1]] is not None:
                        chain.append(came_from[chain[-1]])
                    return chain[::-1]
                if target not in came_from:
                    came_from[target] = module
                    todo.append(target)
        return None

    cycles, seen = [], set()
    for module in sorted(graph):
        cycle = None if module in seen else path(module, module)
        if cycle:
            cycles.append(cycle)
            seen |= {other for other in graph if path(module, other) and path(other, module)}
    return cycles


def layer_rank(module: str) -> int:
    """Where ``module`` sits: the ``core`` package lowest, then LAYERS in order, and the
    command-line entry points (``core/*.py``) above every layer."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else len(LAYERS)


def test_core_has_no_import_cycle():
    assert import_cycles(module_graph(ROOT / "core")) == []


def test_each_layer_imports_only_the_layers_below_it():
    upward = sorted(
        (module, target)
        for module, targets in module_graph(ROOT / "core").items()
        for target in targets
        if layer_rank(target) > layer_rank(module)
    )
    assert upward == []


def test_the_import_checks_see_function_level_and_relative_imports(tmp_path):
    package = tmp_path / "core"
    for folder in ("models", "serving"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "models" / "a.py").write_text("from . import b\n")
    (package / "models" / "b.py").write_text("def f():\n    from .c import x\n")
    (package / "models" / "c.py").write_text("def g():\n    import core.models.a\n")
    (package / "models" / "d.py").write_text("def h():\n    from ..serving import e\n")
    (package / "serving" / "e.py").write_text("from core.models.d import h\n")
    graph = module_graph(package)
    assert graph["core.models.a"] == {"core", "core.models", "core.models.b"}
    assert import_cycles(graph) == [
        ["core.models.a", "core.models.b", "core.models.c", "core.models.a"],
        ["core.models.d", "core.serving.e", "core.models.d"],
    ]
    upward = {
        (m, t) for m, targets in graph.items() for t in targets if layer_rank(t) > layer_rank(m)
    }
    assert upward == {("core.models.d", "core.serving"), ("core.models.d", "core.serving.e")}


def test_every_name_the_pages_take_from_ui_api_exists_in_core():
    assert [name for name in api.__all__ if getattr(api, name, None) is None] == []

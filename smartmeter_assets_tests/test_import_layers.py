"""The package's imports point down the layers: no two packages import each other.

A unit is a top-level package or module of ``smartmeter_assets`` (``kafka``, ``stream``,
``headless``...), and each ``defs/<system>`` folder on its own. Imports inside functions count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "smartmeter_assets"


def unit(module: str) -> str | None:
    parts = module.split(".")[1:]
    if not parts:
        return None
    return ".".join(parts[:2]) if parts[0] == "defs" and len(parts) > 1 else parts[0]


def import_edges() -> set[tuple[str, str]]:
    edges = set()
    for path in PACKAGE.rglob("*.py"):
        importer = unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                imported = unit(name) if name.startswith("smartmeter_assets.") else None
                if importer and imported and imported != importer:
                    edges.add((importer, imported))
    return edges


#: The layers, bottom first (the README's Development section draws them). A unit imports only
#: units of its own layer or below; within a layer, no cycle.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"contracts", "settings", "components"}),
    frozenset(
        {
            "lake",
            "sources",
            "enrich",
            "kafka",
            "stream",
            "reports",
            "sample_data",
            "supervision",
            "jars",
            "exit_status",
            "dagster_home",
            "dagster_event_log",
            "testbed",
        }
    ),
    frozenset({"defs.sources", "defs.kafka", "defs.lake", "defs.stream", "defs.reports"}),
    frozenset(
        {
            "definitions",
            "headless",
            "stream_run",
            "detector_run",
            "start_gate",
            "run_outcome",
            "embedded",
            "cluster",
            "cli",
        }
    ),
)


def layer_of(unit_name: str) -> int:
    for index, members in enumerate(LAYERS):
        if unit_name in members:
            return index
    raise AssertionError(f"{unit_name} is in no layer: add it to LAYERS (and to the README's drawing)")


def cycle_in(edges: set[tuple[str, str]]) -> list[str] | None:
    """One import cycle of any length, as the path that closes it, or None."""
    graph: dict[str, set[str]] = {}
    for importer, imported in edges:
        graph.setdefault(importer, set()).add(imported)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_package_import_cycle_of_any_length() -> None:
    cycle = cycle_in(import_edges())
    assert cycle is None, f"packages import each other: {' -> '.join(cycle or [])}"


def test_the_cycle_finder_finds_long_cycles() -> None:
    assert cycle_in({("a", "b"), ("b", "c"), ("c", "a")}) == ["a", "b", "c", "a"]
    assert cycle_in({("a", "b"), ("b", "c"), ("a", "c")}) is None


def test_imports_point_down_the_layers() -> None:
    upward = sorted(f"{a} -> {b}" for a, b in import_edges() if layer_of(a) < layer_of(b))
    assert upward == [], f"imports pointing up a layer: {upward}"


def test_the_bottom_layer_imports_nothing_of_ours_but_itself() -> None:
    bottom = {"contracts", "settings", "components"}
    upward = sorted(f"{a} -> {b}" for a, b in import_edges() if a in bottom and b not in bottom)
    assert upward == []


def test_the_benchmarks_import_the_package_never_the_tests() -> None:
    """What a benchmark shares with the tests (generators, landed lakes) lives in the package."""
    found = []
    for path in sorted((PACKAGE.parent / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}: {name}" for name in names if name.split(".")[0] == "smartmeter_assets_tests"]
    assert found == []


def test_loading_the_definitions_leaves_the_model_library_out() -> None:
    """scikit-learn (with SciPy, ~1 s) is imported where the forecast fits a model, not with the module.

    Every process that loads the definitions pays for what they import: ``smartmeter run``, the
    stream's run, the daemon's runs and code server. A fresh interpreter, so nothing is cached.
    """
    script = "import sys, smartmeter_assets.definitions; print(sorted({'sklearn', 'scipy'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip().splitlines()[-1] == "[]"

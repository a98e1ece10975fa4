"""The package's imports point down the layers: no two packages import each other.

A unit is a top-level package or module of ``smartmeter_assets`` (``kafka``, ``stream``,
``headless``...), and each ``defs/<system>`` folder on its own. Imports inside functions count too.
"""

from __future__ import annotations

import ast
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


def test_no_two_packages_import_each_other() -> None:
    edges = import_edges()
    cycles = sorted({" <-> ".join(sorted(edge)) for edge in edges if edge[::-1] in edges})
    assert cycles == [], f"packages import each other: {cycles}"


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

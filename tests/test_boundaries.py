"""Package boundaries: the hardware builds from shared formats, never from the driver; the software never needs the
hardware package to import (a driver-only install has no Amaranth)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFERRED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def imported_modules(tree: ast.AST, import_time_only: bool) -> list[tuple[int, str]]:
    """(line, module) of every import; with ``import_time_only``, not those inside functions (run later, if ever)."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        todo += [child for child in ast.iter_child_nodes(node)
                 if not (import_time_only and isinstance(child, DEFERRED))]
    return found


def offenders(package: Path, forbidden: str, import_time_only: bool) -> list[str]:
    return [f"{path.relative_to(package.parent)}:{line} imports {module}"
            for path in sorted(package.rglob("*.py"))
            for line, module in imported_modules(ast.parse(path.read_text(), str(path)), import_time_only)
            if module == forbidden or module.startswith(forbidden + ".")]


def test_the_checks_see_imports_where_they_are():
    tree = ast.parse("import eligo_hw.top\ndef f():\n    from eligo import driver\nclass C:\n    import eligo_hw")
    assert sorted(imported_modules(tree, import_time_only=False)) == [
        (1, "eligo_hw.top"), (3, "eligo"), (3, "eligo.driver"), (5, "eligo_hw")]
    assert sorted(imported_modules(tree, import_time_only=True)) == [(1, "eligo_hw.top"), (5, "eligo_hw")]


def test_hardware_never_imports_the_driver():
    assert (ROOT / "hw/eligo_hw/top.py").exists()
    assert offenders(ROOT / "hw/eligo_hw", "eligo.driver", import_time_only=False) == []


def test_software_never_imports_the_hardware_at_import_time():
    assert (ROOT / "sw/eligo/commands/build.py").exists()
    assert offenders(ROOT / "sw/eligo", "eligo_hw", import_time_only=True) == []

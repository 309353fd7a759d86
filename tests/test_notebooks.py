"""The notebooks in docs/notebooks: each executes top to bottom under nbmake on the simulated backends (its last
cell asserts on its numbers), is stored without outputs, and ships as package data for ``pynq get-notebooks``."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "docs/notebooks holds no notebook"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes(notebook):
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbmake", str(notebook), "-q", "-p", "no:xdist",
                             "-p", "no:cacheprovider"],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "CI": "true"})  # CI: figures drawn once, not redrawn live
    assert result.returncode == 0, f"{notebook.name} failed under nbmake:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    assert "1 passed" in result.stdout


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(notebook):
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert cells and all(not c.outputs and c.execution_count is None for c in cells), \
        f"{notebook.name}: clear the outputs before committing (outputs are regenerated in CI)"


def test_notebooks_ship_through_the_pynq_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module = project["project"]["entry-points"]["pynq.notebooks"]["eligo"]
    assert "*.ipynb" in project["tool"]["setuptools"]["package-data"][module]
    package = Path(importlib.import_module(module).__path__[0])
    assert sorted(p.name for p in package.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]

"""What every bench script does with its numbers: one JSON and one PNG under ``--out``, and the machine's load
recorded beside timed numbers (on a shared machine they are a lower bound).

The scripts run as ``python bench/<name>.py``, which puts this folder on the import path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import Callable


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("bench/results"),
                        help="folder for the JSON and the PNG (default bench/results)")


def machine_load() -> dict:
    """The 1-minute load average and the CPU count, to store with anything timed."""
    return {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}


def source_commit() -> str:
    """The commit the bench ran on, with '+dirty' when the tree has uncommitted changes to tracked files."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def write_results(out: Path, name: str, results: dict, plot: Callable[[dict, Path], object]) -> None:
    """Write ``<out>/<name>.json`` and ``<out>/<name>.png`` (drawn by ``plot(results, path)``), and say so."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / f"{name}.png")
    print(f"wrote {out / f'{name}.json'} and {out / f'{name}.png'}")

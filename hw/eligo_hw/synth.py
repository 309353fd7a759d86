"""Synthesis, place and route with the YoWASP tools, and the numbers a hardware engineer reads from it.

``place_and_route`` builds an elaboratable for an amaranth-boards platform and
returns Fmax and resource use parsed from nextpnr's JSON report (timing is
allowed to fail inside nextpnr so the report is always written; callers decide
from ``timing_met``). ``xilinx_estimate`` runs Yosys ``synth_xilinx`` on a
core's Verilog for parts without an open place and route here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.build.plat import Platform
from amaranth.hdl import Elaboratable

from eligo.toolchain import configure_environment

# Amaranth names an array view both as a whole (``x``) and by element (``x[3]``, itself several bits wide). Yosys
# 0.69-0.70's ABC9 reintegration reads a bit's symbol ``x[3]`` as bit 3 of ``x`` and, when both names reach ABC as
# symbols, joins a one-bit wire to a wide one and aborts (``GetSize(conn.first) == GetSize(conn.second)``). Which
# name a bit keeps changes with any edit, so the crash came and went with unrelated changes; element names made
# private before synthesis never collide. Only names change.
HIDE_ELEMENT_NAMES = "rename -hide w:*]"

# nextpnr bel types -> the resource classes of a summary, per family.
RESOURCE_CLASSES = {
    "ecp5": {"LUT": ("TRELLIS_COMB",), "FF": ("TRELLIS_FF",), "BRAM": ("DP16KD",), "DSP": ("MULT18X18D",),
             "IO": ("TRELLIS_IO",), "PLL": ("EHXPLLL",)},
    "ice40": {"LC": ("ICESTORM_LC",), "BRAM": ("ICESTORM_RAM",), "SPRAM": ("ICESTORM_SPRAM",),
              "DSP": ("ICESTORM_DSP",), "IO": ("SB_IO",), "PLL": ("ICESTORM_PLL",)},
}
# Yosys cell names -> resource classes of a synthesis-only estimate (xc7) or of a netlist's cell counts.
CELL_CLASSES = {
    "xc7": {"LUT": r"LUT[1-6]", "FF": r"FD[RSCP]E", "BRAM": r"RAMB(18|36)E1", "DSP": r"DSP48E1",
            "CARRY": r"CARRY4", "LUTRAM": r"RAM(32|64|128|256)[XM].*", "SRL": r"SRL.*"},
    "ice40": {"LUT": r"SB_LUT4", "FF": r"SB_DFF.*", "CARRY": r"SB_CARRY"},
}


@dataclass(frozen=True)
class SynthReport:
    board: str
    fmax_mhz: dict[str, float]
    constraint_mhz: dict[str, float]
    utilization: dict[str, tuple[int, int]]
    bitstream: str | None
    seed: int | None = None  # nextpnr's placement seed that placed it (None: its default)

    @property
    def min_fmax_mhz(self) -> float:
        return min(self.fmax_mhz.values())

    @property
    def timing_met(self) -> bool:
        return all(self.fmax_mhz[c] >= self.constraint_mhz[c] for c in self.fmax_mhz)

    def resources(self, family: str) -> dict[str, dict[str, int]]:
        """Used/available per resource class (LUT, FF, BRAM, DSP, ...) of the family."""
        classes = {}
        for name, bels in RESOURCE_CLASSES[family].items():
            used = sum(self.utilization.get(bel, (0, 0))[0] for bel in bels)
            available = sum(self.utilization.get(bel, (0, 0))[1] for bel in bels)
            classes[name] = {"used": used, "available": available}
        return classes

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def read_nextpnr_report(path: Path, board: str, bitstream: Path | None,
                        seed: int | None = None) -> SynthReport:
    report = json.loads(Path(path).read_text())
    fmax = {clk: round(v["achieved"], 2) for clk, v in report["fmax"].items()}
    constraint = {clk: round(v["constraint"], 2) for clk, v in report["fmax"].items()}
    util = {cell: (v["used"], v["available"]) for cell, v in report["utilization"].items()}
    return SynthReport(board, fmax, constraint, util, str(bitstream) if bitstream and bitstream.exists() else None,
                       seed)


def count_cells(stat_json: Path, family: str) -> dict[str, int]:
    """Cells of a Yosys ``stat -json`` report (top module, flattened) summed into resource classes."""
    text = Path(stat_json).read_text()
    report = json.loads(text[text.index("{"):])
    cells = report["design"]["num_cells_by_type"]
    return {name: sum(n for cell, n in cells.items() if re.fullmatch(pattern, cell))
            for name, pattern in CELL_CLASSES[family].items()}


class BuildFailed(RuntimeError):
    """Synthesis or place and route stopped (most often: the design does not fit); the message quotes the log."""


def log_errors(log: Path, lines: int = 20) -> str:
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in text if "ERROR" in line]
    return "\n".join((errors or text)[-lines:])


# nextpnr's messages when its placer finds no legal spot for every cell: at a part's last few per cent that
# depends on the seed as much as on the netlist.
PLACEMENT_FAILURES = ("Unable to find legal placement", "failed to place chain")


def place_and_route(top: Elaboratable, make_platform: Callable[[], Platform], build_dir: Path, name: str = "top",
                    tries: int = 1, seed: int | None = None,
                    progress: Callable[[str], None] = lambda message: None) -> SynthReport:
    """Synthesise, place and route ``top`` for ``make_platform()`` (and pack a bitstream) into ``build_dir``.

    Element names of array views are hidden first (``HIDE_ELEMENT_NAMES``). iCE40 synthesis maps multipliers
    to the SB_MAC16 DSPs (``-dsp``), which the UP5K has eight of; without it a single lane's multiplier costs
    ~100 LCs. It also hands the flip-flops to ABC (``-dff``), which merges registers that always hold the same
    value (the pipeline copies the ECP5 clock work added): 4,635 LC instead of 4,899 for the iCEBreaker build.
    When the placer finds no legal placement, up to ``tries`` placements are tried: ``seed`` (default: nextpnr's
    own), then the seeds after it (2, 3, ... after the default; the same netlist: Yosys is deterministic); the
    report names the seed that placed. A placement's timing depends on its seed as much as on small edits
    (several MHz at 75 MHz on the ECP5), so a committed build names its seed and a rebuild uses it.
    """
    configure_environment()
    build_dir = Path(build_dir)
    first = 1 if seed is None else seed
    for attempt in range(1, tries + 1):
        seed = None if attempt == 1 and first == 1 else first + attempt - 1
        platform = make_platform()  # a platform prepares one build
        family = getattr(platform, "family", None)
        try:
            platform.build(
                top, name=name, build_dir=str(build_dir), do_program=False,
                script_after_read=HIDE_ELEMENT_NAMES,
                synth_opts="-dsp -dff" if family == "iCE40" else "",
                script_after_synth=f"tee -q -o {name}.stat.json stat -json",
                nextpnr_opts=f"--report {name}.report.json --timing-allow-fail"
                             + ("" if seed is None else f" --seed {seed}"),
            )
            break
        except subprocess.CalledProcessError as exc:
            errors = log_errors(build_dir / f"{name}.tim") or log_errors(build_dir / f"{name}.rpt")
            if attempt < tries and any(failure in errors for failure in PLACEMENT_FAILURES):
                progress(f"no legal placement with seed {seed or 'default'}; trying seed {first + attempt}")
                continue
            raise BuildFailed(f"{type(platform).__name__}: build failed ({exc.returncode}):\n{errors}") from exc
    bitstream = next((build_dir / f"{name}{ext}" for ext in (".bit", ".bin") if (build_dir / f"{name}{ext}").exists()),
                     None)
    return read_nextpnr_report(build_dir / f"{name}.report.json", type(platform).__name__, bitstream, seed)


def run_yosys(script: str, cwd: Path, log_name: str) -> Path:
    """Run a Yosys script with the YoWASP binary in ``cwd`` (the only folder it can see); logs there too."""
    env = configure_environment(dict(os.environ))
    log = Path(cwd) / log_name
    result = subprocess.run([env["YOSYS"], "-q", "-l", log.name, "-p", script], cwd=cwd, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"yosys failed ({result.returncode}); see {log}:\n{result.stderr[-2000:]}")
    return log


def xilinx_estimate(verilog: Path, top: str, build_dir: Path) -> dict[str, int]:
    """Resource estimate of a core for 7-series parts: ``synth_xilinx -family xc7``, no place and route."""
    build_dir = Path(build_dir)
    # YoWASP tools see only their working folder: the source goes there.
    source = build_dir / Path(verilog).name
    if source.resolve() != Path(verilog).resolve():
        shutil.copy(verilog, source)
    run_yosys(f"read_verilog {source.name}; synth_xilinx -family xc7 -flatten -top {top}; "
              f"tee -q -o {top}.stat.txt stat; tee -q -o {top}.stat.json stat -json", build_dir,
              f"{top}.synth_xilinx.log")
    return count_cells(build_dir / f"{top}.stat.json", "xc7")

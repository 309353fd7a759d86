"""Design space of the layer weight-update datapath on ECP5: lanes P and weight bits vs resources and Fmax.

Each point is a real ``eligo build`` (Yosys + nextpnr, ULX3S 85F) of the
``update`` design for one layer, constrained at ``--clock-mhz`` with timing
allowed to fail so every point reports its Fmax. Prints the table with the
peak rate P x Fmax relative to ODIN's 0.5 and ReckOn's ~1 SOP/cycle at the
same clock, and writes ``design_space.json`` and ``design_space.png``.

    python bench/design_space.py --out bench/results
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _results import add_out_argument, write_results
from tqdm import tqdm

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.plots import plot_design_space
from eligo_hw.board_build import build_on_board
from eligo_hw.boards import get_board
from eligo_hw.designs import get_design

LANES = (4, 8, 16)
WEIGHT_BITS = (4, 8)
# Synaptic operations per cycle of the two learning chips the datapath is compared with (derived from
# their papers' architecture descriptions, see docs/boards.md).
REFERENCE_SOP_PER_CYCLE = {"ODIN": 0.5, "ReckOn": 1.0}


def sweep(n_inputs: int, hidden: int, clock_mhz: float, work_dir: Path, progress: bool) -> dict:
    board, design = get_board("ulx3s-85f"), get_design("update")
    points = []
    grid = [(lanes, bits) for bits in WEIGHT_BITS for lanes in LANES]
    for lanes, bits in tqdm(grid, desc="place and route", disable=not progress):
        # n_classes = 8 is valid for every P swept; the update design builds layer 0 only.
        cfg = AcceleratorConfig(network=NetworkShape(n_inputs=n_inputs, hidden=(hidden,), n_classes=8),
                                lanes=lanes, weight_bits=bits)
        summary = build_on_board(board, design, cfg, work_dir / f"p{lanes}_w{bits}", clock_mhz=clock_mhz)
        resources = summary["resources"]
        fmax = min(summary["fmax_mhz"].values())
        points.append({"lanes": lanes, "weight_bits": bits, "fmax_mhz": fmax,
                       **{name: resources[name]["used"] for name in ("LUT", "FF", "BRAM", "DSP")},
                       "stimulus_flip_flops": summary["stimulus_flip_flops"],
                       "peak_gsop_per_s": lanes * fmax / 1e3})
    return {"board": board.name, "part": board.part, "design": design.name,
            "layer": {"n_inputs": n_inputs, "n_neurons": hidden}, "constraint_mhz": clock_mhz,
            "tools": summary["tools"], "reference_sop_per_cycle": REFERENCE_SOP_PER_CYCLE, "points": points}


def table(results: dict) -> str:
    header = f"{'P':>3} {'W':>2} {'LUT':>6} {'FF':>6} {'EBR':>4} {'DSP':>4} {'Fmax':>7} {'GSOP/s':>7} " \
             f"{'xODIN':>6} {'xReckOn':>8}"
    rows = [header]
    for p in results["points"]:
        # At an equal clock, the ratio of peak rates is the ratio of operations per cycle.
        rows.append(f"{p['lanes']:>3} {p['weight_bits']:>2} {p['LUT']:>6} {p['FF']:>6} {p['BRAM']:>4} "
                    f"{p['DSP']:>4} {p['fmax_mhz']:>7.2f} {p['peak_gsop_per_s']:>7.3f} "
                    f"{p['lanes'] / REFERENCE_SOP_PER_CYCLE['ODIN']:>6.0f} "
                    f"{p['lanes'] / REFERENCE_SOP_PER_CYCLE['ReckOn']:>8.0f}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_out_argument(parser)
    parser.add_argument("--work", type=Path, default=Path("build/design_space"),
                        help="where the builds go (reports and bitstreams; not committed)")
    parser.add_argument("--inputs", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--clock-mhz", type=float, default=100.0)
    args = parser.parse_args()
    results = sweep(args.inputs, args.hidden, args.clock_mhz, args.work, progress=sys.stderr.isatty())
    print(table(results))
    write_results(args.out, "design_space", results, plot_design_space)


if __name__ == "__main__":
    main()

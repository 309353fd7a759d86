"""Design space of the layer weight-update datapath on ECP5: lanes P and update banks B vs resources and Fmax.

Each point is a real ``eligo build`` (Yosys + nextpnr, ULX3S 85F) of the
``update`` design for one layer (its B banks of P lanes and LFSRs, the
memories they walk), constrained at ``--clock-mhz`` with timing allowed to
fail so every point reports its Fmax. Samples/s come from the cycles per
time step that ``bench/rtl_cycles.py`` measured for the same P and B
(``--cycles``, S-TLLR, one hidden layer, every step learning) times
``--steps-per-sample`` (the gestures samples' 20 steps): at the datapath's
own Fmax, an upper bound, since the whole accelerator clocks lower
(``docs/boards.md``). Prints the table with the peak rate P x B x Fmax
relative to ODIN's 0.5 and ReckOn's ~1 SOP/cycle at the same clock, and
writes ``design_space.json`` and ``design_space.png``.

    python bench/design_space.py --out bench/results
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _results import add_out_argument, source_commit, write_results
from rtl_cycles import parse_designs
from tqdm import tqdm

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.plots import plot_design_space
from eligo_hw.board_build import build_on_board
from eligo_hw.boards import get_board
from eligo_hw.designs import get_design

RESULTS = Path(__file__).resolve().parent / "results"
# Synaptic operations per cycle of the two learning chips the datapath is compared with (derived from
# their papers' architecture descriptions, see docs/boards.md).
REFERENCE_SOP_PER_CYCLE = {"ODIN": 0.5, "ReckOn": 1.0}


def measured_cycles(path: Path) -> dict[tuple[int, int], float]:
    """Cycles per time step per (P, B) of ``rtl_cycles.json``: S-TLLR, one hidden layer, the first simulator."""
    results = json.loads(path.read_text())["results"]
    simulator = results[0]["simulator"]
    return {(r["lanes"], r.get("banks", 1)): r["cycles_per_step"] for r in results
            if r["rule"] == "stllr" and r["depth"] == 1 and r["simulator"] == simulator}


def sweep(designs: list[tuple[int, int]], weight_bits: int, n_inputs: int, hidden: int, clock_mhz: float,
          cycles_path: Path, steps_per_sample: int, work_dir: Path, progress: bool, done=lambda results: None) -> dict:
    """Build every design; ``done`` gets the results so far after each build (a long sweep keeps what it built)."""
    board, design = get_board("ulx3s-85f"), get_design("update")
    cycles = measured_cycles(cycles_path)
    results = {"board": board.name, "part": board.part, "design": design.name,
               "layer": {"n_inputs": n_inputs, "n_neurons": hidden}, "constraint_mhz": clock_mhz,
               "steps_per_sample": steps_per_sample, "reference_sop_per_cycle": REFERENCE_SOP_PER_CYCLE,
               "source_commit": source_commit(), "points": []}
    for lanes, banks in tqdm(designs, desc="place and route", disable=not progress):
        # n_classes = 8 is valid for every P swept; the update design builds layer 0 only.
        cfg = AcceleratorConfig(network=NetworkShape(n_inputs=n_inputs, hidden=(hidden,), n_classes=8),
                                lanes=lanes, banks=banks, weight_bits=weight_bits)
        summary = build_on_board(board, design, cfg, work_dir / f"p{lanes}_b{banks}_w{weight_bits}",
                                 clock_mhz=clock_mhz)
        resources = summary["resources"]
        fmax = min(summary["fmax_mhz"].values())
        step_cycles = cycles.get((lanes, banks))
        results["tools"] = summary["tools"]
        results["points"].append({
            "lanes": lanes, "banks": banks, "weight_bits": weight_bits, "fmax_mhz": fmax,
            **{name: resources[name]["used"] for name in ("LUT", "FF", "BRAM", "DSP")},
            "stimulus_flip_flops": summary["stimulus_flip_flops"], "peak_gsop_per_s": lanes * banks * fmax / 1e3,
            "cycles_per_step": step_cycles,
            "train_samples_per_s_at_fmax": fmax * 1e6 / (step_cycles * steps_per_sample) if step_cycles else None})
        done(results)
    return results


def table(results: dict) -> str:
    header = f"{'P':>3} {'B':>2} {'W':>2} {'LUT':>6} {'FF':>6} {'EBR':>4} {'DSP':>4} {'Fmax':>7} {'GSOP/s':>7} " \
             f"{'xODIN':>6} {'xReckOn':>8} {'cyc/step':>9} {'train/s':>8}"
    rows = [header]
    for p in results["points"]:
        # At an equal clock, the ratio of peak rates is the ratio of operations per cycle.
        per_cycle = p["lanes"] * p["banks"]
        rate = f"{p['train_samples_per_s_at_fmax']:>8.0f}" if p["train_samples_per_s_at_fmax"] else f"{'-':>8}"
        step = f"{p['cycles_per_step']:>9.0f}" if p["cycles_per_step"] else f"{'-':>9}"
        rows.append(f"{p['lanes']:>3} {p['banks']:>2} {p['weight_bits']:>2} {p['LUT']:>6} {p['FF']:>6} "
                    f"{p['BRAM']:>4} {p['DSP']:>4} {p['fmax_mhz']:>7.2f} {p['peak_gsop_per_s']:>7.3f} "
                    f"{per_cycle / REFERENCE_SOP_PER_CYCLE['ODIN']:>6.0f} "
                    f"{per_cycle / REFERENCE_SOP_PER_CYCLE['ReckOn']:>8.0f} {step} {rate}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_out_argument(parser)
    parser.add_argument("--work", type=Path, default=Path("build/design_space"),
                        help="where the builds go (reports and bitstreams; not committed)")
    parser.add_argument("--designs", default="8x1,16x1,32x1,64x1,16x2,16x4",
                        help="datapaths to build, lanes P x update banks B")
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--inputs", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--clock-mhz", type=float, default=100.0)
    parser.add_argument("--cycles", type=Path, default=RESULTS / "rtl_cycles.json",
                        help="bench/rtl_cycles.py's results: cycles per time step of each P and B")
    parser.add_argument("--steps-per-sample", type=int, default=20)
    args = parser.parse_args()
    results = sweep(parse_designs(args.designs), args.weight_bits, args.inputs, args.hidden, args.clock_mhz,
                    args.cycles, args.steps_per_sample, args.work, progress=sys.stderr.isatty(),
                    done=lambda results: write_results(args.out, "design_space", results, plot_design_space))
    print(table(results))


if __name__ == "__main__":
    main()

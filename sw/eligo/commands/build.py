"""``eligo build``: a design for a board, with its bitstream, reports, summary and golden vectors.

Exit status: 0 when the build fits and meets the clock it was asked for (or,
for a synthesis-only board, when the estimate was written); 1 when it does
not fit, misses timing or a tool fails; 2 for bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eligo.config import AcceleratorConfig

from eligo.config import RULES

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
BOARD_NAMES = ("ulx3s-85f", "icebreaker", "pynq-z2")
DESIGN_NAMES = ("tracer", "update", "engine", "top", "accelerator")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    """Hidden-layer sizes: ``128`` or ``128,128``."""
    return tuple(_positive(part) for part in text.split(","))


def _frequency(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frequency in MHz, got {text!r}") from None
    if not 1.0 <= value <= 500.0:
        raise argparse.ArgumentTypeError(f"clock must be in 1..500 MHz, got {value:g}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("build", help="synthesise, place and route a design for a board (bitstream + reports)")
    p.add_argument("--board", required=True, choices=BOARD_NAMES, help="target board")
    p.add_argument("--design", choices=DESIGN_NAMES, default="update",
                   help="what to build: update (layer weight-update datapath, default), engine (hidden layers + "
                        "readout with learning), top (the AXI top), accelerator (the whole chip behind the UART bridge, for the "
                        "serial transport) or tracer (one neuron)")
    p.add_argument("--config", type=Path, help="AcceleratorConfig JSON (default: the board's default configuration)")
    p.add_argument("--lanes", type=_positive, help="lanes P (weights updated per cycle)")
    p.add_argument("--weight-bits", type=_positive, help="weight width in bits")
    p.add_argument("--inputs", type=_positive, help="inputs of the first layer")
    p.add_argument("--hidden", type=_sizes, help="neurons per hidden layer, first first (128, or 128,128 for two)")
    p.add_argument("--rule", choices=RULES, help="on-chip rule (a deep network needs stllr_dfa or tess)")
    p.add_argument("--classes", type=_positive, help="output classes")
    p.add_argument("--clock-mhz", type=_frequency, help="clock to meet (default: the board's target)")
    p.add_argument("--seed", type=int, default=0, help="seed of the golden vectors (default 0)")
    p.add_argument("--placement-seed", type=int, default=None,
                   help="nextpnr's placement seed (default: its own); a committed build's summary names the one it "
                        "used (placement_seed)")
    p.add_argument("--out", type=Path, help="output folder (default: bitstreams/<board>/<design>)")
    p.set_defaults(func=run)


def configuration(args, board) -> AcceleratorConfig:
    """The board's default config (or --config), with the command-line overrides applied."""
    from eligo.config import AcceleratorConfig

    cfg = AcceleratorConfig.from_json(args.config.read_text()) if args.config else board.default_config()
    network = cfg.network
    if args.inputs is not None:
        network = dataclasses.replace(network, n_inputs=args.inputs)
    if args.hidden is not None:
        network = dataclasses.replace(network, hidden=args.hidden)
    if args.classes is not None:
        network = dataclasses.replace(network, n_classes=args.classes)
    changes = {"network": network}
    if args.rule is not None:
        changes["learning"] = dataclasses.replace(cfg.learning, rule=args.rule)
    if args.lanes is not None:
        changes["lanes"] = args.lanes
    if args.weight_bits is not None:
        changes["weight_bits"] = args.weight_bits
    return dataclasses.replace(cfg, **changes)


def run(args) -> int:
    from eligo.config import ConfigError
    from eligo_hw.board_build import build_on_board
    from eligo_hw.boards import BoardError, get_board
    from eligo_hw.designs import get_design
    from eligo_hw.synth import BuildFailed

    board = get_board(args.board)
    design = get_design(args.design)
    try:
        cfg = configuration(args, board)
    except (OSError, ValueError, ConfigError) as exc:
        print(f"bad configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or Path("bitstreams") / board.name / design.name
    try:
        summary = build_on_board(board, design, cfg, out, clock_mhz=args.clock_mhz, seed=args.seed,
                                 placement_seed=args.placement_seed,
                                 progress=lambda message: print(message, file=sys.stderr, flush=True))
    except BoardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BuildFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(describe(summary))
    print(f"wrote {out}")
    if summary["flow"] != "nextpnr":
        return EXIT_OK
    if not summary["fits"]:
        print("error: the design does not fit the device", file=sys.stderr)
        return EXIT_FAILURE
    if not summary["timing_met"]:
        print(f"error: timing not met: Fmax {summary['fmax_mhz']} MHz < {summary['clock_mhz']} MHz", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def describe(summary: dict) -> str:
    """One block of text: the resources, the clock and the peak rate."""
    lines = [f"{summary['board']} ({summary['part']}), design {summary['design']}, P={summary['lanes']}, "
             f"{summary['weight_bits']}-bit weights, layers {summary['layer_sizes']}"]
    if summary["flow"] == "nextpnr":
        used = ", ".join(f"{name} {r['used']}/{r['available']}" for name, r in summary["resources"].items())
        fmax = min(summary["fmax_mhz"].values())
        lines += [f"resources: {used}",
                  f"clock {summary['clock_mhz']:.2f} MHz, Fmax {fmax:.2f} MHz, timing "
                  f"{'met' if summary['timing_met'] else 'NOT met'}",
                  f"peak {summary['peak_sop_per_s_at_clock'] / 1e6:.0f} MSOP/s at the clock, "
                  f"{summary['peak_sop_per_s_at_fmax'] / 1e6:.0f} MSOP/s at Fmax"]
    else:
        cells = ", ".join(f"{name} {n}" for name, n in summary["estimate_cells"].items())
        lines += [f"synth_xilinx estimate: {cells}", summary["note"]]
    return "\n".join(lines)

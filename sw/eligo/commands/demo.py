"""``eligo demo``: the README's main job.

Runs the tracer bullet end to end: one LIF neuron simulated by the
fixed-point model, by Amaranth's simulator, and by cocotb on Icarus and
Verilator, with every cycle compared.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the tracer bullet on both simulators against the model")
    parser.add_argument("--seed", type=int, default=0, help="stimulus seed (default 0)")
    parser.add_argument("--cycles", type=int, default=3000, help="cycles to compare (default 3000)")
    parser.add_argument("--out", type=Path, default=None, help="directory for build products and summary.json")
    parser.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from eligo.config import NeuronFormat
    from eligo.toolchain import ToolMissing, configure_environment
    from eligo_hw.export import write_verilog
    from eligo_hw.neuron import LIFNeuron
    from eligo_sim.runner import SIMULATORS, build_bench

    console = Console()
    configure_environment()
    out = args.out or Path(tempfile.mkdtemp(prefix="eligo-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    fmt = NeuronFormat()
    source = write_verilog(LIFNeuron(fmt), "lif_neuron", out / "lif_neuron.v")
    summary = {"neuron": dataclasses.asdict(fmt), "cycles": args.cycles, "seed": args.seed, "simulators": {}}
    for simulator in SIMULATORS:
        with console.status(f"building and running on {simulator}"):
            started = time.perf_counter()
            try:
                bench = build_bench(simulator=simulator, sources=[source], toplevel="lif_neuron",
                                    build_dir=out / simulator)
                result = bench.run("eligo_sim.benches.lif_neuron",
                                   params={"neuron": dataclasses.asdict(fmt), "cycles": args.cycles}, seed=args.seed)
            except (ToolMissing, AssertionError) as exc:
                console.print(f"[red]{simulator}: {exc}[/red]")
                return 1
        wall = time.perf_counter() - started
        summary["simulators"][simulator] = {"wall_s": round(wall, 2), "sim_s": round(result.real_time_s, 3)}
        console.print(f"[green]{simulator}[/green]: {args.cycles} cycles bit-exact with the model "
                      f"({result.real_time_s:.2f} s simulation, {wall:.1f} s with build)")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"summary: {out / 'summary.json'}")
    return 0

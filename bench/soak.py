"""Soak of the accelerator top on Verilator: a million input events through the driver, bit-exact with the model.

Labelled random samples (learning on) go through the ``rtl`` transport in
chunks, with random pauses on every AXI-Lite channel, random idles on the event
source and random back-pressure on the output sink; each chunk's packets, the
final weights and the counters (cycle counters aside) are compared with the
``model`` transport's (``eligo_sim.soak``). Prints events in against events
sent, events dropped, simulated cycles per wall-clock second (stimulus, bus
models and driver included, so a lower bound) and cycles per event; writes
``soak.json`` (with the commit it ran on) and ``soak.png`` (cumulative events
against wall time, cycles per second per chunk).

Three networks (``--network``): ``small`` (64-16-4, the 10^6-event soak),
``wide`` (512-32-10, the default input width at a DVS-like 5 % rate; about 1,150
events/s on an idle 2-core machine, so ``--events 4000000`` is about an hour and
60,000 about a minute) and ``deep`` (64-16-16-4, two hidden layers learning by
TESS). Whoever lands a change under ``hw/`` re-runs

    python bench/soak.py --events 1000000
    python bench/soak.py --network deep --events 1000000

and commits ``bench/results/soak.json`` and ``soak_deep.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from _results import add_out_argument, machine_load, source_commit, write_results

from eligo.plots import new_figure, save_figure
from eligo_sim.soak import CLOCK_NS, NETWORKS, run_soak


def plot(summary: dict, path: Path) -> None:
    wall, events = 0.0, 0
    walls, totals, speeds = [], [], []
    for c in summary["chunks"]:
        wall += c["wall_s"]
        events += c["events"]
        walls.append(wall)
        totals.append(events)
        speeds.append(c["sim_ns"] / CLOCK_NS / c["wall_s"])
    fig, (left, right) = new_figure(1, 2, figsize=(10, 4))
    left.plot(walls, totals)
    left.set(xlabel="wall-clock s (rtl only)", ylabel="input events", title="events through the RTL")
    right.plot(totals, speeds)
    right.set(xlabel="input events", ylabel="simulated cycles / s", title="Verilator speed per chunk")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def command_line() -> str:
    """The command that made the result, without ``--work`` (a scratch folder of this machine)."""
    argv, kept = sys.argv[1:], []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--work":
            skip = True
        elif not arg.startswith("--work="):
            kept.append(arg)
    return " ".join(["python", "bench/soak.py", *kept])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), default="small")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--event-rate", type=float, default=None, help="default: the network's own")
    parser.add_argument("--chunk", type=int, default=50, help="samples per stream send")
    parser.add_argument("--rule", default=None, help="on-chip rule (default: the network's, eligo_sim.soak.NETWORKS)")
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    parser.add_argument("--name", default=None, help="result file name (default soak, soak_wide for wide)")
    parser.add_argument("--work", type=Path, help="build and log folder to keep (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = source_commit()
    with tempfile.TemporaryDirectory() as temporary:
        report = run_soak(args.network, "verilator", args.events, args.work or Path(temporary), steps=args.steps,
                          chunk=args.chunk, seed=args.seed, rule=args.rule, event_rate=args.event_rate)
    chunks = report["chunks"]
    rtl_wall = sum(c["wall_s"] for c in chunks)
    cycles = sum(c["sim_ns"] for c in chunks) / CLOCK_NS
    counters = report["counters"]
    clock_hz = report["config"]["clock_hz"]
    summary = {
        "network": args.network, "config": report["config"], "events_sent": report["events"],
        "samples": report["samples"], "events_in": counters["events_in"], "events_dropped": counters["events_dropped"],
        "bit_exact_with_model": True, "counters": counters, "model_counters": report["model_counters"],
        "simulated_cycles": cycles, "rtl_wall_s": rtl_wall, "bench_wall_s": report["bench_wall_s"],
        "build_s": report["build_s"], "simulated_cycles_per_s": cycles / rtl_wall,
        "cycles_per_event": cycles / report["events"], "rtl_samples_per_s": report["samples"] / rtl_wall,
        "cycles_per_sample": cycles / report["samples"],
        "chip_samples_per_s_at_clock": clock_hz * report["samples"] / cycles,
        "source_commit": commit, "command": command_line(),
        **machine_load(), "chunks": chunks,
    }
    print(f"{report['events']} events sent, {counters['events_in']} in, {counters['events_dropped']} dropped, "
          f"{report['samples']} samples bit-exact with the model; {cycles:.0f} cycles in {rtl_wall:.0f} s: "
          f"{summary['simulated_cycles_per_s']:.0f} simulated cycles/s, {summary['cycles_per_event']:.2f} "
          f"cycles/event (build {report['build_s']:.0f} s)")
    print(f"samples/s: {summary['rtl_samples_per_s']:.2f} in simulation, "
          f"{summary['chip_samples_per_s_at_clock']:.0f} on a chip clocked at {clock_hz / 1e6:.0f} MHz "
          f"({summary['cycles_per_sample']:.0f} cycles/sample, driver and bus time excluded)")
    name = args.name or ("soak" if args.network == "small" else f"soak_{args.network}")
    write_results(args.out, name, summary, plot)


if __name__ == "__main__":
    main()

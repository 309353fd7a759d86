"""Soak of the accelerator top on Verilator: a million input events through the driver, bit-exact with the model.

Labelled random samples (learning on) go through the ``rtl`` transport in
chunks, with random idles on the event source and random back-pressure on the
output sink; each chunk's packets, the final weights and the counters (cycle
counters aside) are compared with the ``model`` transport's. Prints events in
against events sent, events dropped, simulated cycles per wall-clock second
(stimulus, bus models and driver included, so a lower bound) and cycles per
event; writes ``soak.json`` and ``soak.png`` (cumulative events against wall
time, cycles per second per chunk).

    python bench/soak.py --out bench/results
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from _results import add_out_argument, machine_load, write_results

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.plots import new_figure, save_figure
from eligo_hw.export import write_verilog
from eligo_hw.top import Accelerator
from eligo_sim.runner import build_bench

CLOCK_NS = 10  # the bench's clock period (driver_loopback.start)


def config() -> AcceleratorConfig:
    return AcceleratorConfig(network=NetworkShape(n_inputs=64, hidden=(16,), n_classes=4), lanes=16,
                             learning=LearningConfig(alpha_post=1, lr_shift=4))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--event-rate", type=float, default=0.4)
    parser.add_argument("--chunk", type=int, default=50, help="samples per stream send")
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    parser.add_argument("--work", type=Path, help="build and log folder to keep (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = config()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        start = time.perf_counter()
        source = write_verilog(Accelerator(cfg), "accelerator", work / "accelerator.v")
        bench = build_bench(simulator="verilator", sources=[source], toplevel="accelerator", build_dir=work / "sim")
        build_s = time.perf_counter() - start
        params = {"config": cfg.to_dict(), "events": args.events, "steps": args.steps, "chunk": args.chunk,
                  "event_rate": args.event_rate, "weight_seed": 2, "gain": 2.0, "data_seed": args.seed,
                  "timeout_ns": 100_000_000, "report": str(work / "soak.json")}
        result = bench.run("eligo_sim.benches.accelerator_soak", params=params, seed=args.seed)
        report = json.loads((work / "soak.json").read_text())
    chunks = report["chunks"]
    rtl_wall = sum(c["wall_s"] for c in chunks)
    cycles = sum(c["sim_ns"] for c in chunks) / CLOCK_NS
    counters = report["counters"]
    summary = {
        "config": cfg.to_dict(), "events_sent": report["events"], "samples": report["samples"],
        "events_in": counters["events_in"], "events_dropped": counters["events_dropped"],
        "bit_exact_with_model": True, "counters": counters, "model_counters": report["model_counters"],
        "simulated_cycles": cycles, "rtl_wall_s": rtl_wall, "bench_wall_s": result.real_time_s,
        "build_s": build_s, "simulated_cycles_per_s": cycles / rtl_wall, "cycles_per_event": cycles / report["events"],
        "rtl_samples_per_s": report["samples"] / rtl_wall, "cycles_per_sample": cycles / report["samples"],
        "chip_samples_per_s_at_clock": cfg.clock_hz * report["samples"] / cycles,
        **machine_load(), "chunks": chunks,
    }
    print(f"{report['events']} events sent, {counters['events_in']} in, {counters['events_dropped']} dropped, "
          f"{report['samples']} samples bit-exact with the model; {cycles:.0f} cycles in {rtl_wall:.0f} s: "
          f"{summary['simulated_cycles_per_s']:.0f} simulated cycles/s, {summary['cycles_per_event']:.2f} "
          f"cycles/event (build {build_s:.0f} s)")
    print(f"samples/s: {summary['rtl_samples_per_s']:.2f} in simulation, "
          f"{summary['chip_samples_per_s_at_clock']:.0f} on a chip clocked at {cfg.clock_hz / 1e6:.0f} MHz "
          f"({summary['cycles_per_sample']:.0f} cycles/sample, driver and bus time excluded)")
    write_results(args.out, "soak", summary, plot)


if __name__ == "__main__":
    main()

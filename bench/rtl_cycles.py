"""Cycles per time step of the layer engine against the datapath's ideal, and simulator speeds.

Ideal per step: events * (N/P) + N/P + learning words (the weight words the
update visits), for an N-neuron hidden layer on P lanes. The engine runs
the cocotb bench (bit-exact against the model, no idle cycles and no
back-pressure) on a 512-input, 128-neuron, 8-class network for each P;
cycles are counted from the first word of a step to the engine's return to
idle. SOP/cycle counts synaptic operations (input events x N + hidden
spikes x classes) per cycle. Simulator speed is simulated cycles per
wall-clock second of the whole bench (stimulus, model scoreboard and weight
read-back included, so a lower bound); the model's is time steps per second of
``FixedModel.step`` on the same stimulus. Writes ``<name>.json`` and
``<name>.png`` (``rtl_cycles`` by default).

    python bench/rtl_cycles.py --out bench/results
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _results import add_out_argument, machine_load, write_results

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.fixed.model import FixedModel, initial_weights
from eligo.plots import new_figure, save_figure
from eligo_hw.export import write_verilog
from eligo_hw.layer_engine import LayerEngine
from eligo_sim.runner import SIMULATORS, build_bench

WEIGHT_SEED = 2
GAIN = 2.0
GOAL_RATIO = 1.25


def config(lanes: int, rule: str) -> AcceleratorConfig:
    return AcceleratorConfig(network=NetworkShape(n_inputs=512, hidden=(128,), n_classes=8), lanes=lanes,
                             learning=LearningConfig(rule=rule, alpha_post=1))


def model_steps_per_s(cfg: AcceleratorConfig, steps: int, event_rate: float, seed: int) -> float:
    """Time steps per second of the integer model on a stimulus like the bench's (batch 1, learning)."""
    model = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=GAIN))
    rng = np.random.default_rng(seed)
    spikes = torch.tensor(rng.random((steps, cfg.network.n_inputs)) < event_rate, dtype=torch.int64)
    state = model.new_state(1)
    start = time.perf_counter()
    for t in range(steps):
        model.step(state, spikes[t][None], 0, t)
    return steps / (time.perf_counter() - start)


def measure(simulator: str, lanes: int, rule: str, steps: int, event_rate: float, seed: int, work: Path) -> dict:
    cfg = config(lanes, rule)
    build_dir = work / f"{simulator}-p{lanes}-{rule}"
    words = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=GAIN)).words
    start = time.perf_counter()
    source = write_verilog(LayerEngine(cfg, words), "layer_engine", build_dir / "layer_engine.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="layer_engine", build_dir=build_dir / "sim")
    build_s = time.perf_counter() - start
    report_path = build_dir / "steps.json"
    params = {"config": cfg.to_dict(), "weight_seed": WEIGHT_SEED, "gain": GAIN, "samples": 1, "steps": steps,
              "event_rate": event_rate, "checkpoint_every": steps + 1, "report": str(report_path)}
    result = bench.run("eligo_sim.benches.layer_engine", params=params, seed=seed)
    written = json.loads(report_path.read_text())
    report = written["steps"]
    groups = cfg.groups[0]
    n_hidden, classes = cfg.network.hidden[0], cfg.network.n_classes
    ideal = [s["events"] * groups + groups + s["learn_words"] for s in report]
    cycles = [s["cycles"] for s in report]
    sops = sum(s["events"] * n_hidden + s["spikes"] * classes for s in report)
    total_cycles = sum(cycles)
    return {
        "simulator": simulator, "lanes": lanes, "rule": rule, "steps": report,
        "cycles_per_step": total_cycles / len(report), "ideal_per_step": sum(ideal) / len(report),
        "ratio_to_ideal": total_cycles / sum(ideal), "sop_per_cycle": sops / total_cycles,
        "phase_cycles": {phase: sum(s[phase] for s in report)
                         for phase in ("integrate", "fire", "readout", "traces", "learn", "stall")},
        "build_seconds": build_s, "bench_seconds": result.real_time_s,
        "simulated_cycles_per_s": written["total_cycles"] / result.real_time_s,
    }


def plot(summary: dict, path: Path) -> None:
    results = summary["results"]
    fig, (ratio, sop) = new_figure(1, 2, figsize=(10, 4))
    for rule in sorted({r["rule"] for r in results}):
        rows = [r for r in results if r["rule"] == rule and r["simulator"] == results[0]["simulator"]]
        lanes = [r["lanes"] for r in rows]
        ratio.plot(lanes, [r["ratio_to_ideal"] for r in rows], "o-", label=rule)
        sop.plot(lanes, [r["sop_per_cycle"] for r in rows], "o-", label=rule)
    ratio.axhline(GOAL_RATIO, color="k", linestyle="--", label=f"goal {GOAL_RATIO}x")
    ratio.set(xlabel="lanes P", ylabel="cycles / ideal", xscale="log", xticks=[4, 8, 16], xticklabels=["4", "8", "16"],
              title="cycles per time step vs ideal")
    sop.set(xlabel="lanes P", ylabel="SOP per cycle", xscale="log", xticks=[4, 8, 16], xticklabels=["4", "8", "16"],
            title="synaptic operations per cycle")
    for axis in (ratio, sop):
        axis.minorticks_off()
        axis.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", default="4,8,16")
    parser.add_argument("--rules", default="stllr,tess")
    parser.add_argument("--simulators", default=",".join(SIMULATORS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--event-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    parser.add_argument("--name", default="rtl_cycles", help="stem of the JSON and PNG written under --out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for simulator in args.simulators.split(","):
            for rule in args.rules.split(","):
                for lanes in map(int, args.lanes.split(",")):
                    r = measure(simulator, lanes, rule, args.steps, args.event_rate, args.seed, Path(work))
                    results.append(r)
                    print(f"{simulator:9s} {rule:5s} P={lanes:2d}: {r['cycles_per_step']:.0f} cycles/step, ideal "
                          f"{r['ideal_per_step']:.0f} ({r['ratio_to_ideal']:.2f}x), "
                          f"{r['sop_per_cycle']:.2f} SOP/cycle, "
                          f"{r['simulated_cycles_per_s']:.0f} cycles/s simulated (build {r['build_seconds']:.0f} s)")
    model_speed = model_steps_per_s(config(16, "stllr"), 50, args.event_rate, args.seed)
    print(f"model: {model_speed:.0f} time steps/s")
    summary = {**machine_load(), "goal_ratio": GOAL_RATIO,
               "event_rate": args.event_rate, "model_steps_per_s": model_speed, "results": results}
    write_results(args.out, args.name, summary, plot)


if __name__ == "__main__":
    main()

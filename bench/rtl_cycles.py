"""Cycles per time step of the layer engine against the datapath's ideal, and simulator speeds.

Ideal per step: the integration of every layer's input events (G_l = N_l/P
cycles each, the layer's N_l neurons on P lanes), one fire walk of G_l cycles
per hidden layer, and the learning words (the weight words the update
visits). The engine runs the cocotb bench (bit-exact against the model, no
idle cycles and no back-pressure) on a 512-input network of 128-neuron hidden
layers and 8 classes, for each P and each depth (1 to 3 hidden layers; TESS
where deeper than one, each layer learning from its own signal); cycles are
counted from the first word of a step to the engine's return to idle.
SOP/cycle counts synaptic operations (each layer's input events x its fan-out)
per cycle, forward only; the learning walk's weight updates are the
``learn_words`` (P weights each). Simulator speed is simulated cycles per
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
from _results import add_out_argument, machine_load, source_commit, write_results

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.fixed.model import FixedModel, initial_weights
from eligo.plots import new_figure, save_figure
from eligo_hw.export import write_verilog
from eligo_hw.layer_engine import LayerEngine
from eligo_sim.runner import SIMULATORS, build_bench

WEIGHT_SEED = 2
GAIN = 2.0
GOAL_RATIO = 1.25


def config(lanes: int, rule: str, depth: int = 1) -> AcceleratorConfig:
    return AcceleratorConfig(network=NetworkShape(n_inputs=512, hidden=(128,) * depth, n_classes=8), lanes=lanes,
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


def measure(simulator: str, lanes: int, rule: str, depth: int, steps: int, event_rate: float, seed: int,
            work: Path) -> dict:
    cfg = config(lanes, rule, depth)
    build_dir = work / f"{simulator}-p{lanes}-{rule}-d{depth}"
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
    groups, sizes = cfg.groups, cfg.network.layer_sizes
    fan_in = [[s["events"], *s["spikes_per_layer"]] for s in report]  # input events of each layer
    ideal = [sum(n * g for n, g in zip(inputs, groups)) + sum(groups[:-1]) + s["learn_words"]
             for inputs, s in zip(fan_in, report)]
    cycles = [s["cycles"] for s in report]
    sops = sum(n * fan_out for inputs in fan_in for n, fan_out in zip(inputs, sizes[1:]))
    total_cycles = sum(cycles)
    return {
        "simulator": simulator, "lanes": lanes, "rule": rule, "depth": depth, "steps": report,
        "cycles_per_step": total_cycles / len(report), "ideal_per_step": sum(ideal) / len(report),
        "ratio_to_ideal": total_cycles / sum(ideal), "sop_per_cycle": sops / total_cycles,
        "learn_words_per_step": sum(s["learn_words"] for s in report) / len(report),
        "phase_cycles": {phase: sum(s[phase] for s in report)
                         for phase in ("integrate", "fire", "readout", "traces", "learn", "stall")},
        "build_seconds": build_s, "bench_seconds": result.real_time_s,
        "simulated_cycles_per_s": written["total_cycles"] / result.real_time_s,
    }


def plot(summary: dict, path: Path) -> None:
    results = summary["results"]
    simulator = results[0]["simulator"]
    fig, (ratio, sop, deep) = new_figure(1, 3, figsize=(15, 4))
    for rule in sorted({r["rule"] for r in results}):
        rows = [r for r in results if r["rule"] == rule and r["simulator"] == simulator and r["depth"] == 1]
        lanes = [r["lanes"] for r in rows]
        ratio.plot(lanes, [r["ratio_to_ideal"] for r in rows], "o-", label=rule)
        sop.plot(lanes, [r["sop_per_cycle"] for r in rows], "o-", label=rule)
    for rule, lanes in sorted({(r["rule"], r["lanes"]) for r in results}):
        rows = sorted((r for r in results if (r["rule"], r["lanes"], r["simulator"]) == (rule, lanes, simulator)),
                      key=lambda r: r["depth"])
        if len(rows) > 1:
            depths = [r["depth"] for r in rows]
            deep.plot(depths, [r["cycles_per_step"] for r in rows], "o-", label=f"{rule} P={lanes}")
            deep.plot(depths, [r["ideal_per_step"] for r in rows], "o--", label=f"ideal, {rule} P={lanes}")
    ratio.axhline(GOAL_RATIO, color="k", linestyle="--", label=f"goal {GOAL_RATIO}x")
    ticks = dict(xscale="log", xticks=[4, 8, 16], xticklabels=["4", "8", "16"])
    ratio.set(xlabel="lanes P", ylabel="cycles / ideal", title="cycles per time step vs ideal (1 hidden)", **ticks)
    sop.set(xlabel="lanes P", ylabel="SOP per cycle", title="synaptic operations per cycle (1 hidden)", **ticks)
    deep.set(xlabel="hidden layers", ylabel="cycles per time step", xticks=[1, 2, 3], title="depth")
    for axis in (ratio, sop, deep):
        axis.minorticks_off()
        axis.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", default="4,8,16")
    parser.add_argument("--rules", default="stllr,tess")
    parser.add_argument("--depths", default="1,2,3", help="hidden layers of 128 (a rule that cannot go deeper, "
                                                         "S-TLLR's back-projection, runs at 1 only)")
    parser.add_argument("--deep-lanes", default="16", help="lanes of the runs deeper than one hidden layer")
    parser.add_argument("--simulators", default=",".join(SIMULATORS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--event-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    parser.add_argument("--name", default="rtl_cycles", help="stem of the JSON and PNG written under --out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = source_commit()
    runs = [(simulator, rule, depth, lanes) for simulator in args.simulators.split(",")
            for rule in args.rules.split(",") for depth in map(int, args.depths.split(","))
            for lanes in map(int, (args.lanes if depth == 1 else args.deep_lanes).split(","))
            if depth == 1 or rule != "stllr"]
    results = []
    with tempfile.TemporaryDirectory() as work:
        for simulator, rule, depth, lanes in runs:
            r = measure(simulator, lanes, rule, depth, args.steps, args.event_rate, args.seed, Path(work))
            results.append(r)
            print(f"{simulator:9s} {rule:5s} depth {depth} P={lanes:2d}: {r['cycles_per_step']:.0f} cycles/step, "
                  f"ideal {r['ideal_per_step']:.0f} ({r['ratio_to_ideal']:.2f}x), {r['sop_per_cycle']:.2f} SOP/cycle, "
                  f"{r['learn_words_per_step']:.0f} learning words/step, "
                  f"{r['simulated_cycles_per_s']:.0f} cycles/s simulated (build {r['build_seconds']:.0f} s)")
    model_speed = model_steps_per_s(config(16, "stllr"), 50, args.event_rate, args.seed)
    print(f"model: {model_speed:.0f} time steps/s")
    summary = {**machine_load(), "goal_ratio": GOAL_RATIO, "source_commit": commit, "event_rate": args.event_rate,
               "model_steps_per_s": model_speed, "results": results}
    write_results(args.out, args.name, summary, plot)


if __name__ == "__main__":
    main()

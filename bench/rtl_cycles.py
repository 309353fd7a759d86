"""Cycles per time step of the layer engine against the datapath's ideal, and simulator speeds.

Ideal per step: the integration of every layer's input events (G_l = N_l/P
cycles each, the layer's N_l neurons on P lanes), one fire walk of G_l cycles
per hidden layer, and the learning words (the weight words the update
visits) over the B update banks. The engine runs the cocotb bench (bit-exact
against the model, no idle cycles and no back-pressure) on a 512-input
network of 128-neuron hidden layers and 8 classes, for each datapath P x B
(``--designs``) and each depth (1 to 3 hidden layers; TESS where deeper than
one, each layer learning from its own signal); cycles are counted from the
first word of a step to the engine's return to idle. Every synaptic operation
counts: forward SOP/cycle (each layer's input events x its fan-out) and
update ops/cycle (P weights read, updated and written back per learning
word), against the lanes' limit P x B and the block RAM's
(``bram_limit_weights_per_cycle``); ``speedup_vs_p16_one_bank`` compares each
run with P = 16, one bank, measured in the same run. Simulator speed is simulated cycles per
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
# Block-RAM bound of the 8-bit weight reads (or writes) a cycle: every DP16KD of the ECP5-85F (208) at 36 bits a
# port; a learning update needs a read and a write of each weight, so both ports.
BRAM_LIMIT = {"ecp5_85f_8bit_weights": 208 * 36 // 8}


def config(lanes: int, rule: str, depth: int = 1, banks: int = 1) -> AcceleratorConfig:
    return AcceleratorConfig(network=NetworkShape(n_inputs=512, hidden=(128,) * depth, n_classes=8), lanes=lanes,
                             banks=banks, learning=LearningConfig(rule=rule, alpha_post=1))


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


def measure(simulator: str, lanes: int, banks: int, rule: str, depth: int, steps: int, event_rate: float, seed: int,
            work: Path) -> dict:
    cfg = config(lanes, rule, depth, banks)
    build_dir = work / f"{simulator}-p{lanes}-b{banks}-{rule}-d{depth}"
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
    ideal = [sum(n * g for n, g in zip(inputs, groups)) + sum(groups[:-1]) + s["learn_words"] / banks
             for inputs, s in zip(fan_in, report)]
    cycles = [s["cycles"] for s in report]
    sops = sum(n * fan_out for inputs in fan_in for n, fan_out in zip(inputs, sizes[1:]))
    total_cycles = sum(cycles)
    learn_words = sum(s["learn_words"] for s in report)
    return {
        "simulator": simulator, "lanes": lanes, "banks": banks, "rule": rule, "depth": depth, "steps": report,
        "cycles_per_step": total_cycles / len(report), "ideal_per_step": sum(ideal) / len(report),
        "ratio_to_ideal": total_cycles / sum(ideal), "sop_per_cycle": sops / total_cycles,
        # Every weight of a visited word is read, updated and written back: P synaptic updates per word.
        "update_ops_per_cycle": learn_words * lanes / total_cycles,
        "all_ops_per_cycle": (sops + learn_words * lanes) / total_cycles,
        "lane_limit_ops_per_cycle": lanes * banks,
        "learn_words_per_step": learn_words / len(report),
        "phase_cycles": {phase: sum(s[phase] for s in report)
                         for phase in ("integrate", "fire", "readout", "traces", "learn", "stall")},
        "build_seconds": build_s, "bench_seconds": result.real_time_s,
        "simulated_cycles_per_s": written["total_cycles"] / result.real_time_s,
    }


def design_label(result: dict) -> str:
    return f"P={result['lanes']}" + (f" B={result['banks']}" if result["banks"] > 1 else "")


def plot(summary: dict, path: Path) -> None:
    results = [r for r in summary["results"] if r["simulator"] == summary["results"][0]["simulator"]]
    fig, (cycles, ops, deep) = new_figure(1, 3, figsize=(16, 4.5))
    rules = sorted({r["rule"] for r in results})
    designs = sorted({(r["lanes"], r["banks"]) for r in results if r["depth"] == 1})
    width = 0.8 / len(rules)
    for index, rule in enumerate(rules):
        rows = {(r["lanes"], r["banks"]): r for r in results if r["rule"] == rule and r["depth"] == 1}
        x = [position + index * width for position, design in enumerate(designs) if design in rows]
        shown = [rows[design] for design in designs if design in rows]
        cycles.bar(x, [r["cycles_per_step"] for r in shown], width, label=f"{rule}")
        cycles.plot(x, [r["ideal_per_step"] for r in shown], "k_", markersize=12)
        ops.bar(x, [r["sop_per_cycle"] for r in shown], width, label=f"{rule} forward")
        ops.bar(x, [r["update_ops_per_cycle"] for r in shown], width, bottom=[r["sop_per_cycle"] for r in shown],
                label=f"{rule} updates", alpha=0.5)
    ticks = [position + width * (len(rules) - 1) / 2 for position in range(len(designs))]
    labels = [design_label({"lanes": lanes, "banks": banks}) for lanes, banks in designs]
    cycles.set(ylabel="cycles per time step", title="cycles per step (bars) and ideal (-), 1 hidden layer")
    ops.set(ylabel="synaptic operations per cycle", title="forward reads + weight updates per cycle")
    for axis in (cycles, ops):
        axis.set_xticks(ticks, labels)
    for rule, lanes in sorted({(r["rule"], r["lanes"]) for r in results}):
        rows = sorted((r for r in results if (r["rule"], r["lanes"], r["banks"]) == (rule, lanes, 1)),
                      key=lambda r: r["depth"])
        if len(rows) > 1:
            depths = [r["depth"] for r in rows]
            deep.plot(depths, [r["cycles_per_step"] for r in rows], "o-", label=f"{rule} P={lanes}")
            deep.plot(depths, [r["ideal_per_step"] for r in rows], "o--", label=f"ideal, {rule} P={lanes}")
    deep.set(xlabel="hidden layers", ylabel="cycles per time step", xticks=[1, 2, 3], title="depth")
    for axis in (cycles, ops, deep):
        axis.legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def compare_with_p16_one_bank(results: list[dict]) -> None:
    """Side by side in this run: each datapath's cycles per step against one bank of 16 lanes, same rule, depth."""
    for r in results:
        base = next((b for b in results if (b["simulator"], b["rule"], b["depth"], b["lanes"], b["banks"])
                     == (r["simulator"], r["rule"], r["depth"], 16, 1)), None)
        r["speedup_vs_p16_one_bank"] = base["cycles_per_step"] / r["cycles_per_step"] if base else None


def parse_designs(text: str) -> list[tuple[int, int]]:
    """"16x1,16x2" -> [(16, 1), (16, 2)]: lanes P by update banks B."""
    designs = []
    for item in text.split(","):
        lanes, _, banks = item.partition("x")
        designs.append((int(lanes), int(banks or 1)))
    return designs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="4x1,8x1,16x1,16x2,16x4,32x1",
                        help="datapaths of the one-hidden-layer runs, lanes P x update banks B")
    parser.add_argument("--rules", default="stllr,tess")
    parser.add_argument("--depths", default="1,2,3", help="hidden layers of 128 (a rule that cannot go deeper, "
                                                         "S-TLLR's back-projection, runs at 1 only)")
    parser.add_argument("--deep-lanes", type=int, default=16, help="lanes of the runs deeper than one hidden layer")
    parser.add_argument("--simulators", default=",".join(SIMULATORS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--event-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    parser.add_argument("--name", default="rtl_cycles", help="stem of the JSON and PNG written under --out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = source_commit()
    runs = [(simulator, rule, depth, lanes, banks) for simulator in args.simulators.split(",")
            for rule in args.rules.split(",") for depth in map(int, args.depths.split(","))
            for lanes, banks in (parse_designs(args.designs) if depth == 1 else [(args.deep_lanes, 1)])
            if depth == 1 or rule != "stllr"]
    model_speed = model_steps_per_s(config(16, "stllr"), 50, args.event_rate, args.seed)
    print(f"model: {model_speed:.0f} time steps/s")
    results = []
    summary = {**machine_load(), "goal_ratio": GOAL_RATIO, "source_commit": commit, "event_rate": args.event_rate,
               "bram_limit_weights_per_cycle": BRAM_LIMIT, "model_steps_per_s": model_speed, "results": results}
    with tempfile.TemporaryDirectory() as work:
        for simulator, rule, depth, lanes, banks in runs:
            r = measure(simulator, lanes, banks, rule, depth, args.steps, args.event_rate, args.seed, Path(work))
            results.append(r)
            compare_with_p16_one_bank(results)
            write_results(args.out, args.name, summary, plot)  # after every run: a long sweep keeps what it has
            print(f"{simulator:9s} {rule:5s} depth {depth} {design_label(r):9s}: {r['cycles_per_step']:.0f} "
                  f"cycles/step, ideal {r['ideal_per_step']:.0f} ({r['ratio_to_ideal']:.2f}x), "
                  f"{r['sop_per_cycle']:.2f} forward + {r['update_ops_per_cycle']:.2f} update SOP/cycle "
                  f"(lanes {r['lane_limit_ops_per_cycle']}), {r['learn_words_per_step']:.0f} learning words/step, "
                  f"{r['simulated_cycles_per_s']:.0f} cycles/s simulated (build {r['build_seconds']:.0f} s)")


if __name__ == "__main__":
    main()

"""Speed of the bit-exact integer model: synaptic operations per second and seconds per training epoch.

A synaptic operation (SOP) is one weight read of the integration: an input
event times its fan-out; weight updates (visited words x lanes) are counted apart.
Rates are per second of this process's CPU time (one thread), which a shared
machine disturbs far less than wall time; the wall-clock training time and the
load average are recorded too. Inference runs the whole test split as one
batch; training is the chip's online learning, one sample at a time, with every
weight update and LFSR draw, timed ``--repeats`` times from the same initial
weights (the fastest run is kept: the one other jobs disturbed least; all are
recorded). Prints SOP/s against the 20 M SOP/s goal and
writes ``fixed_model_speed.json`` and ``fixed_model_speed.png``; ``--baseline``
names an earlier JSON (e.g. of an older model) to print and plot against.

    python bench/fixed_model_speed.py --out bench/results --baseline before.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from _results import add_out_argument, machine_load, write_results

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.data import load_dataset
from eligo.fixed.model import FixedModel, initial_weights
from eligo.plots import new_figure, save_figure

GOAL_SOP_PER_S = 20e6


def measure(name: str, rule: str, samples: int | None, seed: int, repeats: int) -> dict:
    train = load_dataset(name, "train", seed=seed)
    test = load_dataset(name, "test", seed=seed)
    spikes, labels = train.spikes[:samples], train.labels[:samples]
    cfg = AcceleratorConfig(network=NetworkShape(train.n_inputs, (128,), train.n_classes))
    cfg = dataclasses.replace(cfg, learning=dataclasses.replace(cfg.learning, rule=rule))
    model = FixedModel(cfg, initial_weights(cfg, seed))
    start = time.process_time()
    model.scores(test.spikes)
    inference_s = time.process_time() - start
    inference_sops = model.synaptic_ops

    order = torch.randperm(len(spikes), generator=torch.Generator().manual_seed(seed)).tolist()
    runs = []
    for _ in range(repeats):
        model = FixedModel(cfg, initial_weights(cfg, seed))
        start, wall_start = time.process_time(), time.perf_counter()
        for index in order:
            model.run_sample(spikes[index], int(labels[index]))
        runs.append((time.process_time() - start, time.perf_counter() - wall_start))
    train_s, train_wall_s = min(runs)
    return {"dataset": name, "rule": rule, "train_samples": len(spikes), "full_train_samples": len(train),
            "test_samples": len(test), "time_steps": train.time_steps, "network": list(cfg.network.layer_sizes),
            "lanes": cfg.lanes, "inference_seconds": inference_s,
            "inference_sop_per_s": inference_sops / inference_s, "train_seconds": train_s,
            "train_wall_seconds": train_wall_s, "train_seconds_all_runs": [cpu for cpu, _ in runs],
            "seconds_per_epoch": train_s / len(spikes) * len(train),
            "train_sop_per_s": model.synaptic_ops / train_s,
            "train_weight_updates_per_s": model.learn_words * cfg.lanes / train_s}


def label(result: dict) -> str:
    return f"{result['dataset']} {result.get('rule', 'stllr')}"


def plot(summary: dict, path: Path) -> None:
    results = summary["results"]
    earlier = {label(r): r for r in summary["baseline"] or []}
    baseline = [earlier[label(r)] for r in results] if all(label(r) in earlier for r in results) else None
    fig, (sops, epoch) = new_figure(1, 2, figsize=(10, 4), layout="tight")
    names = [label(r) for r in results]
    runs = [("before", baseline), ("now", results)] if baseline else [("now", results)]
    width = 0.8 / (2 * len(runs))
    for k, (run_name, rows) in enumerate(runs):
        for m, (key, kind) in enumerate((("inference_sop_per_s", "inference (batch)"),
                                         ("train_sop_per_s", "online training"))):
            offset = (2 * k + m - len(runs) + 0.5) * width
            sops.bar([i + offset for i in range(len(rows))], [r[key] / 1e6 for r in rows], width,
                     label=f"{kind}, {run_name}")
        epoch.bar([i + (k - (len(runs) - 1) / 2) * 0.8 / len(runs) for i in range(len(rows))],
                  [r["seconds_per_epoch"] for r in rows], 0.8 / len(runs), label=run_name)
    x = list(range(len(names)))
    sops.axhline(GOAL_SOP_PER_S / 1e6, color="k", linestyle="--", label="goal 20 M")
    sops.set(xticks=x, xticklabels=names, ylabel="M SOP/s (CPU time, 1 thread)", yscale="log",
             title="integer model speed")
    sops.legend(fontsize=7)
    epoch.set(xticks=x, xticklabels=names, ylabel="CPU seconds", title="one online training epoch (batch 1)")
    epoch.legend()
    save_figure(fig, path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="gestures,digits")
    parser.add_argument("--rules", default="stllr,tess", help="learning rules to time training with")
    parser.add_argument("--repeats", type=int, default=3, help="training timings per set (the fastest is kept)")
    parser.add_argument("--samples", type=int, default=None, help="train on the first N samples only")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (more only help on an idle machine: the ops are small)")
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    parser.add_argument("--baseline", type=Path, default=None, help="an earlier fixed_model_speed.json to compare")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    baseline = json.loads(args.baseline.read_text())["results"] if args.baseline else None
    load_at_start = machine_load()["load_average_1min"]
    results = [measure(name, rule, args.samples, args.seed, args.repeats)
               for name in args.datasets.split(",") for rule in args.rules.split(",")]
    for r in results:
        print(f"{label(r)}: inference {r['inference_sop_per_s'] / 1e6:.1f} M SOP/s "
              f"({r['inference_sop_per_s'] / GOAL_SOP_PER_S:.2f}x goal), training "
              f"{r['train_sop_per_s'] / 1e6:.2f} M SOP/s ({r['train_sop_per_s'] / GOAL_SOP_PER_S:.2f}x goal), "
              f"{r['train_weight_updates_per_s'] / 1e6:.1f} M weight updates/s (lanes of visited words), "
              f"{r['seconds_per_epoch']:.1f} s per epoch of {r['full_train_samples']} samples "
              f"(timed on {r['train_samples']})")
    earlier = {label(r): r for r in baseline or []}
    for now in results:
        if label(now) not in earlier:
            continue
        before = earlier[label(now)]
        print(f"{label(now)}: training {now['train_sop_per_s'] / before['train_sop_per_s']:.2f}x the baseline's "
              f"SOP/s, inference {now['inference_sop_per_s'] / before['inference_sop_per_s']:.2f}x")
    summary = {"threads": args.threads, "load_average_1min_at_start": load_at_start, **machine_load(),
               "goal_sop_per_s": GOAL_SOP_PER_S, "results": results, "baseline": baseline}
    write_results(args.out, "fixed_model_speed", summary, plot)


if __name__ == "__main__":
    main()

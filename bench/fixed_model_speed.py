"""Speed of the bit-exact integer model: synaptic operations per second and seconds per training epoch.

A synaptic operation (SOP) is one weight read of the integration: an input
event times its fan-out; weight updates (visited words x lanes) are counted apart.
The machine's load average is recorded with the numbers: on a shared machine they are a lower bound. Inference runs the whole test split as one batch;
training is the chip's online learning, one sample at a time, with every
weight update and LFSR draw. Prints SOP/s against the 20 M SOP/s goal and
writes ``fixed_model_speed.json`` and ``fixed_model_speed.png``.

    python bench/fixed_model_speed.py --out bench/results
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.data import load_dataset
from eligo.fixed.model import FixedModel, initial_weights

GOAL_SOP_PER_S = 20e6


def measure(name: str, samples: int | None, seed: int) -> dict:
    train = load_dataset(name, "train", seed=seed)
    test = load_dataset(name, "test", seed=seed)
    spikes, labels = train.spikes[:samples], train.labels[:samples]
    cfg = AcceleratorConfig(network=NetworkShape(train.n_inputs, (128,), train.n_classes))
    model = FixedModel(cfg, initial_weights(cfg, seed))
    start = time.perf_counter()
    model.scores(test.spikes)
    inference_s = time.perf_counter() - start
    inference_sops = model.synaptic_ops

    model.synaptic_ops = 0
    order = torch.randperm(len(spikes), generator=torch.Generator().manual_seed(seed)).tolist()
    start = time.perf_counter()
    for index in order:
        model.run_sample(spikes[index], int(labels[index]))
    train_s = time.perf_counter() - start
    return {"dataset": name, "train_samples": len(spikes), "full_train_samples": len(train),
            "test_samples": len(test), "time_steps": train.time_steps, "network": list(cfg.network.layer_sizes),
            "lanes": cfg.lanes, "inference_seconds": inference_s,
            "inference_sop_per_s": inference_sops / inference_s, "train_seconds": train_s,
            "seconds_per_epoch": train_s / len(spikes) * len(train),
            "train_sop_per_s": model.synaptic_ops / train_s,
            "train_weight_updates_per_s": model.lfsr_steps * cfg.lanes / train_s}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (sops, epoch) = plt.subplots(1, 2, figsize=(10, 4))
    names = [r["dataset"] for r in results]
    x = torch.arange(len(names)).tolist()
    sops.bar([i - 0.2 for i in x], [r["inference_sop_per_s"] / 1e6 for r in results], 0.4, label="inference (batch)")
    sops.bar([i + 0.2 for i in x], [r["train_sop_per_s"] / 1e6 for r in results], 0.4, label="online training")
    sops.axhline(GOAL_SOP_PER_S / 1e6, color="k", linestyle="--", label="goal 20 M")
    sops.set(xticks=x, xticklabels=names, ylabel="M SOP/s", yscale="log", title="integer model speed")
    sops.legend()
    epoch.bar(x, [r["seconds_per_epoch"] for r in results])
    epoch.set(xticks=x, xticklabels=names, ylabel="seconds", title="one online training epoch (batch 1)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="gestures,digits")
    parser.add_argument("--samples", type=int, default=None, help="train on the first N samples only")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (more only help on an idle machine: the ops are small)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [measure(name, args.samples, args.seed) for name in args.datasets.split(",")]
    for r in results:
        print(f"{r['dataset']}: inference {r['inference_sop_per_s'] / 1e6:.1f} M SOP/s "
              f"({r['inference_sop_per_s'] / GOAL_SOP_PER_S:.2f}x goal), training "
              f"{r['train_sop_per_s'] / 1e6:.2f} M SOP/s ({r['train_sop_per_s'] / GOAL_SOP_PER_S:.2f}x goal), "
              f"{r['train_weight_updates_per_s'] / 1e6:.1f} M weight updates/s (lanes of visited words), "
              f"{r['seconds_per_epoch']:.1f} s per epoch of {r['full_train_samples']} samples "
              f"(timed on {r['train_samples']})")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"threads": args.threads, "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
               "goal_sop_per_s": GOAL_SOP_PER_S, "results": results}
    (args.out / "fixed_model_speed.json").write_text(json.dumps(summary, indent=2))
    plot(results, args.out / "fixed_model_speed.png")


if __name__ == "__main__":
    main()

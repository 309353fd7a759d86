"""Which on-chip learning protocol converges: the hidden signal and the learning-rate schedule, measured.

Each variant trains the integer model (bit-exact with the RTL) online at batch 1 on both embedded sets
over seeds 0-2, from the same initial weights and sample order; the table is the evidence behind the
defaults (``learning.rule``, ``learning.lr_shift``, ``learning.error_unit``, ``LR_DECAY_EVERY``;
docs/fixed-point.md, "Online protocol"). Writes ``online_protocol.json`` and ``online_protocol.png``.

    python bench/online_protocol.py --out bench/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _online import DATASETS, SEEDS, chip_config, online_run, plot_curves, summarize
from _results import add_out_argument, machine_load, source_commit, write_results
from _training import embedded
from tqdm import tqdm

# name -> (learning fields, epochs, epochs per halving of the rate; 0 = constant)
VARIANTS = {
    "square-wave DFA, 1/64 constant, 2 epochs (the chip before)": ({"rule": "stllr_dfa", "error_unit": 64,
                                                                   "lr_shift": 10}, 2, 0),
    "square-wave DFA, 1/64 constant, 10 epochs": ({"rule": "stllr_dfa", "error_unit": 64, "lr_shift": 10}, 10, 0),
    "BP, 1/64 constant, 10 epochs": ({"rule": "stllr", "error_unit": 64, "lr_shift": 10}, 10, 0),
    "square-wave DFA, 1/32 halving every 2 epochs": ({"rule": "stllr_dfa", "error_unit": 64, "lr_shift": 9}, 10, 2),
    "BP, 1/64 halving every 2 epochs": ({"rule": "stllr", "error_unit": 64, "lr_shift": 10}, 10, 2),
    "BP, 1/32 halving every 3 epochs": ({"rule": "stllr", "error_unit": 64, "lr_shift": 9}, 10, 3),
    "BP, 1/32 halving every 2 epochs, error unit 64": ({"rule": "stllr", "error_unit": 64, "lr_shift": 9}, 10, 2),
    "BP, 1/32 halving every 2 epochs, error unit 127 (default)": ({"rule": "stllr", "error_unit": 127,
                                                                  "lr_shift": 10}, 10, 2),
}


def run(datasets: list[str], seeds: list[int], variants: list[str]) -> dict:
    results = {"seeds": seeds, "datasets": {}}
    with tqdm(total=len(datasets) * len(seeds) * len(variants), desc="online protocol", unit="run") as progress:
        for dataset in datasets:
            train, _ = embedded(dataset)
            rows = results["datasets"][dataset] = {}
            for name in variants:
                learning, epochs, every = VARIANTS[name]
                cfg = chip_config(train, **learning)
                runs = []
                for seed in seeds:
                    runs.append(online_run(cfg, dataset, seed, epochs=epochs, lr_decay_every=every))
                    progress.update(1)
                rows[name] = {**summarize(runs), "learning": learning, "epochs": epochs, "lr_decay_every": every}
    return results


def plot(results: dict, path: Path) -> None:
    panels = {f"{dataset}: the chip online, mean of seeds": {f"{name}: {row['mean']:.1f}": row["curve"]
                                                             for name, row in rows.items()}
              for dataset, rows in results["datasets"].items()}
    plot_curves(panels, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--variants", default="all", help="comma-separated indices into the table (default all)")
    add_out_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = list(VARIANTS)
    variants = names if args.variants == "all" else [names[int(i)] for i in args.variants.split(",")]
    commit = source_commit()
    results = run(args.datasets.split(","), [int(s) for s in args.seeds.split(",")], variants)
    results.update(source_commit=commit, command="python bench/online_protocol.py", **machine_load())
    for dataset, rows in results["datasets"].items():
        print(f"\n{dataset} (seeds {', '.join(map(str, results['seeds']))}): final test accuracy, %")
        for name, row in rows.items():
            print(f"  {row['mean']:5.1f} ± {row['std']:3.1f}  best-epoch mean {max(row['curve']):5.1f}  {name}")
    write_results(args.out, "online_protocol", results, plot)


if __name__ == "__main__":
    main()

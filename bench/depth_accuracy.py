"""Does depth help on chip? TESS online at one and two hidden layers: the chip (integer model = RTL) and its twin.

Each hidden layer of the deep network learns from its own layer-local TESS signal (its own square-wave
projection and softmax), nothing travels between layers. Runs ``_online.online_run`` (the on-chip protocol of
``bench/accuracy.py``: batch 1, the seeded float network's weights quantized, the run-time learning-rate decay)
for every data set, depth and seed; prints mean ± std of the final test accuracy and the wall time of a run;
writes ``depth_accuracy.json`` (``{"<dataset>": {"<depth>": {"chip": {"mean", "std", ...}, "twin": {...}}}}``,
with the commit it ran on) and ``depth_accuracy.png``.

    python bench/depth_accuracy.py --out bench/results
"""

from __future__ import annotations

import argparse

import torch
from _online import DATASETS, SEEDS, chip_config, online_run, plot_curves, summarize
from _results import add_out_argument, machine_load, source_commit, write_results
from _training import embedded
from tqdm import tqdm

DEPTHS = {"1": (128,), "2": (128, 128)}
RULE = "tess"


def run(datasets: list[str], depths: list[str], seeds: dict[str, list[int]], epochs: int) -> dict:
    """``seeds``: per kind ('chip', 'twin'), the seeds it runs."""
    results = {}
    jobs = [(d, depth, kind, seed) for d in datasets for depth in depths for kind in seeds for seed in seeds[kind]]
    runs: dict[tuple, list] = {}
    for dataset, depth, kind, seed in tqdm(jobs, desc="online runs"):
        train, _ = embedded(dataset)
        cfg = chip_config(train, DEPTHS[depth], rule=RULE)
        runs.setdefault((dataset, depth, kind), []).append(online_run(cfg, dataset, seed, epochs=epochs, kind=kind))
    for (dataset, depth, kind), kind_runs in runs.items():
        summary = summarize(kind_runs)
        results.setdefault(dataset, {}).setdefault(depth, {})[kind] = summary
        print(f"{dataset:9s} {depth} hidden layer(s) {kind:5s}: {summary['mean']:.1f} ± {summary['std']:.1f} % "
              f"(per seed {', '.join(f'{v:.1f}' for v in summary['per_seed'])}; {summary['wall_s']:.0f} s a run)")
    return results


def plot(summary: dict, path) -> None:
    panels = {dataset: {f"{kind}, {depth} hidden": row["curve"] for depth, kinds in summary[dataset].items()
                        for kind, row in kinds.items()} for dataset in summary["datasets"]}
    plot_curves(panels, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--depths", default=",".join(DEPTHS), help="hidden layers: 1 (128) and 2 (128,128)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="seeds of the chip (integer model)")
    parser.add_argument("--twin-seeds", default="0", help="seeds of the float twin, 2-3x slower (empty: none)")
    parser.add_argument("--epochs", type=int, default=10)
    add_out_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    datasets = args.datasets.split(",")
    commit = source_commit()
    seeds = {kind: [int(s) for s in text.split(",") if s] for kind, text in (("chip", args.seeds),
                                                                             ("twin", args.twin_seeds))}
    results = run(datasets, args.depths.split(","), {kind: s for kind, s in seeds.items() if s}, args.epochs)
    summary = {"rule": RULE, "epochs": args.epochs, "seeds": seeds,
               "depths": {k: list(DEPTHS[k]) for k in args.depths.split(",")},
               "datasets": datasets, **results, "source_commit": commit, **machine_load()}
    write_results(args.out, "depth_accuracy", summary, plot)


if __name__ == "__main__":
    main()

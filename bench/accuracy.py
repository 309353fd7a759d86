"""How well the chip learns, against what a user would pick instead: offline BPTT, the float rules offline,
a linear probe, and the chip's own float twin, on both embedded sets, seeds 0-2.

Rows, each the final test accuracy after its epochs (mean ± std over the seeds) with its wall time:
- offline float rules (PyTorch, Adam, batch 16, 10 epochs; ``--rules``, BPTT first);
- the float twin online (the float rule the chip's integers stand for: batch 1, plain SGD, the chip's
  learning-rate schedule, same initial weights and sample order);
- the chip online (the bit-exact integer model = the RTL, batch 1, same protocol);
- logistic regression on spike counts in 4 time windows (the probe of docs/data.md).
Writes ``accuracy.json`` (``{"<dataset>": {"summary": {"bptt_offline", "float_twin", "chip", ...}}}``) and
``accuracy.png`` (test accuracy per epoch: chip vs float twin vs offline BPTT).

    python bench/accuracy.py --out bench/results
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from _online import DATASETS, SEEDS, chip_config, online_run, plot_curves, summarize
from _results import add_out_argument, machine_load, source_commit, write_results
from _training import embedded, float_run
from tqdm import tqdm

from eligo.config import LR_DECAY_EVERY, AcceleratorConfig

BPTT_MARGIN, TWIN_MARGIN, SEED_STD = 3.0, 2.0, 2.0
"""The done criteria: chip within 3 points of offline BPTT, std over seeds <= 2, twin within 2 of the chip."""


def linear_probe(dataset: str) -> float:
    """Logistic regression on spike counts in 4 time windows, test accuracy in %."""
    from sklearn.linear_model import LogisticRegression

    train, test = embedded(dataset)

    def features(data):
        windows = data.spikes.float().reshape(len(data), 4, data.time_steps // 4, -1).sum(2)
        return windows.reshape(len(data), -1).numpy()

    model = LogisticRegression(max_iter=2000, C=0.1).fit(features(train), train.labels.numpy())
    return 100 * model.score(features(test), test.labels.numpy())


def run(datasets: list[str], seeds: list[int], rules: list[str], epochs: int, offline_epochs: int) -> dict:
    results: dict = {"seeds": seeds, "epochs": epochs, "offline_epochs": offline_epochs, "offline_rules": rules,
                     "lr_decay_every": LR_DECAY_EVERY,
                     "chip_learning": AcceleratorConfig().to_dict()["learning"]}
    total = len(datasets) * len(seeds) * (len(rules) + 2)
    with tqdm(total=total, desc="accuracy", unit="run") as progress:
        for dataset in datasets:
            train, _ = embedded(dataset)
            cfg = chip_config(train)
            rows: dict = {}
            for rule in rules:
                runs = []
                for seed in seeds:
                    run = float_run(dataset, rule, seed, epochs=offline_epochs)
                    runs.append({"seed": seed, "curve": run["history"], "final": run["final"],
                                 "wall_s": run["wall_s"]})
                    progress.update(1)
                rows[f"{rule}_offline"] = summarize(runs)
            for kind, name in (("twin", "float_twin"), ("chip", "chip")):
                runs = []
                for seed in seeds:
                    runs.append(online_run(cfg, dataset, seed, epochs=epochs, kind=kind))
                    progress.update(1)
                rows[name] = summarize(runs)
            start = time.perf_counter()
            rows["linear_probe"] = {"mean": linear_probe(dataset), "std": 0.0, "wall_s": time.perf_counter() - start}
            results[dataset] = {"rows": rows, "summary": verdict(rows)}
    return results


def verdict(rows: dict) -> dict:
    """The summary the issue names, the gaps in points and whether each done criterion holds."""
    chip, twin, bptt = rows["chip"], rows["float_twin"], rows["bptt_offline"]
    summary = {"bptt_offline": bptt["mean"], "float_twin": twin["mean"], "chip": chip["mean"],
               "chip_std": chip["std"], "linear_probe": rows["linear_probe"]["mean"],
               "chip_minus_bptt": chip["mean"] - bptt["mean"], "twin_minus_chip": twin["mean"] - chip["mean"]}
    summary["done"] = {"chip_within_3_of_bptt": summary["chip_minus_bptt"] >= -BPTT_MARGIN,
                       "chip_std_at_most_2": chip["std"] <= SEED_STD,
                       "twin_within_2_of_chip": abs(summary["twin_minus_chip"]) <= TWIN_MARGIN}
    return summary


def plot(results: dict, path: Path) -> None:
    shown = {"chip": "chip (integer model), online", "float_twin": "float twin, online",
             "bptt_offline": "BPTT offline (Adam, batch 16)"}
    panels = {}
    for dataset in results["datasets"]:
        rows = results[dataset]["rows"]
        panels[f"{dataset}: mean of seeds {results['seeds']}"] = {
            f"{label}: {rows[key]['mean']:.1f} ± {rows[key]['std']:.1f}": rows[key]["curve"]
            for key, label in shown.items()}
    plot_curves(panels, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--rules", default="bptt,stllr",
                        help="offline float rules, bptt first (default bptt,stllr; all: bptt,stllr,tess,tp,ttbptt)")
    parser.add_argument("--epochs", type=int, default=10, help="online epochs of the chip and its twin (default 10)")
    parser.add_argument("--offline-epochs", type=int, default=10, help="epochs of the offline float rules (default 10)")
    add_out_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rules = ["bptt", "stllr", "tess", "tp", "ttbptt"] if args.rules == "all" else args.rules.split(",")
    if rules[0] != "bptt":
        parser.error("--rules must start with bptt: every row is judged against it")
    datasets = args.datasets.split(",")
    commit = source_commit()
    results = run(datasets, [int(s) for s in args.seeds.split(",")], rules, args.epochs, args.offline_epochs)
    results.update(datasets=datasets, source_commit=commit, command="python bench/accuracy.py", **machine_load())
    for dataset in datasets:
        print(f"\n{dataset}: final test accuracy, % (mean ± std over seeds {args.seeds}; wall s per run)")
        for name, row in results[dataset]["rows"].items():
            print(f"  {name:<16} {row['mean']:5.1f} ± {row['std']:3.1f}   {row['wall_s']:7.1f} s")
        summary = results[dataset]["summary"]
        print(f"  chip - BPTT {summary['chip_minus_bptt']:+.1f}, twin - chip {summary['twin_minus_chip']:+.1f}; "
              + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in summary["done"].items()))
    write_results(args.out, "accuracy", results, plot)


if __name__ == "__main__":
    main()

"""Every float learning rule on every embedded set, offline: final test accuracy over seeds, wall time, memory.

Each rule trains the same 512-128-10 network (Adam, batch 16, ``--epochs``) with its float recipe
(``eligo.rules.recipes``, set by the ablations of docs/rules.md), plus the rows of ``EXTRA_ROWS``; the
logistic-regression probe of docs/data.md (spike counts in 4 time windows) is the bar BPTT has to reach.
Prints mean ± std (sample std over the seeds) of the final test accuracy, the wall time of one run and the
measured learning memory per sample; writes ``rules_accuracy.json``
(``{"<dataset>": {"<rule>": {"mean", "std", ...}}, ...}``) and ``rules_accuracy.png``.

    python bench/rules_accuracy.py --out bench/results
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _results import add_out_argument, machine_load, source_commit, write_results
from _training import embedded, float_run
from tqdm import tqdm

DATASETS = ("gestures", "digits")
RULES = ("bptt", "stllr", "tess", "tp", "ttbptt")
SEEDS = (0, 1, 2)
CONFIGS: dict[str, dict] = {rule: {} for rule in RULES}
"""Options of ``float_run`` per rule on top of its float recipe (empty: the recipe, eligo.rules.recipes)."""
CONV = {"hidden": "c8k3s2,128", "input_shape": (2, 16, 16)}
EXTRA_ROWS: dict[str, tuple[str, dict]] = {"bptt_fast_sigmoid": ("bptt", {"surrogate": "fast_sigmoid"}),
                                           "bptt_conv": ("bptt", CONV), "tess_conv": ("tess", CONV)}
"""Rows beside the rules (``--extra``): BPTT with snnTorch's fast-sigmoid Ψ instead of the chip's triangle;
BPTT and TESS with a convolutional front end (8 channels, 3×3, stride 2: 512-512-128-10), the papers' kind
of network."""
MARGIN = 1.5
"""The done criterion of the local rules: within 1.5 points of BPTT (means over the seeds)."""


def linear_probe(dataset: str) -> float:
    """Logistic regression on spike counts in 4 time windows (docs/data.md), test accuracy in %."""
    from sklearn.linear_model import LogisticRegression

    train, test = embedded(dataset)

    def features(data):
        windows = data.spikes.float().reshape(len(data), 4, data.time_steps // 4, -1).sum(2)
        return windows.reshape(len(data), -1).numpy()

    model = LogisticRegression(max_iter=2000, C=0.1).fit(features(train), train.labels.numpy())
    return 100 * model.score(features(test), test.labels.numpy())


def summarize(runs: list[dict]) -> dict:
    """Mean and sample std of the final accuracies over the seeds, the mean curve, wall time and memory."""
    finals = [run["final"] for run in runs]
    return {"mean": statistics.mean(finals), "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "per_seed": finals, "best_per_seed": [run["best"] for run in runs],
            "final_train_loss": statistics.mean(run["train_loss"][-1] for run in runs),
            "curve": [statistics.mean(values) for values in zip(*(run["history"] for run in runs))],
            "wall_s": statistics.mean(run["wall_s"] for run in runs),
            "learning_memory_bytes": runs[0]["learning_memory_bytes"], "options": runs[0]["options"]}


def run(datasets: list[str], rules: list[str], seeds: list[int], epochs: int, extra: list[str]) -> dict:
    rows_run = {rule: (rule, CONFIGS[rule]) for rule in rules} | {name: EXTRA_ROWS[name] for name in extra}
    results: dict = {"seeds": seeds, "epochs": epochs, "datasets": datasets, "rules": rules, "extra_rows": extra,
                     "configs": {name: {"rule": rule, **options} for name, (rule, options) in rows_run.items()}}
    with tqdm(total=len(datasets) * len(rows_run) * len(seeds), desc="rules", unit="run") as progress:
        for dataset in datasets:
            rows: dict = {}
            for name, (rule, options) in rows_run.items():
                runs = []
                for seed in seeds:
                    progress.set_postfix(dataset=dataset, row=name, seed=seed)
                    runs.append(float_run(dataset, rule, seed, epochs=epochs, **options))
                    progress.update(1)
                rows[name] = summarize(runs)
            start = time.perf_counter()
            rows["linear_probe"] = {"mean": linear_probe(dataset), "std": 0.0, "wall_s": time.perf_counter() - start}
            results[dataset] = rows
    return results


def baseline(name: str, rows: dict) -> str:
    """The row a row is compared with: BPTT on the same network (``tess_conv``: ``bptt_conv``), else ``bptt``."""
    _, _, variant = name.partition("_")
    return f"bptt_{variant}" if variant and f"bptt_{variant}" in rows and not name.startswith("bptt") else "bptt"


def verdict(rows: dict) -> dict:
    """Gaps in points to BPTT (on the same network) and to the probe, and whether each done criterion holds."""
    gaps = {name: row["mean"] - rows[baseline(name, rows)]["mean"] for name, row in rows.items()
            if name not in ("bptt", "linear_probe")}
    bptt = rows["bptt"]["mean"]
    return {"bptt_minus_probe": bptt - rows["linear_probe"]["mean"], "minus_bptt": gaps,
            "compared_with": {name: baseline(name, rows) for name in gaps},
            "bptt_at_least_probe": bptt >= rows["linear_probe"]["mean"],
            "within_margin_of_bptt": {rule: gap >= -MARGIN for rule, gap in gaps.items()}}


def plot(results: dict, path: Path) -> None:
    from eligo.plots import new_figure, save_figure

    datasets, rules = results["datasets"], results["rules"] + results["extra_rows"]
    figure, axes = new_figure(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False, layout="constrained")
    for axis, dataset in zip(axes[0], datasets):
        rows = results[dataset]
        means = [rows[rule]["mean"] for rule in rules]
        axis.bar([rule.replace("_", "\n") for rule in rules], means, yerr=[rows[rule]["std"] for rule in rules],
                 capsize=4, color="tab:blue", alpha=0.8)
        for x, rule in enumerate(rules):
            axis.text(x, rows[rule]["mean"] + rows[rule]["std"] + 0.4, f"{rows[rule]['mean']:.1f}", ha="center",
                      fontsize=8)
        probe = rows["linear_probe"]["mean"]
        axis.axhline(probe, color="tab:red", linestyle="--", label=f"linear probe {probe:.1f}")
        axis.set(title=f"{dataset}: {results['epochs']} epochs, seeds {results['seeds']}", ylabel="test accuracy (%)",
                 ylim=(max(0.0, min(means) - 15), 100))
        axis.grid(alpha=0.3, axis="y")
        axis.legend(fontsize=8, loc="lower right")
    save_figure(figure, path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated (default gestures,digits)")
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated, bptt first (default all)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated seeds (default 0,1,2)")
    seeds.add_argument("--seed", type=int, default=None, help="one seed only")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (default 10)")
    parser.add_argument("--extra", default=",".join(EXTRA_ROWS),
                        help=f"comma-separated extra rows, '' for none (default {','.join(EXTRA_ROWS)})")
    add_out_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rules, datasets = args.rules.split(","), args.datasets.split(",")
    if rules[0] != "bptt" or any(rule not in RULES for rule in rules):
        parser.error(f"--rules must start with bptt and name only {', '.join(RULES)}")
    seed_list = [args.seed] if args.seed is not None else [int(s) for s in args.seeds.split(",")]
    commit = source_commit()
    extra = [name for name in args.extra.split(",") if name]
    if any(name not in EXTRA_ROWS for name in extra):
        parser.error(f"--extra names only {', '.join(EXTRA_ROWS)}")
    results = run(datasets, rules, seed_list, args.epochs, extra)
    results.update(source_commit=commit, command="python bench/rules_accuracy.py", **machine_load())
    for dataset in datasets:
        results[dataset]["summary"] = summary = verdict(results[dataset])
        print(f"\n{dataset}: final test accuracy % after {args.epochs} epochs (mean ± std over seeds {seed_list})")
        print(f"  {'rule':<17} {'accuracy':>12} {'− BPTT':>7} {'wall s':>7} {'memory/sample':>14} {'train loss':>10}")
        for name, row in results[dataset].items():
            if name == "summary":
                continue
            gap = f"{summary['minus_bptt'][name]:+7.1f}" if name in summary["minus_bptt"] else f"{'':7}"
            memory = f"{row['learning_memory_bytes'] / 1024:11.1f} kB" if "learning_memory_bytes" in row else ""
            loss = f"{row['final_train_loss']:10.3f}" if "final_train_loss" in row else ""
            print(f"  {name:<17} {row['mean']:6.1f} ± {row['std']:3.1f} {gap} {row['wall_s']:7.1f} {memory:>14}"
                  f" {loss}")
        print(f"  BPTT − probe {summary['bptt_minus_probe']:+.1f}; within {MARGIN} of BPTT: "
              + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in summary["within_margin_of_bptt"].items()))
    write_results(args.out, "rules_accuracy", results, plot)


if __name__ == "__main__":
    main()

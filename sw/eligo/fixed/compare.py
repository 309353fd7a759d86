"""The comparison harness: the same network, data, seed and sample order, trained by the float rule and
by the integer model; reports the test accuracy of both, per seed and as means.

    python -m eligo.fixed.compare --datasets gestures,digits --seeds 0,1,2 --epochs 2 --out runs/compare
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from eligo.config import AcceleratorConfig
from eligo.data import SpikeDataset, load_dataset
from eligo.fixed.train import float_twin, model_from_float, train_fixed


def compare(cfg: AcceleratorConfig, train: SpikeDataset, test: SpikeDataset, *, epochs: int, seed: int,
            progress=None) -> dict:
    """Both histories (``eligo.rules.fit.fit`` format) for one seed."""
    from eligo.rules.fit import fit

    rule = float_twin(cfg, seed)
    model = model_from_float(cfg, rule.network)
    fixed = train_fixed(model, train, test, epochs=epochs, seed=seed, progress=progress)
    floating = fit(rule, train, test, epochs=epochs, batch_size=1, seed=seed, progress=progress)
    return {"float": floating, "fixed": fixed}


def summarize(runs: list[dict]) -> dict:
    """Mean final test accuracies and the float-minus-fixed gap, in points."""
    final = {kind: [run[kind]["epochs"][-1]["test_accuracy"] * 100 for run in runs] for kind in ("float", "fixed")}
    return {"float_accuracy": statistics.mean(final["float"]), "fixed_accuracy": statistics.mean(final["fixed"]),
            "gap_points": statistics.mean(final["float"]) - statistics.mean(final["fixed"]),
            "per_seed": final}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="float rule vs bit-exact integer model, same seed")
    parser.add_argument("--datasets", default="gestures,digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--config", type=Path, default=None, help="AcceleratorConfig JSON (network from the data)")
    parser.add_argument("--out", type=Path, default=Path("runs/compare"))
    args = parser.parse_args(argv)
    import dataclasses

    from tqdm import tqdm

    from eligo.config import NetworkShape

    base = AcceleratorConfig.from_json(args.config.read_text()) if args.config else AcceleratorConfig()
    seeds = [int(s) for s in args.seeds.split(",")]
    report = {"config": base.to_dict(), "float_learning_rate": base.float_learning_rate, "epochs": args.epochs,
              "datasets": {}}
    for name in args.datasets.split(","):
        runs = []
        for seed in seeds:
            train, test = load_dataset(name, "train", seed=seed), load_dataset(name, "test", seed=seed)
            cfg = dataclasses.replace(base, network=NetworkShape(train.n_inputs, base.network.hidden,
                                                                 train.n_classes))
            with tqdm(total=2 * args.epochs * len(train), desc=f"{name} seed {seed}", unit="sample",
                      disable=not sys.stderr.isatty()) as progress:
                runs.append(compare(cfg, train, test, epochs=args.epochs, seed=seed, progress=progress))
        summary = summarize(runs)
        report["datasets"][name] = {"summary": summary, "runs": runs}
        print(f"{name}: float {summary['float_accuracy']:.1f} %, fixed {summary['fixed_accuracy']:.1f} %, "
              f"gap {summary['gap_points']:+.1f} points (mean of seeds {seeds}, {args.epochs} epochs)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

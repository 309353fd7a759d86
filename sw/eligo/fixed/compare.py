"""The comparison harness: the same network, data, seed and sample order, trained by the float rule and
by the integer model; reports the test accuracy of both, per seed and as means.

    python -m eligo.fixed.compare --datasets gestures,digits --seeds 0,1,2 --epochs 2 --out runs/compare

The float runs cost about three times the integer ones. When only chip formats
change, ``--float-from`` takes them from an earlier ``compare.json`` instead:
only runs of the same dataset and seed, with at least as many epochs (the
first epochs of a longer run are the same run), whose float twin had the same
settings (``twin_settings``), are reused; the others are trained.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from eligo.config import LR_DECAY_EVERY, AcceleratorConfig
from eligo.data import SpikeDataset, load_dataset
from eligo.fixed.train import FloatTwin, float_twin, model_from_float, psi_scale, train_fixed


def twin_settings(cfg: AcceleratorConfig) -> dict:
    """Everything ``float_twin`` reads from the config: two configs with equal settings train the same float rule."""
    learning = cfg.learning
    return {"network": list(cfg.network.layer_sizes), "beta": cfg.neuron.beta, "reset": cfg.neuron.reset,
            "readout_leak_shift": cfg.readout.leak_shift, "psi_scale": psi_scale(cfg),
            "lambda_pre": cfg.traces.pre_lambda, "lambda_post": cfg.traces.post_lambda,
            "learning_rate": cfg.float_learning_rate, "rule": learning.rule, "alpha_post": learning.alpha_post,
            "learn_start_step": learning.learn_start_step, "lr_decay_every": LR_DECAY_EVERY,
            "square_wave": [learning.square_half_period_base, learning.square_half_period_step]}


def compare(cfg: AcceleratorConfig, train: SpikeDataset, test: SpikeDataset, *, epochs: int, seed: int,
            progress=None, floating: dict | None = None) -> dict:
    """Both histories (``eligo.rules.fit.fit`` format) for one seed; ``floating`` is a float history to reuse."""
    rule = float_twin(cfg, seed)
    model = model_from_float(cfg, rule.network)
    fixed = train_fixed(model, train, test, epochs=epochs, seed=seed, progress=progress)
    if floating is None:
        floating = train_fixed(FloatTwin(cfg, rule), train, test, epochs=epochs, seed=seed, progress=progress)
    return {"seed": seed, "twin": twin_settings(cfg), "float": floating, "fixed": fixed}


def reusable_float(reports: list[dict], dataset: str, cfg: AcceleratorConfig, seed: int, epochs: int) -> dict | None:
    """The float history of an earlier run of the same twin, dataset and seed, cut to ``epochs``; None if none."""
    settings = twin_settings(cfg)
    for report in reports:
        for run in report.get("datasets", {}).get(dataset, {}).get("runs", []):
            if run.get("seed") == seed and run.get("twin") == settings and len(run["float"]["epochs"]) >= epochs:
                return {**run["float"], "epochs": run["float"]["epochs"][:epochs]}
    return None


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
    parser.add_argument("--rule", choices=("stllr", "tess"), default=None, help="the chip's rule (default: the config's)")
    parser.add_argument("--float-from", type=Path, nargs="*", default=[],
                        help="earlier compare.json files whose float runs to reuse where the twin is the same")
    parser.add_argument("--out", type=Path, default=Path("runs/compare"))
    args = parser.parse_args(argv)
    import dataclasses

    from tqdm import tqdm

    from eligo.config import NetworkShape

    base = AcceleratorConfig.from_json(args.config.read_text()) if args.config else AcceleratorConfig()
    if args.rule:
        base = dataclasses.replace(base, learning=dataclasses.replace(base.learning, rule=args.rule))
    seeds = [int(s) for s in args.seeds.split(",")]
    earlier = [json.loads(path.read_text()) for path in args.float_from]
    report = {"config": base.to_dict(), "float_learning_rate": base.float_learning_rate, "epochs": args.epochs,
              "seeds": seeds, "datasets": {}}
    for name in args.datasets.split(","):
        runs = []
        for seed in seeds:
            train, test = load_dataset(name, "train", seed=seed), load_dataset(name, "test", seed=seed)
            cfg = dataclasses.replace(base, network=NetworkShape(train.n_inputs, base.network.hidden,
                                                                 train.n_classes))
            floating = reusable_float(earlier, name, cfg, seed, args.epochs)
            with tqdm(total=(1 + (floating is None)) * args.epochs * len(train), desc=f"{name} seed {seed}",
                      unit="sample", disable=not sys.stderr.isatty()) as progress:
                runs.append(compare(cfg, train, test, epochs=args.epochs, seed=seed, progress=progress,
                                    floating=floating))
            runs[-1]["float_reused"] = floating is not None
        summary = summarize(runs)
        report["datasets"][name] = {"summary": summary, "runs": runs}
        print(f"{name}: float {summary['float_accuracy']:.1f} %, fixed {summary['fixed_accuracy']:.1f} %, "
              f"gap {summary['gap_points']:+.1f} points (mean of seeds {seeds}, {args.epochs} epochs)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

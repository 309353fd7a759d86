"""How closely the integer model's learning follows the float rule's, format by format.

Both start from the same weights and see the same samples in the same order;
after ``--samples`` samples it compares, per layer, the float rule's weight
change dW_float with the chip's dW_fixed (in float units): their cosine, and
the length of dW_fixed along dW_float relative to |dW_float| (1 = the same
amount of learning in the float direction). Each variant refines some formats
of the default config while keeping the float twin the same rule (the same
float learning rate and trace decays; the Psi peak within 1 %), so the
differences are the integer formats' own. Both runs are chaotic over many samples, so the numbers
fall with ``--samples`` even at high precision. The reference row is the chip
against itself: the default config run twice, the second time with another
LFSR seed, i.e. other stochastic rounding draws.

    python bench/fixed_float_divergence.py --dataset digits --samples 60 --out bench/results
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from _results import add_out_argument, write_results

from eligo.config import AcceleratorConfig, LfsrFormat, NetworkShape, exp_table, triangle_psi
from eligo.data import load_dataset
from eligo.fixed.train import float_network, float_twin, model_from_float
from eligo.plots import new_figure, save_figure

# name -> changes to the default config (nested dicts merge), learning-rate shift as an offset
# from the default's ("lr_shift_offset"), so each keeps float_learning_rate at the default's
VARIANTS = {
    "default (int8 weights, threshold 128)": {},
    "int10 weights, threshold 512": {
        "neuron": {"threshold": 512}, "weight_bits": 10, "psi": {"index_shift": 6},
        "learning": {"lr_shift_offset": -2, "readout_softmax_shift": 6, "tess_softmax_shift": 6}},
    "finer trace and error (pre_increment 64, error_unit 128)": {
        "traces": {"pre_increment": 64}, "learning": {"error_unit": 128, "signal_bits": 9, "lr_shift_offset": 2},
        "lfsr": {"bits": 18, "taps": 0x20400}},
    "all formats finer": {
        "neuron": {"threshold": 512}, "weight_bits": 10, "traces": {"bits": 10, "pre_increment": 128},
        "psi": {"index_shift": 4, "values": list(triangle_psi(0.3, 32, 8)), "bits": 7, "frac_bits": 8},
        "learning": {"error_unit": 256, "signal_bits": 10, "lr_shift_offset": 2,
                     "exp_values": list(exp_table(160, 10, 1 / 32))},
        "lfsr": {"bits": 20, "taps": 0x90000}},
}


def merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if key == "lr_shift_offset":
            out["lr_shift"] = base["lr_shift"] + value
        else:
            out[key] = merged(base[key], value) if isinstance(value, dict) else value
    return out


def train_in_order(dataset: str, seed: int, samples: int, learners) -> None:
    """Feed the first ``samples`` samples of the seeded order to each ``learn(spikes, labels)``."""
    train = load_dataset(dataset, "train", seed=seed)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:samples].tolist()
    for index in order:
        for learn in learners:
            learn(train.spikes[index:index + 1], train.labels[index:index + 1])


def compare_changes(first: list[torch.Tensor], second: list[torch.Tensor]) -> list[dict]:
    """Per layer: both changes' lengths, their cosine, and the second's length along the first, relative."""
    rows = []
    for k, (a, b) in enumerate(zip(first, second)):
        a, b = a.flatten(), b.flatten()
        along = float(a @ b)
        rows.append({"layer": k, "float_change": float(a.norm()), "fixed_change": float(b.norm()),
                     "cosine": along / float(a.norm() * b.norm()), "along_float": along / float(a @ a)})
    return rows


def chip_learner(model):
    return lambda spikes, labels: model.run_sample(spikes[0], int(labels[0]))


def chip_weights(model) -> list[torch.Tensor]:
    """The chip's weights in float units (of the threshold)."""
    return [model.weights(k).double() / model.cfg.neuron.threshold for k in range(len(model.words))]


def divergence(cfg: AcceleratorConfig, dataset: str, seed: int, samples: int) -> list[dict]:
    """dW of the float twin against dW of the chip, from the same start and order."""
    rule = float_twin(cfg, seed)
    model = model_from_float(cfg, rule.network)
    layers = [*rule.network.layers, rule.network.readout]
    float_start = [layer.weight.detach().T.double().clone() for layer in layers]
    fixed_start = chip_weights(model)
    train_in_order(dataset, seed, samples, [chip_learner(model), rule.train_sample])
    return compare_changes([layer.weight.detach().T.double() - w for layer, w in zip(layers, float_start)],
                           [w - w0 for w, w0 in zip(chip_weights(model), fixed_start)])


def self_divergence(cfg: AcceleratorConfig, dataset: str, seed: int, samples: int, lfsr_seed: int) -> list[dict]:
    """dW of the chip against dW of the same chip with another LFSR seed (the 'float' columns are the first run)."""
    network = float_network(cfg, seed)
    models = [model_from_float(c, network) for c in (cfg, dataclasses.replace(cfg, lfsr=dataclasses.replace(
        cfg.lfsr, seed=lfsr_seed)))]
    start = chip_weights(models[0])
    train_in_order(dataset, seed, samples, [chip_learner(model) for model in models])
    return compare_changes(*[[w - w0 for w, w0 in zip(chip_weights(model), start)] for model in models])


def plot(results: dict, path) -> None:
    fig, axis = new_figure(figsize=(9, 4), layout="tight")
    names = list(results["variants"])
    layers = len(next(iter(results["variants"].values()))["layers"])
    width = 0.8 / len(names)
    for v, name in enumerate(names):
        rows = results["variants"][name]["layers"]
        axis.bar([k + (v - (len(names) - 1) / 2) * width for k in range(layers)], [r["cosine"] for r in rows],
                 width, label=name)
    axis.set(xticks=list(range(layers)), xticklabels=[f"layer {k}" for k in range(layers - 1)] + ["readout"],
             ylabel="cosine(dW fixed, dW float)", ylim=(0, 1.35),
             title=f"{results['dataset']}, seed {results['seed']}, after {results['samples']} samples")
    axis.legend(fontsize=7, loc="upper center", ncol=2)
    save_figure(fig, path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=60)
    add_out_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = load_dataset(args.dataset, "train", seed=args.seed)
    base = AcceleratorConfig(network=NetworkShape(train.n_inputs, AcceleratorConfig().network.hidden,
                                                  train.n_classes))
    results = {"dataset": args.dataset, "seed": args.seed, "samples": args.samples, "variants": {}}
    for name, changes in VARIANTS.items():
        cfg = AcceleratorConfig.from_dict(merged(base.to_dict(), changes))
        if cfg.float_learning_rate != base.float_learning_rate:
            raise ValueError(f"variant {name!r} changes the float learning rate: it would compare another rule")
        layers = divergence(cfg, args.dataset, args.seed, args.samples)
        results["variants"][name] = {"changes": changes, "layers": layers}
        print(name + ": " + ", ".join(f"layer {r['layer']} cos {r['cosine']:.2f} along {r['along_float']:.2f}"
                                      for r in layers), flush=True)
    reference = "reference: the default chip against itself, LFSR seed 0x1234"
    layers = self_divergence(base, args.dataset, args.seed, args.samples, lfsr_seed=0x1234)
    results["variants"][reference] = {"changes": {"lfsr": {"seed": 0x1234}}, "layers": layers}
    print(reference + ": " + ", ".join(f"layer {r['layer']} cos {r['cosine']:.2f}" for r in layers), flush=True)
    write_results(args.out, "fixed_float_divergence", results, plot)


if __name__ == "__main__":
    main()

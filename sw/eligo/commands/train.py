"""``eligo train``: train a network with one learning rule; writes ``log.json`` and ``accuracy.png``.

A backend is a function ``train_<backend>(args, dataset_train, dataset_test, progress) -> history``
listed in ``BACKENDS``; the history is ``{"initial": {...}, "epochs": [{"epoch", "train_loss",
"test_loss", "test_accuracy"}, ...]}`` plus anything the backend adds. The log and the plot are
written by the shared code below, whatever the backend.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eligo.config import LR_DECAY_EVERY

RULE_NAMES = ("bptt", "stllr", "tess", "tp", "ttbptt")
EXIT_FAILURE, EXIT_USAGE = 1, 2


def _factors(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"factors must be four numbers, got {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"factors must be λ_post,λ_pre,α_post,α_pre (four numbers), got {text!r}")
    return values


def _shape(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"input shape must be C,H,W with positive integers, got {text!r}")
    return tuple(int(p) for p in parts)


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a spiking network with a learning rule (JSON log + accuracy plot)")
    p.add_argument("--backend", default="float",
                   help="float (PyTorch reference, default); model, rtl, pynq or serial: the chip through the driver "
                        "(model: its bit-exact integer model; rtl: its generated Verilog in a simulator)")
    p.add_argument("--device", default=None, help="pynq: the bitstream; serial: the port (e.g. /dev/ttyUSB1)")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                   help="rtl backend: the simulator (default verilator; icarus builds faster, runs slower)")
    p.add_argument("--rule", choices=RULE_NAMES, default="stllr", help="learning rule (default stllr)")
    p.add_argument("--dataset", default="patterns", help="registered data set name (default patterns)")
    p.add_argument("--time-steps", type=int, default=None, help="passed to the data set loader as time_steps")
    p.add_argument("--samples", type=int, default=None, help="passed to the data set loader as n_samples")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs (default {FLOAT_EPOCHS} on the float backend, {CHIP_EPOCHS} on the chip's: the "
                        "online protocol's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="directory for log.json and accuracy.png")
    p.add_argument("--hidden", default="128", help="hidden layers, e.g. 128 or 128,64 or c8k3s2,128")
    p.add_argument("--input-shape", type=_shape, default=None, help="C,H,W of the inputs, needed by conv layers")
    p.add_argument("--recurrent", action="store_true", help="recurrent weights in every hidden layer")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (float backend: default the rule's recipe, eligo.rules.recipes; model backend: "
                        "rounded to a power-of-two shift, default the configuration's lr_shift)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default=None,
                   help="float backend: learning-rate schedule over the run (default the recipe's, cosine)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--update-every", choices=("step", "window", "sample"), default=None,
                   help="when updates are applied (default: the rule's own)")
    p.add_argument("--window", type=int, default=1, help="steps per update window for --update-every window")
    p.add_argument("--learn-from", type=int, default=0, help="T_l: first time step with a learning signal")
    p.add_argument("--beta", type=float, default=0.875, help="membrane decay")
    p.add_argument("--threshold", type=float, default=1.0)
    p.add_argument("--reset", choices=("subtract", "zero"), default="subtract")
    p.add_argument("--surrogate", choices=("triangle", "fast_sigmoid", "inverse_square"), default="triangle")
    p.add_argument("--readout-beta", type=float, default=None,
                   help="leak of the integrator readout (default: float backend the rule's recipe, chip backends 0)")
    p.add_argument("--factors", type=_factors, default=None, help="S-TLLR/TESS λ_post,λ_pre,α_post,α_pre")
    p.add_argument("--signal", choices=("bp", "dfa", "sdfa"), default="bp",
                   help="S-TLLR learning signal (on chip: bp = W_out^T e, dfa = the square wave)")
    p.add_argument("--lr-decay-every", type=int, default=LR_DECAY_EVERY,
                   help=f"chip backends: halve the learning rate (CONTROL.lr_decay + 1) every this many epochs; "
                        f"0 keeps it constant (default {LR_DECAY_EVERY})")
    p.add_argument("--basis", choices=("sin", "counter"), default="sin", help="TESS square-wave projection")
    p.add_argument("--temperature", type=float, default=None,
                   help="TESS layer loss CE(B·s/τ, y): τ (default the recipe's, 0.03; the paper's code uses 1)")
    p.add_argument("--trace-beta", type=float, default=None, help="TP trace decay (default the recipe's, 0.95)")
    p.add_argument("--truncation", type=int, default=5, help="truncated local BPTT: segment length k")
    p.add_argument("--block-size", type=int, default=1, help="truncated local BPTT: layers per block")
    p.set_defaults(func=run)


FLOAT_EPOCHS, CHIP_EPOCHS = 5, 10


def rule_hyper(args) -> dict:
    """The rule's keyword arguments from the command line (only those the rule takes)."""
    from eligo.rules.recipes import recipe

    rule_recipe = recipe(args.rule)
    # The recipe's rule options (TESS's temperature and alpha_post, TP's trace decay), then the command line's.
    hyper = {key: value for key, value in rule_recipe.items() if key not in ("lr", "schedule", "readout_beta")}
    hyper.update(lr=rule_recipe["lr"] if args.lr is None else args.lr, optimizer=args.optimizer, window=args.window,
                 learn_from=args.learn_from)
    if args.update_every:
        hyper["update_every"] = args.update_every
    if args.rule in ("stllr", "tess") and args.factors:
        hyper.update(zip(("lambda_post", "lambda_pre", "alpha_post", "alpha_pre"), args.factors))
    if args.rule == "stllr":
        hyper.update(signal=args.signal, seed=args.seed)
    elif args.rule == "tess":
        hyper["basis"] = args.basis
        if args.temperature is not None:
            hyper["temperature"] = args.temperature
    elif args.rule == "tp":
        hyper["seed"] = args.seed
        if args.trace_beta is not None:
            hyper["trace_beta"] = args.trace_beta
    elif args.rule == "ttbptt":
        hyper.update(truncation=args.truncation, block_size=args.block_size, seed=args.seed)
        hyper.pop("window")
    return hyper


def train_float(args, dataset_train, dataset_test, progress) -> dict:
    """The PyTorch float reference."""
    import torch

    from eligo.rules import make_rule
    from eligo.rules.fit import fit
    from eligo.rules.recipes import recipe
    from eligo.snn import LIFParams, Surrogate, build_network, parse_hidden

    torch.manual_seed(args.seed)
    lif = LIFParams(beta=args.beta, threshold=args.threshold, reset=args.reset, surrogate=Surrogate(args.surrogate))
    network = build_network(dataset_train.n_inputs, parse_hidden(args.hidden), dataset_train.n_classes, lif=lif,
                            recurrent=args.recurrent, readout_beta=args.readout_beta, input_shape=args.input_shape,
                            seed=args.seed)
    rule = make_rule(args.rule, network, **rule_hyper(args))
    schedule = recipe(args.rule)["schedule"] if args.schedule is None else args.schedule
    return fit(rule, dataset_train, dataset_test, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
               progress=progress, schedule=schedule)


def train_on_chip(args, dataset_train, dataset_test, progress) -> dict:
    """The chip through the driver (``eligo.driver``), learning online at batch size 1."""
    from eligo.driver.train import train_on_device

    return train_on_device(args, dataset_train, dataset_test, progress)


def train_on_rtl(args, dataset_train, dataset_test, progress) -> dict:
    """The same run on the chip's generated Verilog, in a simulator (``eligo_sim.train``)."""
    from eligo_sim.train import train_on_rtl

    return train_on_rtl(args, dataset_train, dataset_test, progress)


BACKENDS = {"float": train_float, "model": train_on_chip, "rtl": train_on_rtl, "pynq": train_on_chip,
            "serial": train_on_chip}


def write_log(out: Path, args, history: dict) -> Path:
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    path = out / "log.json"
    path.write_text(json.dumps({"settings": settings, "history": history}, indent=2))
    return path


def plot_accuracy(out: Path, history: dict, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eligo.plots import save_figure

    epochs = [0] + [e["epoch"] for e in history["epochs"]]
    accuracy = [history["initial"]["test_accuracy"]] + [e["test_accuracy"] for e in history["epochs"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, accuracy, marker="o")
    ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out / "accuracy.png", dpi=120)


def run(args) -> int:
    from tqdm import tqdm

    from eligo.data import load_dataset
    from eligo.driver.errors import DriverError
    from eligo.toolchain import ToolMissing

    backend = BACKENDS.get(args.backend)
    if backend is None:
        print(f"eligo train: unknown backend {args.backend!r}; known: {', '.join(BACKENDS)}", file=sys.stderr)
        return EXIT_USAGE
    if args.epochs is None:
        args.epochs = FLOAT_EPOCHS if args.backend == "float" else CHIP_EPOCHS
    if args.readout_beta is None:
        from eligo.rules.recipes import recipe

        args.readout_beta = recipe(args.rule)["readout_beta"] if args.backend == "float" else 0.0
    options = {k: v for k, v in (("time_steps", args.time_steps), ("n_samples", args.samples)) if v is not None}
    try:
        train = load_dataset(args.dataset, "train", seed=args.seed, **options)
        test = load_dataset(args.dataset, "test", seed=args.seed, **options)
    except (ValueError, TypeError) as exc:
        print(f"eligo train: {exc}", file=sys.stderr)
        return EXIT_USAGE
    batches = -(-len(train) // max(args.batch_size, 1))
    with tqdm(total=args.epochs * batches, desc=f"{args.rule} on {args.dataset}", unit="batch",
              disable=not sys.stderr.isatty()) as progress:
        try:
            history = backend(args, train, test, progress)
        except ValueError as exc:
            print(f"eligo train: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except DriverError as exc:
            print(f"eligo train: {args.backend} device: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        except ToolMissing as exc:
            print(f"eligo train: {args.backend} backend: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    args.out.mkdir(parents=True, exist_ok=True)
    log = write_log(args.out, args, history)
    plot_accuracy(args.out, history, f"{args.rule} on {args.dataset} ({args.backend})")
    final = history["epochs"][-1]
    print(f"{args.rule} on {args.dataset}: test accuracy {final['test_accuracy']:.3f} after {args.epochs} "
          f"epoch(s); log {log}")
    return 0

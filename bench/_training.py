"""One offline float training run of any rule on an embedded set: the harness every accuracy bench shares.

``float_run`` builds the seeded network, trains it with ``eligo.rules.fit.fit`` and measures the rule's
learning memory per sample with ``eligo.accounting.measure``. The data are the embedded sets at their
default generation seed (loaded once per process), so the seed of a run changes only the initial
weights, the fixed projections and the sample order: every rule and the chip see the same samples.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch

from eligo.accounting import measure
from eligo.data import SpikeDataset, load_dataset
from eligo.rules import make_rule
from eligo.rules.fit import fit
from eligo.rules.recipes import recipe
from eligo.snn import LIFParams, Surrogate, build_network, parse_hidden

LEARNING_RATE, BATCH_SIZE, HIDDEN = 5e-3, 16, "128"
NETWORK_OPTIONS = ("hidden", "input_shape", "recurrent", "readout_beta", "gain")
NEURON_OPTIONS = ("beta", "threshold", "reset")
SEEDED_RULES = ("stllr", "tp", "ttbptt")


@lru_cache(maxsize=8)
def embedded(dataset: str, time_steps: int | None = None) -> tuple[SpikeDataset, SpikeDataset]:
    """Train and test splits of a registered set (generated and cached on disk on first use)."""
    options = {} if time_steps is None else {"time_steps": time_steps}
    return load_dataset(dataset, "train", **options), load_dataset(dataset, "test", **options)


def build(dataset: str, rule: str, seed: int, **options):
    """The seeded network and rule of a run; ``options`` as for ``float_run``."""
    options = dict(options)
    train, _ = embedded(dataset, options.pop("time_steps", None))
    net = {k: options.pop(k) for k in NETWORK_OPTIONS if k in options}
    hidden = net.pop("hidden", HIDDEN)
    surrogate = Surrogate(options.pop("surrogate", "triangle"), options.pop("surrogate_scale", None))
    lif = LIFParams(surrogate=surrogate, **{k: options.pop(k) for k in NEURON_OPTIONS if k in options})
    network = build_network(train.n_inputs, parse_hidden(hidden) if isinstance(hidden, str) else tuple(hidden),
                            train.n_classes, lif=lif, seed=seed, **net)
    options.setdefault("lr", LEARNING_RATE)
    hidden_lr_scale = options.pop("hidden_lr_scale", None)
    weight_decay = options.pop("weight_decay", None)
    if rule in SEEDED_RULES:
        options.setdefault("seed", seed)
    learner = make_rule(rule, network, **options)
    if hidden_lr_scale is not None or weight_decay is not None:
        trainables = learner.named_trainables()
        hidden = [p for name, p in trainables.items() if name.startswith("layers.")]
        others = [p for name, p in trainables.items() if not name.startswith("layers.")]
        if learner.optimizer_name == "sgd":
            cls, extra = torch.optim.SGD, {"weight_decay": weight_decay or 0.0}
        else:
            cls, extra = (torch.optim.AdamW, {"weight_decay": weight_decay}) if weight_decay else (torch.optim.Adam, {})
        learner._optimizer = cls([{"params": hidden, "lr": learner.lr * (hidden_lr_scale or 1.0)},
                                  {"params": others, "lr": learner.lr}], lr=learner.lr, **extra)
    return network, learner


def learning_memory(dataset: str, rule: str, seed: int, **options) -> float:
    """Peak learning bytes per sample, measured on one training batch of a fresh copy (2 samples for TP)."""
    options = {k: v for k, v in options.items() if k not in ("batch_size", "schedule")}
    train, _ = embedded(dataset, options.get("time_steps"))
    batch = 2 if rule == "tp" else 1
    _, fresh = build(dataset, rule, seed, **options)
    return measure(fresh, train.spikes[:batch].float(), train.labels[:batch])["peak_bytes"] / batch


def float_run(dataset: str, rule: str, seed: int, epochs: int = 10, **options) -> dict:
    """Train ``rule`` offline on an embedded ``dataset`` for ``epochs``; accuracies in %.

    Unset options take the rule's float recipe (``eligo.rules.recipes``: learning rate, cosine schedule,
    readout leak, rule factors), the defaults of ``eligo train --backend float``. ``options``: network —
    ``hidden`` ("128", "128,128", "c8k3s2,128" or a tuple), ``input_shape``
    (C, H, W; the embedded sets are 2×16×16), ``recurrent``, ``readout_beta``, ``gain``; neuron — ``beta``,
    ``threshold``, ``reset``, ``surrogate`` and ``surrogate_scale``; data — ``time_steps``; training —
    ``batch_size`` (16), ``lr``, ``hidden_lr_scale`` (the hidden layers' rate is ``lr`` times
    this; default the same rate everywhere), ``weight_decay`` (decoupled, AdamW; default none), ``optimizer``
    (Adam), ``schedule`` ('constant' or 'cosine', see
    ``fit``); anything else goes to the rule (e.g.
    ``basis``, ``lambda_pre``, ``signal``). Defaults otherwise are the rule's and the network's own.

    Returns ``{"history": [test accuracy % after each epoch], "final": last of them, "best": max,
    "initial": before training, "wall_s": training wall time, "learning_memory_bytes": measured peak
    learning bytes per sample, "train_loss": [per epoch], "options": options}``.
    """
    options = {**recipe(rule), **options}
    batch_size = options.pop("batch_size", BATCH_SIZE)
    schedule = options.pop("schedule", "constant")
    train, test = embedded(dataset, options.get("time_steps"))
    torch.manual_seed(seed)
    _, trained = build(dataset, rule, seed, **options)
    start = time.perf_counter()
    history = fit(trained, train, test, epochs=epochs, batch_size=batch_size, seed=seed, schedule=schedule)
    wall = time.perf_counter() - start
    curve = [100 * e["test_accuracy"] for e in history["epochs"]]
    return {"dataset": dataset, "rule": rule, "seed": seed, "epochs": epochs, "history": curve,
            "final": curve[-1], "best": max(curve), "initial": 100 * history["initial"]["test_accuracy"],
            "train_loss": [e["train_loss"] for e in history["epochs"]], "wall_s": wall,
            "learning_memory_bytes": learning_memory(dataset, rule, seed, **options),
            "options": {"batch_size": batch_size, "schedule": schedule, **options}}

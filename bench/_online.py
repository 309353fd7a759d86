"""Online (batch 1) training runs of the chip and of its float twin, shared by the accuracy benches.

A run starts from the seeded float network's weights (the chip loads them quantized), visits the
training set in the seeded order, and records the test accuracy after every epoch with its wall time.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

from eligo.config import LR_DECAY_EVERY, AcceleratorConfig, NetworkShape
from eligo.data import SpikeDataset
from eligo.fixed.train import FloatTwin, float_twin, model_from_float, train_fixed

from _training import embedded

DATASETS = ("gestures", "digits")
SEEDS = (0, 1, 2)


def chip_config(train: SpikeDataset, hidden: tuple[int, ...] = (128,), **learning) -> AcceleratorConfig:
    """The default accelerator sized for a data set, with ``learning`` fields changed."""
    base = AcceleratorConfig()
    return dataclasses.replace(base, network=NetworkShape(train.n_inputs, hidden, train.n_classes),
                               learning=dataclasses.replace(base.learning, **learning))


def online_run(cfg: AcceleratorConfig, dataset: str, seed: int, *, epochs: int, kind: str = "chip",
               lr_decay_every: int = LR_DECAY_EVERY) -> dict:
    """Train the chip (``kind`` 'chip': the integer model) or its float twin ('twin') online; accuracies in %."""
    train, test = embedded(dataset)
    rule = float_twin(cfg, seed)
    model = model_from_float(cfg, rule.network) if kind == "chip" else FloatTwin(cfg, rule)
    start = time.perf_counter()
    history = train_fixed(model, train, test, epochs=epochs, seed=seed, lr_decay_every=lr_decay_every)
    curve = [100 * epoch["test_accuracy"] for epoch in history["epochs"]]
    return {"seed": seed, "curve": curve, "final": curve[-1], "best": max(curve),
            "wall_s": time.perf_counter() - start}


def summarize(runs: list[dict]) -> dict:
    """Mean and (sample) standard deviation of the final accuracies, the mean curve and the mean wall time."""
    finals = [run["final"] for run in runs]
    curves = [run["curve"] for run in runs]
    return {"mean": statistics.mean(finals), "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "per_seed": finals, "curve": [statistics.mean(values) for values in zip(*curves)],
            "wall_s": statistics.mean(run["wall_s"] for run in runs)}


def plot_curves(panels: dict[str, dict[str, list[float]]], path: Path) -> None:
    """One panel per title, test accuracy per epoch for each labelled curve."""
    from eligo.plots import new_figure, save_figure

    figure, axes = new_figure(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False, layout="constrained")
    for axis, (title, curves) in zip(axes[0], panels.items()):
        for label, curve in curves.items():
            axis.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=label)
        axis.set(title=title, xlabel="epoch", ylabel="test accuracy (%)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")
    save_figure(figure, path, dpi=110)

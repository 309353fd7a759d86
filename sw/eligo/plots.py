"""Figures of the package, its notebooks and benches: weight histograms before and after on-chip learning,
spike rasters of every layer, accuracy during online training, the design space and the board builds.

A saved network is a chip directory (``config.json`` + ``weights.npz``, integer weights in LSBs) or a
``.nir`` graph (float weights in units of the threshold); both give per-layer ``[n_in, n_out]`` arrays.
Accuracy per epoch is drawn by ``eligo train``, the input raster of a sample next to its events by
``eligo.data.plots``, memory against T by ``bench/memory_vs_time.py``.

Figures are built without pyplot (``new_figure``), so drawing one never switches the backend of the
caller, e.g. a notebook's inline one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def new_figure(rows: int = 1, columns: int = 1, **options):
    """A figure and its axes (``Figure.subplots`` options), drawn by Agg whatever the active pyplot backend."""
    from matplotlib.figure import Figure

    figure_options = {key: options.pop(key) for key in ("figsize", "layout") if key in options}
    fig = Figure(**figure_options)
    return fig, fig.subplots(rows, columns, **options)


def save_figure(fig, out: str | Path, dpi: int) -> Path:
    """Write a matplotlib figure to ``out`` (parents created) and free it: the one way every plot lands on disk."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def saved_weights(path: Path) -> tuple[list[np.ndarray], str]:
    """Per-layer weights ``[n_in, n_out]`` (readout last) of a saved network, and their unit."""
    path = Path(path)
    if path.is_dir():
        from eligo.nir_io import read_chip

        model = read_chip(path)
        return [model.weights(i).numpy() for i in range(len(model.words))], "weight (LSB)"
    if path.suffix == ".nir":
        import nir

        from eligo.nir_io import graph_layers

        return [layer.weight.T for layer in graph_layers(nir.read(path))], "weight (units of the threshold)"
    raise ValueError(f"{path} is neither a chip directory (config.json + weights.npz) nor a .nir graph")


def _bins(before: np.ndarray, after: np.ndarray, count: int = 48) -> np.ndarray:
    """About ``count`` bins; integer weights get bins a whole number of LSBs wide, edges between integers."""
    lo, hi = min(before.min(), after.min()), max(before.max(), after.max())
    if np.issubdtype(before.dtype, np.integer) and np.issubdtype(after.dtype, np.integer):
        width = max(1, -(-int(hi - lo + 1) // count))
        return np.arange(lo - 0.5, hi + width + 0.5, width)
    return np.linspace(lo, hi if hi > lo else lo + 1.0, count + 1)


def plot_weight_histograms(before: Sequence[np.ndarray], after: Sequence[np.ndarray], out: str | Path, *,
                           title: str, unit: str = "weight") -> Path:
    """Write a PNG: per layer, the weight histogram before and after learning, and the share of weights changed."""
    if len(before) != len(after):
        raise ValueError(f"before has {len(before)} layers, after has {len(after)}")
    for index, (b, a) in enumerate(zip(before, after)):
        if np.shape(b) != np.shape(a):
            raise ValueError(f"layer {index}: shape {np.shape(b)} before, {np.shape(a)} after")
    fig, axes = new_figure(1, len(before), figsize=(4.2 * len(before), 3.4), squeeze=False)
    for index, (ax, b, a) in enumerate(zip(axes[0], before, after)):
        b, a = np.asarray(b), np.asarray(a)
        bins = _bins(b, a)
        ax.hist(b.ravel(), bins=bins, histtype="step", linewidth=1.5, label=f"before (std {b.std():.3g})")
        ax.hist(a.ravel(), bins=bins, histtype="step", linewidth=1.5, label=f"after (std {a.std():.3g})")
        changed = float(np.mean(a != b)) if b.size else 0.0
        name = "readout" if index == len(before) - 1 else f"layer {index}"
        ax.set(title=f"{name} {b.shape[0]}×{b.shape[1]}: {100 * changed:.0f} % changed", xlabel=unit,
               ylabel="weights", yscale="log")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def network_spikes(network, spikes) -> dict[str, np.ndarray]:
    """Spikes ``[T, n]`` of the input and of every hidden layer of a float network for one sample ``[T, n_inputs]``."""
    import torch

    sample = torch.as_tensor(spikes).float()[None]
    state = network.init_state(1)
    layers: list[list] = [[] for _ in network.layers]
    with torch.no_grad():
        for t in range(sample.shape[1]):
            records, _, state = network.step(sample[:, t], state)
            for recorded, record in zip(layers, records):
                recorded.append(record.s[0].numpy())
    return {"input": sample[0].numpy(), **{f"layer {i}": np.stack(s) for i, s in enumerate(layers)}}


def plot_spike_rasters(rasters: Mapping[str, np.ndarray], out: str | Path, *, title: str) -> Path:
    """Write a PNG: one raster per named ``[T, n]`` 0/1 array, stacked on a shared time axis."""
    if not rasters:
        raise ValueError("no raster to plot")
    steps = {name: np.shape(r)[0] for name, r in rasters.items()}
    if len(set(steps.values())) != 1 or any(np.ndim(r) != 2 for r in rasters.values()):
        raise ValueError(f"rasters must be [T, n] arrays of one T, got shapes "
                         f"{ {name: np.shape(r) for name, r in rasters.items()} }")
    heights = [max(1.0, min(3.0, np.shape(r)[1] / 40)) for r in rasters.values()]
    fig, axes = new_figure(len(rasters), 1, figsize=(8, 1.2 + sum(heights)), sharex=True, squeeze=False,
                           gridspec_kw={"height_ratios": heights})
    for ax, (name, raster) in zip(axes[:, 0], rasters.items()):
        time, neuron = np.nonzero(np.asarray(raster))
        ax.scatter(time, neuron, s=4, marker="|", color="black")
        ax.set_ylim(-0.5, np.shape(raster)[1] - 0.5)
        ax.set_ylabel(f"{name}\n({len(time)} spikes)", fontsize=8)
    axes[-1, 0].set_xlim(-0.5, next(iter(steps.values())) - 0.5)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def chip_spikes(cfg, weights: Sequence, spikes) -> dict[str, np.ndarray]:
    """Spikes ``[T, n]`` of the input and every hidden layer for one sample ``[T, n_inputs]``, learning off.

    The chip reports only each layer's spike count; the bit-exact model holding the chip's weights (read
    back from it) gives the same layers step by step, so its counts equal the chip's.
    """
    import torch

    from eligo.fixed.model import FixedModel

    class RecordingModel(FixedModel):
        """The fixed-point model, keeping the spikes that enter each layer (the input, then each hidden layer)."""

        def _current(self, layer: int, x: torch.Tensor) -> torch.Tensor:
            entering[layer].append(x[0].numpy().copy())
            return super()._current(layer, x)

    entering: list[list[np.ndarray]] = [[] for _ in range(len(cfg.network.hidden) + 1)]
    RecordingModel(cfg, [torch.as_tensor(np.asarray(w)) for w in weights]).scores(torch.as_tensor(spikes)[None])
    names = ["input"] + [f"layer {i}" for i in range(len(cfg.network.hidden))]
    return {name: np.stack(steps) for name, steps in zip(names, entering)}


def plot_accuracy_curve(samples: Sequence[int], accuracy: Sequence[float], out: str | Path, *, title: str,
                        chance: float) -> Path:
    """Write a PNG: test accuracy against training samples seen, as online learning (batch 1) goes on."""
    if len(samples) != len(accuracy) or not len(samples):
        raise ValueError(f"need as many sample counts as accuracies (at least one), got {len(samples)} "
                         f"and {len(accuracy)}")
    fig, ax = new_figure(figsize=(5.5, 3.5))
    ax.plot(samples, accuracy, marker="o", label="test accuracy")
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set(xlabel="training samples seen (online, batch 1)", ylabel="test accuracy", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def plot_design_space(results: dict, out: str | Path) -> Path:
    """Write a PNG of ``bench/design_space.py``'s sweep against the weights updated a cycle (P x B): cells, Fmax
    and peak rate, and training samples/s at Fmax; one line per number of update banks B."""
    points = results["points"]
    fig, (area, speed, samples) = new_figure(1, 3, figsize=(16, 4.5))
    rate = speed.twinx()
    width = lambda p: p["lanes"] * p.get("banks", 1)  # noqa: E731 (a sweep from before banks has none)
    for banks, bits in sorted({(p.get("banks", 1), p["weight_bits"]) for p in points}):
        chosen = sorted((p for p in points if (p.get("banks", 1), p["weight_bits"]) == (banks, bits)), key=width)
        x = [width(p) for p in chosen]
        label = f"{bits}-bit, " + ("one bank, P swept" if banks == 1 else f"P = {chosen[0]['lanes']}, B = {banks}")
        area.plot(x, [p["LUT"] for p in chosen], marker="o", label=f"LUT, {label}")
        area.plot(x, [p["FF"] for p in chosen], marker="s", linestyle="--", label=f"FF, {label}")
        speed.plot(x, [p["fmax_mhz"] for p in chosen], marker="o", label=f"Fmax, {label}")
        rate.plot(x, [p["peak_gsop_per_s"] for p in chosen], marker="^", linestyle=":", label=f"peak, {label}")
        shown = [p for p in chosen if p.get("train_samples_per_s_at_fmax")]
        samples.plot([width(p) for p in shown], [p["train_samples_per_s_at_fmax"] for p in shown], marker="o",
                     label=label)
    area.set(ylabel="cells used", title=f"logic ({results['part']})")
    speed.axhline(results["constraint_mhz"], color="grey", linewidth=0.8, label="constraint")
    speed.set(ylabel="Fmax (MHz)", ylim=(0, results["constraint_mhz"] * 1.1), title="Fmax and peak rate")
    rate.set(ylabel="peak GSOP/s (P x B x Fmax)", ylim=(0, None))
    samples.set(ylabel="training samples/s at Fmax", ylim=(0, None),
                title=f"{results.get('steps_per_sample', '?')}-step samples, cycles from rtl_cycles")
    swept = sorted({width(p) for p in points})
    for ax in (area, speed, samples):
        ax.set_xscale("log", base=2)
        ax.minorticks_off()
        ax.set_xticks(swept, [str(w) for w in swept])
        ax.set_xlabel("weights updated per cycle (P x B)")
        ax.grid(alpha=0.3)
    area.legend(fontsize=7)
    samples.legend(fontsize=7)
    handles, labels = speed.get_legend_handles_labels()
    rate_handles, rate_labels = rate.get_legend_handles_labels()
    speed.legend(handles + rate_handles, labels + rate_labels, fontsize=7, loc="lower right")
    layer = results["layer"]
    fig.suptitle(f"{results['design']} datapath of a {layer['n_inputs']}x{layer['n_neurons']} layer, "
                 f"{results['board']}")
    fig.tight_layout()
    return save_figure(fig, out, dpi=120)


def plot_board_builds(summaries: Sequence[dict], out: str | Path) -> Path:
    """Write a PNG of placed-and-routed builds (``bitstreams/<board>/<design>/summary.json``): the share of each
    resource used, and Fmax against the clock asked for; builds with no place and route are left out."""
    placed = [s for s in summaries if s.get("resources") and s.get("fmax_mhz")]
    if not placed:
        raise ValueError("no placed-and-routed build among the summaries (each needs resources and fmax_mhz)")
    names = [f"{s['board']}\n{s['design']} (P={s['lanes']})" for s in placed]
    kinds = ("LUT", "FF", "BRAM", "DSP")
    fig, (share, speed) = new_figure(1, 2, figsize=(12, 4))
    width = 0.8 / len(kinds)
    x = np.arange(len(placed))
    for k, kind in enumerate(kinds):
        used = []
        for s in placed:
            entry = s["resources"].get(kind) or (s["resources"].get("LC") if kind == "LUT" else None)
            used.append(100 * entry["used"] / entry["available"] if entry else 0.0)
        share.bar(x + (k - (len(kinds) - 1) / 2) * width, used, width, label=kind if kind != "LUT" else "LUT / LC")
    share.set(xticks=x, ylabel="% of the part used", ylim=(0, 105), title="resources")
    share.set_xticklabels(names, fontsize=7)
    share.legend(fontsize=7)
    fmax = [min(s["fmax_mhz"].values()) for s in placed]
    colours = ["tab:green" if s["timing_met"] else "tab:red" for s in placed]
    speed.bar(x, fmax, 0.5, color=colours)
    speed.scatter(x, [s["clock_mhz"] for s in placed], marker="_", s=900, color="black", label="clock asked for")
    speed.set(xticks=x, ylabel="Fmax (MHz)", title="Fmax (green: timing met, red: not met)")
    speed.set_xticklabels(names, fontsize=7)
    speed.legend(fontsize=7)
    for ax in (share, speed):
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def plot_memory_vs_time(rules: Mapping[str, Sequence[dict]], out: str | Path, *, title: str) -> Path:
    """Write a PNG: learning memory and MACs per sample against T, one line per rule (rows of ``T``, ``bytes``,
    ``macs``, as ``bench/memory_vs_time.py`` and the memory notebook measure them)."""
    fig, (mem, mac) = new_figure(1, 2, figsize=(10, 4))
    for name, rows in rules.items():
        steps = [r["T"] for r in rows]
        mem.plot(steps, [r["bytes"] / 1024 for r in rows], marker="o", label=name)
        mac.plot(steps, [r["macs"] / 1e6 for r in rows], marker="o", label=name)
    mem.set(xlabel="time steps T", ylabel="learning memory per sample (KiB)", yscale="log",
            title="peak tensors kept for learning")
    mac.set(xlabel="time steps T", ylabel="MACs per sample (millions)", title="forward + learning MACs")
    for ax in (mem, mac):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, dpi=120)

"""Weight histograms before and after on-chip learning, from saved networks; spike rasters of every layer.

A saved network is a chip directory (``config.json`` + ``weights.npz``, integer weights in LSBs) or a
``.nir`` graph (float weights in units of the threshold); both give per-layer ``[n_in, n_out]`` arrays.
Accuracy curves are drawn by ``eligo train``, the input raster of a sample next to its events by
``eligo.data.plots``, memory against T by ``bench/memory_vs_time.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(before), figsize=(4.2 * len(before), 3.4), squeeze=False)
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = [max(1.0, min(3.0, np.shape(r)[1] / 40)) for r in rasters.values()]
    fig, axes = plt.subplots(len(rasters), 1, figsize=(8, 1.2 + sum(heights)), sharex=True, squeeze=False,
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

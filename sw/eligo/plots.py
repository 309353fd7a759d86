"""Weight histograms before and after on-chip learning, from saved networks.

A saved network is a chip directory (``config.json`` + ``weights.npz``, integer weights in LSBs) or a
``.nir`` graph (float weights in units of the threshold); both give per-layer ``[n_in, n_out]`` arrays.
Accuracy curves are drawn by ``eligo train``, input rasters by ``eligo.data.plots``, memory against T by
``bench/memory_vs_time.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


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
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

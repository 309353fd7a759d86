"""Pictures of one sample: accumulated event frames of the sensor, and the chip's binned spikes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eligo.data.events import SensorSize
from eligo.data.transforms import bin_events
from eligo.plots import save_figure


def plot_sample(events: np.ndarray, sensor_size: SensorSize, duration: int, spikes: np.ndarray, *,
                title: str, out: str | Path, n_frames: int = 5) -> Path:
    """Write a PNG: ``n_frames`` accumulated frames (ON red, OFF blue) above the spike raster ``[T, n_inputs]``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = bin_events(events, sensor_size, n_frames, start=0, duration=int(duration))  # [F, P, H, W]
    fig = plt.figure(figsize=(2.2 * n_frames, 6.0), constrained_layout=True)
    grid = fig.add_gridspec(2, n_frames, height_ratios=[1, 1.1])
    scale = max(1, int(np.percentile(np.abs(counts[:, -1] - counts[:, 0]), 99)))
    for f in range(n_frames):
        ax = fig.add_subplot(grid[0, f])
        on_minus_off = counts[f, -1] - counts[f, 0] if counts.shape[1] > 1 else counts[f, 0]
        ax.imshow(on_minus_off, cmap="bwr", vmin=-scale, vmax=scale, interpolation="nearest")
        ax.set_title(f"{f * duration / n_frames / 1000:.0f}-{(f + 1) * duration / n_frames / 1000:.0f} ms",
                     fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    raster = fig.add_subplot(grid[1, :])
    steps, inputs = np.nonzero(spikes)
    raster.scatter(steps, inputs, s=2, marker="|", color="black")
    raster.set_xlim(-0.5, spikes.shape[0] - 0.5)
    raster.set_ylim(-0.5, spikes.shape[1] - 0.5)
    raster.set_xlabel("time step")
    raster.set_ylabel("input address (p·H·W + y·W + x)")
    fig.suptitle(f"{title}: {len(events)} events, {int(spikes.sum())} input spikes")
    return save_figure(fig, out, dpi=100)

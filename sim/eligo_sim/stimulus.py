"""Random stimulus shared by cocotb benches and Amaranth-simulator tests."""

from __future__ import annotations

import numpy as np

from eligo.config import NeuronFormat


def neuron_currents(rng: np.random.Generator, fmt: NeuronFormat, n: int) -> np.ndarray:
    """Currents mostly around the threshold (to fire often) and 15 % anywhere in range (to hit the rails)."""
    lo, hi = fmt.input_range
    near = np.clip(rng.integers(-fmt.threshold, 2 * fmt.threshold + 1, size=n), lo, hi)
    anywhere = rng.integers(lo, hi + 1, size=n)
    return np.where(rng.random(n) < 0.15, anywhere, near)

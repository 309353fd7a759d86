"""The one small interface between data and learning: binned spikes and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class SpikeDataset:
    """Samples already binned for the chip.

    ``spikes`` is uint8 ``[N, T, n_inputs]`` with 0/1 entries (an input address
    fires at most once per time step, as on the chip); ``labels`` is int64 ``[N]``.
    """

    name: str
    spikes: torch.Tensor
    labels: torch.Tensor
    n_classes: int

    def __post_init__(self) -> None:
        if self.spikes.dim() != 3:
            raise ValueError(f"{self.name}: spikes must be [N, T, n_inputs], got shape {tuple(self.spikes.shape)}")
        if self.spikes.dtype != torch.uint8 or (self.spikes.numel() and int(self.spikes.max()) > 1):
            raise ValueError(f"{self.name}: spikes must be uint8 with values 0/1")
        if self.labels.shape != (self.spikes.shape[0],):
            raise ValueError(f"{self.name}: {self.labels.shape[0]} labels for {self.spikes.shape[0]} samples")
        if len(self.labels) and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < self.n_classes:
            raise ValueError(f"{self.name}: labels outside 0..{self.n_classes - 1}")

    def __len__(self) -> int:
        return self.spikes.shape[0]

    @property
    def time_steps(self) -> int:
        return self.spikes.shape[1]

    @property
    def n_inputs(self) -> int:
        return self.spikes.shape[2]


Loader = Callable[..., SpikeDataset]
DATASETS: dict[str, Loader] = {}


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Decorator: make a loader ``f(split, *, seed, **options) -> SpikeDataset`` available by name."""

    def decorate(loader: Loader) -> Loader:
        DATASETS[name] = loader
        return loader

    return decorate


def load_dataset(name: str, split: str = "train", *, seed: int = 0, **options) -> SpikeDataset:
    """Load a registered data set; ``split`` is 'train' or 'test'."""
    import eligo.data.digits  # noqa: F401  (each import registers built-in sets)
    import eligo.data.gestures  # noqa: F401
    import eligo.data.patterns  # noqa: F401
    import eligo.data.real  # noqa: F401

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}") from None
    return loader(split, seed=seed, **options)

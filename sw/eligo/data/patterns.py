"""``patterns``: a tiny synthetic spike task for fast unit tests of learning rules.

Each class owns a random subset of inputs that fire with a higher rate,
on top of background noise; train and test draw from disjoint seeds.
"""

from __future__ import annotations

import torch

from eligo.data.dataset import SpikeDataset, register_dataset


@register_dataset("patterns")
def load_patterns(split: str, *, seed: int = 0, n_samples: int | None = None, n_inputs: int = 64,
                  time_steps: int = 10, n_classes: int = 4, active_fraction: float = 0.25,
                  rate_on: float = 0.5, rate_off: float = 0.05) -> SpikeDataset:
    if n_samples is None:
        n_samples = 256 if split == "train" else 128
    prototypes = torch.rand(n_classes, n_inputs, generator=torch.Generator().manual_seed(seed)) < active_fraction
    sample_gen = torch.Generator().manual_seed(seed * 2 + (1 if split == "train" else 2) + 1_000_003)
    labels = torch.randint(0, n_classes, (n_samples,), generator=sample_gen)
    rates = torch.where(prototypes[labels], rate_on, rate_off)[:, None, :].expand(n_samples, time_steps, n_inputs)
    spikes = (torch.rand(rates.shape, generator=sample_gen) < rates).to(torch.uint8)
    return SpikeDataset("patterns", spikes, labels, n_classes)

"""Labelled event samples and the one path from events to the chip's binned spikes.

Real recordings and generated scenes both become an ``EventSet``; ``to_spikes``
applies the same transforms to either (denoise, refractory filter, spatial
downsample, polarity handling, time binning, address mapping), so what the chip
learns from generated data is prepared exactly as a real file would be.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch

from eligo.data.dataset import SpikeDataset
from eligo.data.events import SensorSize
from eligo.data.transforms import Compose, Denoise, Downsample, MergePolarities, RefractoryPeriod, ToSpikes


@dataclass(frozen=True)
class EventSet:
    """Samples of events (t from 0 to the sample's duration, µs), their labels and the sensor."""

    name: str
    samples: tuple[np.ndarray, ...]
    labels: np.ndarray
    durations: np.ndarray
    sensor_size: SensorSize
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not len(self.samples) == len(self.labels) == len(self.durations):
            raise ValueError(f"{self.name}: {len(self.samples)} samples, {len(self.labels)} labels, "
                             f"{len(self.durations)} durations")

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.samples)

    def pipeline(self, duration: int, *, size: int = 16, time_steps: int = 20, polarities: int = 2,
                 denoise_us: int | None = None, refractory_us: int | None = None) -> Compose:
        """The transforms that turn one sample of this set into ``[T, polarities*size*size]`` spikes."""
        if polarities not in (1, 2):
            raise ValueError(f"polarities must be 1 (merged) or 2, got {polarities}")
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        stages = []
        if denoise_us is not None:
            stages.append(Denoise(denoise_us))
        if refractory_us is not None:
            stages.append(RefractoryPeriod(refractory_us))
        stages.append(Downsample(self.sensor_size, (size, size)))
        if polarities == 1:
            stages.append(MergePolarities())
        stages.append(ToSpikes((size, size, polarities), time_steps, duration=int(duration)))
        return Compose(tuple(stages))

    def to_spikes(self, *, progress: bool | None = None, **options) -> SpikeDataset:
        """Bin every sample (see ``pipeline`` for the options) into a ``SpikeDataset``."""
        from tqdm import tqdm

        show = sys.stderr.isatty() if progress is None else progress
        spikes = [self.pipeline(duration, **options)(events)
                  for events, duration in tqdm(zip(self.samples, self.durations), total=len(self),
                                               desc=f"binning {self.name}", disable=not show)]
        if not spikes:
            raise ValueError(f"{self.name}: no samples to bin")
        stacked = np.stack(spikes)
        return SpikeDataset(self.name, torch.from_numpy(stacked), torch.as_tensor(self.labels, dtype=torch.int64),
                            self.n_classes)

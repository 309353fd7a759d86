"""Event transforms with tonic's interface (frozen dataclasses called on events), vectorised.

Each keeps the semantics of the tonic transform of the same name, so either
library's transforms compose with ``tonic.transforms.Compose``; tonic's loop
over events in Python is too slow for a recording of 10^5-10^6 events. The last
stage, ``ToSpikes``, bins time into the chip's T steps and maps each event to
the chip's input address::

    addr = p * H * W + y * W + x        (0 <= addr < P * H * W)

so a 2 x 16 x 16 sensor feeds 512 inputs: OFF events to 0..255, ON to 256..511.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eligo.data.events import SensorSize


def _pixel_index(events: np.ndarray, width: int) -> np.ndarray:
    return events["y"].astype(np.int64) * width + events["x"].astype(np.int64)


def _previous_event_at(pixels: np.ndarray, query_pixels: np.ndarray) -> np.ndarray:
    """For each event i, the index of the latest event j <= i at ``query_pixels[i]``, or -1."""
    n = len(pixels)
    keys = pixels * n + np.arange(n)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    position = np.searchsorted(sorted_keys, query_pixels * n + np.arange(n), side="right") - 1
    found = position >= 0
    candidate = np.where(found, order[np.clip(position, 0, None)], -1)
    return np.where(found & (pixels[np.clip(candidate, 0, None)] == query_pixels), candidate, -1)


@dataclass(frozen=True)
class Denoise:
    """Keep an event only if one of its 4 neighbours fired at most ``filter_time`` µs before it.

    As tonic's ``Denoise``, except that an event whose neighbours never fired is
    dropped even in the first ``filter_time`` µs of the recording.
    """

    filter_time: int = 10_000

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if len(events) == 0:
            return events.copy()
        width = int(events["x"].max()) + 2
        pixels = _pixel_index(events, width)
        times = events["t"]
        keep = np.zeros(len(events), dtype=bool)
        for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            neighbour_x = events["x"].astype(np.int64) + dx
            neighbour_y = events["y"].astype(np.int64) + dy
            inside = (neighbour_x >= 0) & (neighbour_y >= 0)
            previous = _previous_event_at(pixels, np.where(inside, neighbour_y * width + neighbour_x, -1))
            keep |= (previous >= 0) & (times[np.clip(previous, 0, None)] + self.filter_time > times)
        return events[keep]


@dataclass(frozen=True)
class RefractoryPeriod:
    """Drop an event that follows the previous event of its pixel (kept or not) by ``delta`` µs or less.

    As tonic's ``RefractoryPeriod``, except that a pixel's first event is always kept.
    """

    delta: int = 1000

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if len(events) == 0:
            return events.copy()
        pixels = _pixel_index(events, int(events["x"].max()) + 1)
        order = np.argsort(pixels, kind="stable")
        times = events["t"][order]
        first_of_pixel = np.r_[True, pixels[order][1:] != pixels[order][:-1]]
        keep_sorted = first_of_pixel | (np.r_[0, np.diff(times)] > self.delta)
        keep = np.empty(len(events), dtype=bool)
        keep[order] = keep_sorted
        return events[keep]


@dataclass(frozen=True)
class Downsample:
    """Scale pixel coordinates from ``sensor_size`` to ``target_size`` (W, H), flooring like tonic."""

    sensor_size: SensorSize
    target_size: tuple[int, int]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        for axis, name in enumerate(("x", "y")):
            out[name] = events[name].astype(np.int64) * self.target_size[axis] // self.sensor_size[axis]
        return out


@dataclass(frozen=True)
class MergePolarities:
    """All events become polarity 0 (for a one-polarity input map)."""

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        out["p"] = False
        return out


def bin_events(events: np.ndarray, sensor_size: SensorSize, time_steps: int, *,
               start: int | None = None, duration: int | None = None) -> np.ndarray:
    """Event counts ``[T, P, H, W]`` over ``time_steps`` equal bins of [start, start + duration).

    Without ``start``/``duration`` the window follows tonic's ``ToFrame(n_time_bins=T)``:
    from the first event, T bins of ``(t_last - t_first) // T`` µs. Events outside the
    window are dropped.
    """
    width, height, polarities = sensor_size
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    counts = np.zeros((time_steps, polarities, height, width), dtype=np.int32)
    if len(events) == 0:
        return counts
    times = events["t"].astype(np.int64)
    if start is None:
        start = int(times[0])
    if duration is None:
        duration = (int(times[-1]) - int(times[0])) // time_steps * time_steps
    if duration <= 0:
        return counts
    inside = (times >= start) & (times < start + duration)
    steps = (times[inside] - start) * time_steps // duration
    polarity = events["p"][inside].astype(np.int64) if polarities > 1 else np.zeros(int(inside.sum()), np.int64)
    np.add.at(counts, (steps, polarity, events["y"][inside].astype(np.int64), events["x"][inside].astype(np.int64)), 1)
    return counts


def n_addresses(sensor_size: SensorSize) -> int:
    width, height, polarities = sensor_size
    return width * height * polarities


def addresses(events: np.ndarray, sensor_size: SensorSize) -> np.ndarray:
    """The chip input address of each event: ``p * H * W + y * W + x``."""
    width, height, polarities = sensor_size
    polarity = events["p"].astype(np.int64) if polarities > 1 else 0
    return polarity * height * width + events["y"].astype(np.int64) * width + events["x"].astype(np.int64)


@dataclass(frozen=True)
class ToSpikes:
    """Binary spikes ``[T, P*H*W]`` uint8: input address a fires in step t if any event fell there.

    ``duration`` fixes the window to [0, duration) µs (samples cut to a known length);
    without it the window follows ``bin_events``.
    """

    sensor_size: SensorSize
    time_steps: int
    duration: int | None = None

    def __call__(self, events: np.ndarray) -> np.ndarray:
        start = None if self.duration is None else 0
        counts = bin_events(events, self.sensor_size, self.time_steps, start=start, duration=self.duration)
        return (counts > 0).astype(np.uint8).reshape(self.time_steps, -1)


@dataclass(frozen=True)
class Compose:
    """Apply transforms in order (the same contract as tonic's and torchvision's ``Compose``)."""

    transforms: tuple

    def __call__(self, events: np.ndarray):
        for transform in self.transforms:
            events = transform(events)
        return events

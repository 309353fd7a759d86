"""An event-camera emulator: log-intensity frames in, DVS events out.

Each pixel remembers the log intensity at its last event; when the scene's log
intensity, linearly interpolated between frames, moves one contrast threshold
away from it, the pixel fires (ON up, OFF down) at the interpolated crossing
time and its memory steps by one threshold. Non-idealities, after the DVS
literature (Lichtsteiner et al., JSSC 2008; the v2e emulator, Hu et al., CVPRW 2021):

* per-pixel threshold mismatch: ON and OFF thresholds drawn once per pixel,
  normal around the nominal contrast with a relative spread;
* refractory period: a crossing less than ``refractory_us`` after the pixel's
  last event is lost (its memory still steps, so the pixel does not fire late);
* background activity: Poisson events of random polarity at every pixel.

The frame loop runs on a batch of independent scenes at once; no random number
is drawn inside it, so a scene's events do not depend on its batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eligo.data.events import make_events


@dataclass(frozen=True)
class CameraModel:
    """Pixel parameters of the emulated sensor."""

    threshold: float = 0.25          # nominal log-intensity contrast for one event
    mismatch: float = 0.1            # relative standard deviation of per-pixel thresholds
    refractory_us: int = 500
    noise_hz: float = 0.1            # background events per pixel per second

    def thresholds(self, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel (ON, OFF) thresholds, clipped away from zero."""
        on, off = (self.threshold * (1 + self.mismatch * rng.standard_normal(shape)) for _ in range(2))
        floor = 0.2 * self.threshold
        return np.maximum(on, floor), np.maximum(off, floor)

    def noise(self, rng: np.random.Generator, width: int, height: int, duration_us: int) -> np.ndarray:
        """Background-activity events (unsorted)."""
        count = rng.poisson(self.noise_hz * width * height * duration_us * 1e-6)
        return make_events(rng.integers(0, width, count), rng.integers(0, height, count),
                           rng.integers(0, duration_us, count), rng.random(count) < 0.5)


def emulate(log_frames: np.ndarray, frame_times_us: np.ndarray, on_thresholds: np.ndarray,
            off_thresholds: np.ndarray, refractory_us: int) -> list[np.ndarray]:
    """Events of each scene in a batch, each sorted by time.

    ``log_frames`` is ``[B, F, H, W]`` log intensity at ``frame_times_us`` ``[F]``;
    thresholds are ``[B, H, W]``. The first frame sets the pixels' memory.
    """
    batch, n_frames, height, width = log_frames.shape
    memory = log_frames[:, 0].copy()
    last_event = np.full((batch, height, width), -np.iinfo(np.int64).max // 2, dtype=np.int64)
    found: list[tuple[np.ndarray, ...]] = []
    for f in range(1, n_frames):
        t0, t1 = int(frame_times_us[f - 1]), int(frame_times_us[f])
        before, after = log_frames[:, f - 1], log_frames[:, f]
        change = after - before
        gap = after - memory
        b, y, x = np.nonzero((gap >= on_thresholds) | (gap <= -off_thresholds))
        while len(b):  # one threshold step per pass; pixels that crossed several thresholds go round again
            level_now, target = memory[b, y, x], after[b, y, x]
            rising = target - level_now >= on_thresholds[b, y, x]
            firing = rising | (level_now - target >= off_thresholds[b, y, x])
            b, y, x, rising, level_now = b[firing], y[firing], x[firing], rising[firing], level_now[firing]
            level = level_now + np.where(rising, on_thresholds[b, y, x], -off_thresholds[b, y, x])
            start, slope = before[b, y, x], change[b, y, x]
            fraction = np.where(slope != 0, (level - start) / np.where(slope != 0, slope, 1), 1.0)
            times = t0 + np.round(np.clip(fraction, 0.0, 1.0) * (t1 - t0)).astype(np.int64)
            previous = last_event[b, y, x]
            times = np.maximum(times, previous)  # crossings of one pixel stay in order
            memory[b, y, x] = level
            awake = times - previous >= refractory_us
            last_event[b[awake], y[awake], x[awake]] = times[awake]
            found.append((b[awake], x[awake], y[awake], times[awake], rising[awake]))
    if found:
        b, x, y, t, p = (np.concatenate(column) for column in zip(*found))
    else:
        b, x, y, t, p = (np.zeros(0, np.int64),) * 4 + (np.zeros(0, bool),)
    order = np.lexsort((t, b))  # by scene, then time; stable for equal times
    bounds = np.searchsorted(b[order], np.arange(batch + 1))
    events = make_events(x[order], y[order], t[order], p[order])
    return [events[bounds[i]:bounds[i + 1]] for i in range(batch)]


def merge_sorted(*event_arrays: np.ndarray) -> np.ndarray:
    """Concatenate event arrays and sort by time (stable, so equal times keep their order)."""
    events = np.concatenate(event_arrays)
    return events[np.argsort(events["t"], kind="stable")]

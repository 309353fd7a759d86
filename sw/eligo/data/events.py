"""Address-event arrays: the tonic-style structured array every source produces.

An event is ``(x, y, t, p)``: pixel column and row, timestamp in microseconds,
polarity (True = ON, brightness went up). The dtype is field for field the one
tonic uses (``tonic.io.events_struct``), so tonic transforms apply unchanged.
A sensor size is tonic's ``(width, height, polarities)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])

SensorSize = tuple[int, int, int]


class EventFileError(ValueError):
    """A file that cannot be read as events; names the file and the byte offset of the fault."""

    def __init__(self, path: str | Path, offset: int, reason: str) -> None:
        self.path = str(path)
        self.offset = int(offset)
        self.reason = reason
        super().__init__(f"{self.path}: at byte offset {self.offset}: {reason}")


class EmptyRecordingError(ValueError):
    """A recording with no events where a sample is built from it; names the file and why it is empty."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: no events to build a sample from: {reason}")


def make_events(x, y, t, p) -> np.ndarray:
    """Pack equal-length columns into an ``EVENT_DTYPE`` array."""
    columns = [np.asarray(c) for c in (x, y, t, p)]
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise ValueError(f"event columns differ in length: x, y, t, p have {[len(c) for c in columns]}")
    events = np.empty(len(columns[0]), dtype=EVENT_DTYPE)
    for name, column in zip(EVENT_DTYPE.names, columns):
        events[name] = column
    return events


def check_events(events: np.ndarray, sensor_size: SensorSize, path: str | Path,
                 offset_of: Callable[[int], int]) -> np.ndarray:
    """Reject out-of-range coordinates and timestamps that go backwards.

    ``offset_of(i)`` gives the byte offset of event ``i`` in ``path`` so that the
    error points at the faulty record; returns ``events`` unchanged when valid.
    """
    width, height, _ = sensor_size
    for name, limit in (("x", width), ("y", height)):
        bad = (events[name] < 0) | (events[name] >= limit)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise EventFileError(path, offset_of(i),
                                 f"event {i} has {name}={int(events[name][i])} outside 0..{limit - 1}")
    if len(events) > 1:
        backwards = np.flatnonzero(np.diff(events["t"]) < 0)
        if len(backwards):
            i = int(backwards[0]) + 1
            raise EventFileError(path, offset_of(i), f"event {i} has timestamp {int(events['t'][i])} µs, "
                                                     f"before the previous event's {int(events['t'][i - 1])} µs")
    return events

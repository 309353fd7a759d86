"""Fuzzing the event-file readers: arbitrary bytes, truncations and byte flips of valid files.

A reader either returns events that pass ``check_events`` or raises
``EventFileError`` naming the file and an offset inside it; never another
exception. Truncations must raise, except where the format has no length to
check (N-MNIST records, AEDAT 3.1 packets): there the read must be exactly
the events before the cut, nothing half-read. Runs are deterministic
(``derandomize``); ``--hypothesis-show-statistics`` prints the example counts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eligo.data.events import EventFileError, check_events, make_events
from eligo.data.formats import (DVS128_SENSOR, NMNIST_RECORD, NMNIST_SENSOR, read_aedat4, read_aedat31,
                                read_gesture_labels, read_nmnist, read_npy, read_npz, write_aedat31, write_gesture_labels,
                                write_nmnist, write_npz)

FUZZ = settings(max_examples=100, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
N_EVENTS = 40


def valid_events(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    return make_events(rng.integers(0, width, N_EVENTS), rng.integers(0, height, N_EVENTS),
                       np.sort(rng.integers(0, 1 << 20, N_EVENTS)), rng.integers(0, 2, N_EVENTS))


def write_npy(path: Path, events: np.ndarray, sensor_size) -> None:
    np.save(path, events)


FORMATS = {
    # name: (suffix, writer(path, events, sensor), reader, sensor, truncation can land on a record boundary)
    "aedat31": (".aedat", lambda p, e, s: write_aedat31(p, e), read_aedat31, DVS128_SENSOR, True),
    "nmnist": (".bin", lambda p, e, s: write_nmnist(p, e), read_nmnist, NMNIST_SENSOR, True),
    "npy": (".npy", write_npy, lambda p: read_npy(p, DVS128_SENSOR), DVS128_SENSOR, False),
    "npz": (".npz", write_npz, read_npz, DVS128_SENSOR, False),
}


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def valid_file(workdir: Path, fmt: str) -> tuple[Path, np.ndarray]:
    suffix, write, _, sensor, _ = FORMATS[fmt]
    events = valid_events(sensor[0], sensor[1])
    path = workdir / f"valid{suffix}"
    write(path, events, sensor)
    return path, events


def read_or_error(reader, path: Path, size: int, sensor):
    """The reader's result, or None after checking its error names the file and an offset within it."""
    try:
        recording = reader(path)
    except EventFileError as error:
        assert error.path.startswith(str(path)), error
        assert 0 <= error.offset <= size, error
        return None
    check_events(recording.events, sensor, path, lambda i: 0)
    return recording


def test_readers_return_the_written_events(workdir):
    for fmt, (_, _, reader, sensor, _) in FORMATS.items():
        path, events = valid_file(workdir, fmt)
        got = reader(path).events
        assert np.array_equal(got[["x", "y", "t", "p"]], events[["x", "y", "t", "p"]]), fmt


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@FUZZ
@given(data=st.data())
def test_truncated_files_raise_or_read_a_whole_prefix(fmt, data, workdir):
    path, events = valid_file(workdir, fmt)
    _, _, reader, sensor, may_end_on_boundary = FORMATS[fmt]
    whole = path.read_bytes()
    cut = data.draw(st.integers(0, len(whole) - 1), label="cut")
    path.write_bytes(whole[:cut])
    recording = read_or_error(reader, path, cut, sensor)
    if recording is not None:
        assert may_end_on_boundary, f"{fmt}: a file cut at byte {cut} of {len(whole)} read without error"
        got = recording.events
        assert len(got) < len(events)
        assert np.array_equal(got[["x", "y", "t", "p"]], events[: len(got)][["x", "y", "t", "p"]])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@FUZZ
@given(data=st.data())
def test_corrupted_files_raise_or_read_valid_events(fmt, data, workdir):
    path, _ = valid_file(workdir, fmt)
    _, _, reader, sensor, _ = FORMATS[fmt]
    raw = bytearray(path.read_bytes())
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), min_size=1,
                               max_size=4), label="flips")
    for position, mask in flips:
        raw[position] ^= mask
    path.write_bytes(bytes(raw))
    read_or_error(reader, path, len(raw), sensor)


READERS_OF_BYTES = {
    ".aedat": (read_aedat31, DVS128_SENSOR, b"#!AER-DAT3.1\r\n"),
    ".bin": (read_nmnist, NMNIST_SENSOR, b""),
    ".aedat4": (read_aedat4, (1 << 16, 1 << 16, 2), b"#!AER-DAT4.0\r\n"),
    ".npy": (lambda p: read_npy(p, DVS128_SENSOR), DVS128_SENSOR, b"\x93NUMPY\x01\x00"),
    ".npz": (read_npz, DVS128_SENSOR, b"PK\x03\x04"),
}


@pytest.mark.parametrize("suffix", sorted(READERS_OF_BYTES))
@FUZZ
@given(body=st.binary(max_size=300), with_magic=st.booleans())
def test_arbitrary_bytes_raise_the_documented_error(suffix, body, with_magic, workdir):
    reader, sensor, magic = READERS_OF_BYTES[suffix]
    content = (magic if with_magic else b"") + body
    path = workdir / f"arbitrary{suffix}"
    path.write_bytes(content)
    read_or_error(reader, path, len(content), sensor)


@FUZZ
@given(text=st.text(alphabet="0123456789,-\n cs_ta", max_size=120), with_header=st.booleans())
def test_gesture_labels_raise_or_parse(text, with_header, workdir):
    path = workdir / "labels.csv"
    path.write_text(("class,startTime_usec,endTime_usec\n" if with_header else "") + text)
    try:
        labels = read_gesture_labels(path)
    except EventFileError as error:
        assert error.path == str(path)
        return
    assert with_header, "a labels file without its header was read"
    assert (labels["label"] >= 1).all() and (labels["start"] >= 0).all() and (labels["start"] < labels["end"]).all()

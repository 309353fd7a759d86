"""Readers (and, where no library writes the format, writers) of real event files.

Every reader returns a ``Recording``: an ``EVENT_DTYPE`` array and the sensor
size. Every reader either returns all of a file's events or raises
``EventFileError`` naming the file and the byte offset of the fault: truncated
records, wrong headers, out-of-range coordinates and timestamps that go
backwards are never silently cut.

=============  ==================================  =============================
format         used by                             decoded by
=============  ==================================  =============================
AEDAT 3.1      DVS128 Gesture (jAER/cAER)          this module (tonic's reader
                                                   ignores packet types, valid
                                                   bits and short files)
labels CSV     DVS128 Gesture                      this module
N-MNIST .bin   N-MNIST, N-Caltech101               this module (same decoding
                                                   as the dataset's reference)
AEDAT4         DV cameras (iniVation DV software)  the ``aedat`` package
.npy / .npz    tonic-style structured arrays       this module (numpy's format)
=============  ==================================  =============================
"""

from __future__ import annotations

import io
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from eligo.data.events import EVENT_DTYPE, EmptyRecordingError, EventFileError, SensorSize, check_events, make_events


@dataclass(frozen=True)
class Recording:
    """All events of one file, the sensor that produced them, and what the reader left out.

    ``skipped_packets`` counts the packets of other types passed over (AEDAT 3.1 type name -> packets) and
    ``invalid_events`` the events dropped because the file marks them invalid, so a recording that reads
    short says why.
    """

    events: np.ndarray
    sensor_size: SensorSize
    path: str = ""
    skipped_packets: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    invalid_events: int = 0

    def empty_reason(self) -> str | None:
        """Why the recording holds no events (None when it holds some)."""
        if len(self.events):
            return None
        if self.invalid_events:
            return f"all {self.invalid_events} events are marked invalid"
        if self.skipped_packets:
            return f"no polarity packets, only {describe_packets(self.skipped_packets)}"
        return "the file holds no events (empty)"

    def require_events(self) -> Recording:
        """The recording itself; ``EmptyRecordingError`` (file and reason) when there is nothing to learn from."""
        reason = self.empty_reason()
        if reason is not None:
            raise EmptyRecordingError(self.path, reason)
        return self


def describe_packets(counts: Mapping[str, int]) -> str:
    """``{"IMU6": 3, "frame": 1}`` -> ``"3 IMU6 packets, 1 frame packet"``."""
    return ", ".join(f"{n} {name} packet{'s' if n != 1 else ''}" for name, n in counts.items())


# --------------------------------------------------------------------------- AEDAT 3.1

AEDAT31_MAGIC = b"#!AER-DAT3.1"
AEDAT31_END_HEADER = b"#!END-HEADER\r\n"
# event type, source, event size, timestamp offset, timestamp overflow, capacity, number, valid
AEDAT31_PACKET_HEADER = struct.Struct("<hhiiiiii")
AEDAT31_POLARITY = 1
AEDAT31_PACKET_TYPES = {0: "special", 1: "polarity", 2: "frame", 3: "IMU6", 4: "IMU9", 5: "sample", 6: "ear",
                        7: "config", 8: "point1D", 9: "point2D", 10: "point3D", 11: "point4D", 12: "spike"}
"""The event types of AEDAT 3.1 packet headers, by the names of the format's specification."""
AEDAT31_EVENT = np.dtype([("data", "<u4"), ("ts", "<i4")])
DVS128_SENSOR: SensorSize = (128, 128, 2)


def read_aedat31(path: str | Path, sensor_size: SensorSize = DVS128_SENSOR) -> Recording:
    """Polarity events of an AEDAT 3.1 file; other packet types are skipped, invalid events dropped, both counted.

    The 32-bit data word holds the valid mark (bit 0), polarity (bit 1), y
    (bits 2-16) and x (bits 17-31); time is ``ts + (overflow << 31)`` µs.
    """
    data = Path(path).read_bytes()
    if not data.startswith(AEDAT31_MAGIC):
        first_line = data.split(b"\n", 1)[0][:40]
        raise EventFileError(path, 0, f"expected an '{AEDAT31_MAGIC.decode()}' header, found {first_line!r}")
    header_end = data.find(AEDAT31_END_HEADER)
    if header_end < 0:
        raise EventFileError(path, 0, "the header never ends: no '#!END-HEADER' line")
    offset = header_end + len(AEDAT31_END_HEADER)
    columns, offsets = [], []
    skipped: dict[str, int] = {}
    invalid = 0
    while offset < len(data):
        remaining = len(data) - offset
        if remaining < AEDAT31_PACKET_HEADER.size:
            raise EventFileError(path, offset, f"truncated packet header: {remaining} of "
                                               f"{AEDAT31_PACKET_HEADER.size} bytes")
        kind, _source, size, ts_offset, overflow, capacity, number, valid = AEDAT31_PACKET_HEADER.unpack_from(
            data, offset)
        if size <= 0 or capacity < 0 or not 0 <= valid <= number <= capacity:
            raise EventFileError(path, offset, f"corrupted packet header (event size {size}, capacity {capacity}, "
                                               f"number {number}, valid {valid})")
        body = offset + AEDAT31_PACKET_HEADER.size
        if body + capacity * size > len(data):
            raise EventFileError(path, offset, f"truncated packet: it announces {capacity} events of {size} bytes "
                                               f"but only {len(data) - body} bytes follow")
        if kind == AEDAT31_POLARITY:
            if size != AEDAT31_EVENT.itemsize or ts_offset != 4:
                raise EventFileError(path, offset, f"polarity packet with event size {size} and timestamp offset "
                                                   f"{ts_offset}; expected 8 and 4")
            raw = np.frombuffer(data, dtype=AEDAT31_EVENT, count=number, offset=body)
            keep = (raw["data"] & 1).astype(bool)
            invalid += number - int(keep.sum())
            columns.append((raw[keep], overflow))
            offsets.append(body + size * np.flatnonzero(keep))
        else:
            name = AEDAT31_PACKET_TYPES.get(kind, f"type {kind}")
            skipped[name] = skipped.get(name, 0) + 1
        offset = body + capacity * size
    words = np.concatenate([raw["data"] for raw, _ in columns]) if columns else np.zeros(0, np.uint32)
    times = (np.concatenate([raw["ts"].astype(np.int64) + (np.int64(overflow) << 31) for raw, overflow in columns])
             if columns else np.zeros(0, np.int64))
    events = make_events((words >> 17) & 0x7FFF, (words >> 2) & 0x7FFF, times, (words >> 1) & 1)
    event_offsets = np.concatenate(offsets) if offsets else np.zeros(0, np.int64)
    return Recording(check_events(events, sensor_size, path, lambda i: int(event_offsets[i])), sensor_size,
                     str(path), MappingProxyType(skipped), invalid)


AEDAT31_EVENT_BYTES = {0: 8, 2: 36 + 4 * 4 * 2, 3: 36, 4: 48, 5: 8, 6: 8, 7: 12, 8: 16, 9: 20, 10: 24, 11: 28,
                       12: 12}
"""Event sizes the writer gives other packet types (a frame event: its 36-byte header and a 4 x 4 grey image)."""


def write_aedat31(path: str | Path, events: np.ndarray, *, source: str = "DVS128", events_per_packet: int = 4096,
                  invalid: np.ndarray | None = None, other_packets: Sequence[tuple[int, int]] = ()) -> None:
    """Write polarity events as AEDAT 3.1 (the format of DVS128 Gesture), one packet per 31-bit time epoch chunk.

    ``invalid`` (a boolean mask over ``events``) writes those events with their valid mark clear, as cameras
    mark events they have filtered. ``other_packets`` are ``(packet type, events)`` of other types (IMU6,
    frame, special, ...; zero-filled bodies), one written after each polarity packet in turn, the rest after
    the last: what a camera interleaves with its polarity stream.
    """
    events = np.asarray(events)
    if len(events) and (int(events["t"].min()) < 0 or max(int(events["x"].max()), int(events["y"].max())) > 0x7FFF):
        raise ValueError("AEDAT 3.1 holds non-negative timestamps and coordinates below 32768")
    invalid = np.zeros(len(events), bool) if invalid is None else np.asarray(invalid, bool)
    if invalid.shape != (len(events),):
        raise ValueError(f"invalid must be a mask of {len(events)} events, got shape {invalid.shape}")
    unknown = [kind for kind, _ in other_packets if kind not in AEDAT31_EVENT_BYTES]
    if unknown:
        raise ValueError(f"no event size for packet types {unknown}; known: {sorted(AEDAT31_EVENT_BYTES)}")
    others = list(other_packets)

    def write_other(out) -> None:
        kind, number = others.pop(0)
        size = AEDAT31_EVENT_BYTES[kind]
        out.write(AEDAT31_PACKET_HEADER.pack(kind, 1, size, 4, 0, number, number, number))
        out.write(bytes(size * number))

    with open(path, "wb") as out:
        out.write(b"#!AER-DAT3.1\r\n#Format: RAW\r\n")
        out.write(f"#Source 1: {source}\r\n".encode())
        out.write(AEDAT31_END_HEADER)
        epochs = events["t"].astype(np.int64) >> 31
        starts = np.flatnonzero(np.r_[True, np.diff(epochs) != 0]) if len(events) else np.zeros(0, int)
        for epoch_start, epoch_end in zip(starts, np.r_[starts[1:], len(events)]):
            for start in range(epoch_start, epoch_end, events_per_packet):
                chunk = events[start:min(start + events_per_packet, epoch_end)]
                raw = np.empty(len(chunk), dtype=AEDAT31_EVENT)
                valid = ~invalid[start:start + len(chunk)]
                raw["data"] = ((chunk["x"].astype(np.uint32) << 17) | (chunk["y"].astype(np.uint32) << 2)
                               | (chunk["p"].astype(np.uint32) << 1) | valid)
                raw["ts"] = chunk["t"] & 0x7FFF_FFFF
                out.write(AEDAT31_PACKET_HEADER.pack(AEDAT31_POLARITY, 1, AEDAT31_EVENT.itemsize, 4,
                                                     int(epochs[start]), len(chunk), len(chunk), int(valid.sum())))
                out.write(raw.tobytes())
                if others:
                    write_other(out)
        while others:
            write_other(out)


GESTURE_LABELS_HEADER = "class,startTime_usec,endTime_usec"
GESTURE_LABEL_DTYPE = np.dtype([("label", np.int64), ("start", np.int64), ("end", np.int64)])


def read_gesture_labels(path: str | Path) -> np.ndarray:
    """The labels CSV beside each DVS128 Gesture recording: class (1-based) and [start, end) in µs."""
    data = Path(path).read_bytes()
    rows, offset = [], 0
    for number, line in enumerate(data.splitlines(keepends=True)):
        text = line.decode("ascii", errors="replace").strip()
        if number == 0:
            if text != GESTURE_LABELS_HEADER:
                raise EventFileError(path, 0, f"expected the header {GESTURE_LABELS_HEADER!r}, found {text!r}")
        elif text:
            fields = text.split(",")
            if len(fields) != 3 or not all(f.strip().lstrip("-").isdigit() for f in fields):
                raise EventFileError(path, offset, f"line {number + 1} is not 'class,start,end' integers: {text!r}")
            label, start, end = (int(f) for f in fields)
            if label < 1 or start < 0 or end <= start:
                raise EventFileError(path, offset, f"line {number + 1}: class must be >= 1 and 0 <= start < end, "
                                                   f"got {text!r}")
            rows.append((label, start, end))
        offset += len(line)
    if not data:
        raise EventFileError(path, 0, "empty labels file")
    return np.array(rows, dtype=GESTURE_LABEL_DTYPE)


def write_gesture_labels(path: str | Path, labels: np.ndarray) -> None:
    lines = [GESTURE_LABELS_HEADER] + [f"{int(r['label'])},{int(r['start'])},{int(r['end'])}" for r in labels]
    Path(path).write_text("\r\n".join(lines) + "\r\n")


def split_by_labels(events: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, int, int]]:
    """Cut a recording into its labelled gestures: ``(events with t from 0, class, duration µs)``."""
    pieces = []
    for row in labels:
        lo, hi = np.searchsorted(events["t"], [row["start"], row["end"]])
        piece = events[lo:hi].copy()
        piece["t"] -= row["start"]
        pieces.append((piece, int(row["label"]), int(row["end"] - row["start"])))
    return pieces


# --------------------------------------------------------------------------- N-MNIST

NMNIST_SENSOR: SensorSize = (34, 34, 2)
NMNIST_RECORD = 5
NMNIST_OVERFLOW_Y = 240
NMNIST_OVERFLOW_STEP = 1 << 13  # as the data set's reference decoders add per overflow marker


def read_nmnist(path: str | Path, sensor_size: SensorSize = NMNIST_SENSOR) -> Recording:
    """N-MNIST / N-Caltech101 ``.bin``: 40-bit big-endian records x(8) y(8) p(1) t(23).

    A record with y = 240 is a timestamp-overflow marker, not an event.
    """
    data = Path(path).read_bytes()
    if len(data) % NMNIST_RECORD:
        whole = len(data) - len(data) % NMNIST_RECORD
        raise EventFileError(path, whole, f"truncated record: {len(data) % NMNIST_RECORD} of {NMNIST_RECORD} bytes")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, NMNIST_RECORD).astype(np.int64)
    overflow = raw[:, 1] == NMNIST_OVERFLOW_Y
    times = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    times += np.cumsum(overflow) * NMNIST_OVERFLOW_STEP
    keep = np.flatnonzero(~overflow)
    events = make_events(raw[keep, 0], raw[keep, 1], times[keep], raw[keep, 2] >> 7)
    return Recording(check_events(events, sensor_size, path, lambda i: int(keep[i]) * NMNIST_RECORD), sensor_size,
                     str(path))


def write_nmnist(path: str | Path, events: np.ndarray) -> None:
    """Write events as N-MNIST records (no overflow markers: t must stay below 2**23 µs)."""
    events = np.asarray(events)
    if len(events) and (int(events["t"].min()) < 0 or int(events["t"].max()) >= 1 << 23):
        raise ValueError("N-MNIST timestamps must lie in 0 .. 2**23 - 1 µs")
    if len(events) and (int(events["x"].max()) > 255 or int(events["y"].max()) >= NMNIST_OVERFLOW_Y
                        or int(events["x"].min()) < 0 or int(events["y"].min()) < 0):
        raise ValueError("N-MNIST coordinates must be 0..255 (y below 240)")
    t = events["t"].astype(np.int64)
    raw = np.stack([events["x"], events["y"], (events["p"].astype(np.int64) << 7) | (t >> 16),
                    (t >> 8) & 0xFF, t & 0xFF], axis=1).astype(np.uint8)
    Path(path).write_bytes(raw.tobytes())


# --------------------------------------------------------------------------- AEDAT4

AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
AEDAT4_PACKET_HEADER = struct.Struct("<iI")  # stream id, payload size


def read_aedat4(path: str | Path) -> Recording:
    """The first event stream of an AEDAT4 file, decoded by the ``aedat`` package.

    The package decodes (and decompresses) packets; this reader walks the
    packet headers beside it to name the offset of a packet that fails.
    """
    import aedat

    with open(path, "rb") as handle:
        head = handle.read(len(AEDAT4_MAGIC) + 4)
        if not head.startswith(AEDAT4_MAGIC):
            raise EventFileError(path, 0, f"expected the AEDAT4 magic {AEDAT4_MAGIC!r}, found {head[:14]!r}")
        if len(head) < len(AEDAT4_MAGIC) + 4:
            raise EventFileError(path, len(AEDAT4_MAGIC), "truncated before the IO header size")
        try:
            decoder = aedat.Decoder(str(path))
        except (RuntimeError, OSError, ValueError) as exc:
            raise EventFileError(path, len(AEDAT4_MAGIC), f"unreadable IO header: {exc}") from None
        streams = {sid: info for sid, info in decoder.id_to_stream().items() if info["type"] == "events"}
        if not streams:
            raise EventFileError(path, len(AEDAT4_MAGIC), "the file declares no event stream")
        stream_id = min(streams)
        sensor_size = (int(streams[stream_id]["width"]), int(streams[stream_id]["height"]), 2)
        packet_offset = len(AEDAT4_MAGIC) + 4 + struct.unpack_from("<I", head, len(AEDAT4_MAGIC))[0]
        chunks, chunk_offsets = [], []
        packets = iter(decoder)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (RuntimeError, OSError, ValueError) as exc:
                raise EventFileError(path, packet_offset, f"unreadable packet: {exc}") from None
            if packet["stream_id"] == stream_id and "events" in packet:
                chunks.append(packet["events"])
                chunk_offsets.append(packet_offset)
            handle.seek(packet_offset)
            packet_offset += AEDAT4_PACKET_HEADER.size + AEDAT4_PACKET_HEADER.unpack(handle.read(8))[1]
    raw = np.concatenate(chunks) if chunks else np.zeros(0, dtype=[("t", "<i8"), ("x", "<u2"), ("y", "<u2"),
                                                                    ("on", "?")])
    events = make_events(raw["x"], raw["y"], raw["t"], raw["on"])
    starts = np.cumsum([0] + [len(c) for c in chunks])

    def packet_offset_of(i: int) -> int:
        return chunk_offsets[int(np.searchsorted(starts, i, side="right")) - 1]

    return Recording(check_events(events, sensor_size, path, packet_offset_of), sensor_size, str(path))


# --------------------------------------------------------------------------- .npy / .npz

def _parse_npy(data: bytes, name: str, sensor_size: SensorSize | None) -> Recording:
    """Decode one .npy image holding a structured array with x, y, t, p fields (no pickles)."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        header_start = stream.tell()
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(stream)
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:
        # numpy parses the header as a Python literal, so a corrupted one can fail as Python syntax.
        raise EventFileError(name, 0, f"not a valid .npy header: {exc}") from None
    data_start = stream.tell()
    missing = [f for f in EVENT_DTYPE.names if dtype.names is None or f not in dtype.names]
    if dtype.hasobject or missing or len(shape) != 1:
        raise EventFileError(name, header_start, f"expected a 1-D structured array with fields x, y, t, p; "
                                                 f"got shape {shape} dtype {dtype} (missing {missing})")
    expected = data_start + shape[0] * dtype.itemsize
    if len(data) < expected:
        raise EventFileError(name, len(data), f"truncated: the header promises {shape[0]} events "
                                              f"({expected} bytes) but the data ends after {len(data)}")
    raw = np.frombuffer(data, dtype=dtype, count=shape[0], offset=data_start)
    polarity = raw["p"]
    if polarity.dtype != bool and len(raw) and not np.isin(polarity, (0, 1)).all():
        i = int(np.flatnonzero(~np.isin(polarity, (0, 1)))[0])
        raise EventFileError(name, data_start + i * dtype.itemsize, f"event {i} has polarity {polarity[i]}, not 0/1")
    events = make_events(raw["x"], raw["y"], raw["t"], polarity)
    if sensor_size is None:
        sensor_size = (int(events["x"].max()) + 1 if len(events) else 1,
                       int(events["y"].max()) + 1 if len(events) else 1, 2)
    return Recording(check_events(events, sensor_size, name, lambda i: data_start + i * dtype.itemsize), sensor_size,
                     name)


def read_npy(path: str | Path, sensor_size: SensorSize | None = None) -> Recording:
    """A tonic-style structured array saved with ``np.save``; sensor size from the caller or the data."""
    return _parse_npy(Path(path).read_bytes(), str(path), sensor_size)


def read_npz(path: str | Path, sensor_size: SensorSize | None = None) -> Recording:
    """An ``np.savez`` archive with an ``events`` array and optionally ``sensor_size`` (W, H, P).

    Offsets in errors are within the named member (``file.npz::events.npy``).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            if "events.npy" not in members:
                raise EventFileError(path, 0, f"no 'events' array; members are {members}")
            blobs = {m: archive.read(m) for m in ("events.npy", "sensor_size.npy") if m in members}
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        size = Path(path).stat().st_size
        raise EventFileError(path, size, f"not a readable .npz archive (truncated or corrupted): {exc}") from None
    if "sensor_size.npy" in blobs and sensor_size is None:
        stored = np.load(io.BytesIO(blobs["sensor_size.npy"]), allow_pickle=False)
        if stored.shape != (3,):
            raise EventFileError(f"{path}::sensor_size.npy", 0, f"sensor_size must be (W, H, P), got {stored}")
        sensor_size = tuple(int(v) for v in stored)
    return _parse_npy(blobs["events.npy"], f"{path}::events.npy", sensor_size)


def write_npz(path: str | Path, events: np.ndarray, sensor_size: SensorSize) -> None:
    """Save events the way ``read_npz`` reads them back."""
    np.savez_compressed(path, events=np.asarray(events, dtype=EVENT_DTYPE), sensor_size=np.array(sensor_size))


# --------------------------------------------------------------------------- dispatch

READERS = {".aedat": read_aedat31, ".bin": read_nmnist, ".aedat4": read_aedat4, ".npy": read_npy, ".npz": read_npz}


def read_events(path: str | Path) -> Recording:
    """Read any supported event file, chosen by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no event file at {path}")
    try:
        reader = READERS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: unknown event file suffix {path.suffix!r}; known: {', '.join(READERS)}") from None
    return reader(path)

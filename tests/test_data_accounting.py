"""Readers account for what they skip: AEDAT 3.1 files with mixed packet types, invalid events, and nothing at all.

Each file is written in the real format (``write_aedat31`` emits IMU6, frame and special packets beside the
polarity ones, and events with their valid mark clear); the reader must return the valid polarity events, count
the packets it passed over by type and the events it dropped, and a sample must never be built from a
recording that holds no events.
"""

from __future__ import annotations

import numpy as np
import pytest

from eligo.cli import main
from eligo.data import EmptyRecordingError, load_dataset
from eligo.data.formats import (AEDAT31_END_HEADER, AEDAT31_PACKET_HEADER, read_aedat31, read_events, write_aedat31,
                                write_gesture_labels, write_nmnist)
from tests.test_data_formats import assert_same, random_events

IMU6, FRAME, SPECIAL = 3, 2, 0
LABELS = np.array([(1, 0, 1_000_000)], dtype=[("label", np.int64), ("start", np.int64), ("end", np.int64)])


def packet_types(path) -> list[int]:
    """The event type of every packet header in the file, walked by hand (independent of the reader)."""
    data = path.read_bytes()
    offset, kinds = data.index(AEDAT31_END_HEADER) + len(AEDAT31_END_HEADER), []
    while offset < len(data):
        kind, _, size, _, _, capacity, _, _ = AEDAT31_PACKET_HEADER.unpack_from(data, offset)
        kinds.append(kind)
        offset += AEDAT31_PACKET_HEADER.size + size * capacity
    return kinds


def test_mixed_packets_and_invalid_events_are_counted(tmp_path):
    events = random_events(1000, 128, 128)
    invalid = np.random.default_rng(1).random(len(events)) < 0.1
    path = tmp_path / "mixed.aedat"
    write_aedat31(path, events, events_per_packet=200, invalid=invalid,
                  other_packets=[(IMU6, 5), (FRAME, 1), (IMU6, 5), (SPECIAL, 2), (IMU6, 5), (FRAME, 1), (IMU6, 3)])
    assert packet_types(path) == [1, IMU6, 1, FRAME, 1, IMU6, 1, SPECIAL, 1, IMU6, FRAME, IMU6]
    recording = read_aedat31(path)
    assert_same(recording.events, events[~invalid])
    assert dict(recording.skipped_packets) == {"IMU6": 4, "frame": 2, "special": 1}
    assert recording.invalid_events == int(invalid.sum()) > 0
    assert recording.empty_reason() is None and recording.require_events() is recording


def test_invalid_events_are_in_the_file_with_their_valid_mark_clear(tmp_path):
    """tonic's reader ignores the valid mark: it sees every event written, and the mark clear on the invalid ones."""
    import tonic.io

    events = random_events(300, 128, 128)
    invalid = np.arange(len(events)) % 7 == 3
    path = tmp_path / "marked.aedat"
    write_aedat31(path, events, events_per_packet=64, invalid=invalid)
    version, data_start, _ = tonic.io.read_aedat_header_from_file(str(path))
    address = tonic.io.get_aer_events_from_file(str(path), version, data_start)["address"]
    np.testing.assert_array_equal((address & 1) == 0, invalid)
    np.testing.assert_array_equal((address >> 17) & 0x7FFF, events["x"])
    assert read_aedat31(path).invalid_events == int(invalid.sum())


@pytest.mark.parametrize("case", ["no_polarity_packets", "all_invalid", "empty"])
def test_a_recording_without_events_is_refused_where_a_sample_is_built(case, tmp_path):
    folder = tmp_path / "DvsGesture"
    folder.mkdir()
    path = folder / "user03_natural.aedat"
    events = random_events(50, 128, 128, t_max=900_000)
    if case == "no_polarity_packets":
        write_aedat31(path, events[:0], other_packets=[(IMU6, 10), (FRAME, 1), (IMU6, 10)])
        reason = "no polarity packets, only 2 IMU6 packets, 1 frame packet"
    elif case == "all_invalid":
        write_aedat31(path, events, invalid=np.ones(len(events), bool))
        reason = "all 50 events are marked invalid"
    else:
        write_aedat31(path, events[:0])
        reason = "the file holds no events \\(empty\\)"
    recording = read_aedat31(path)
    assert len(recording.events) == 0 and recording.path == str(path)
    write_gesture_labels(folder / "user03_natural_labels.csv", LABELS)
    (folder / "trials_to_train.txt").write_text("user03_natural.aedat\n")
    with pytest.raises(EmptyRecordingError, match=f"{path}: no events to build a sample from: {reason}") as info:
        load_dataset("dvs_gesture", "train", data_root=tmp_path, cache_dir=tmp_path / "cache")
    assert info.value.path == str(path)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_an_empty_nmnist_file_is_refused(tmp_path):
    folder = tmp_path / "NMNIST" / "Train" / "4"
    folder.mkdir(parents=True)
    write_nmnist(folder / "00001.bin", random_events(100, 34, 34, t_max=300_000))
    (folder / "00002.bin").write_bytes(b"")
    with pytest.raises(EmptyRecordingError, match="00002.bin: no events to build a sample from: .*empty"):
        load_dataset("nmnist", "train", data_root=tmp_path, cache_dir=tmp_path / "cache")


def test_inspect_prints_what_the_reader_skipped(tmp_path, capsys):
    events = random_events(400, 128, 128)
    invalid = np.arange(len(events)) < 25
    path = tmp_path / "camera.aedat"
    write_aedat31(path, events, events_per_packet=100, invalid=invalid, other_packets=[(IMU6, 4), (FRAME, 1)])
    assert main(["data", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 375 events, sensor 128 x 128 x 2" in out
    assert "skipped packets: 1 IMU6 packet, 1 frame packet" in out and "invalid events dropped: 25" in out
    only_imu = tmp_path / "imu.aedat"
    write_aedat31(only_imu, events[:0], other_packets=[(IMU6, 4)])
    assert main(["data", "inspect", str(only_imu)]) == 1
    out = capsys.readouterr().out
    assert "0 events" in out and "no sample can be built from it: no polarity packets, only 1 IMU6 packet" in out
    assert read_events(only_imu).skipped_packets == {"IMU6": 1}

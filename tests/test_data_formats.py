"""Real event formats: files written here read back to identical events; bad files fail loudly."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from eligo.data import load_dataset
from eligo.data.events import EVENT_DTYPE, EventFileError, make_events
from eligo.data.formats import (AEDAT31_END_HEADER, AEDAT31_PACKET_HEADER, read_aedat4, read_aedat31, read_events,
                                read_gesture_labels, read_nmnist, read_npy, read_npz, split_by_labels, write_aedat31,
                                write_gesture_labels, write_nmnist, write_npz)


def random_events(n: int, width: int, height: int, seed: int = 0, t_max: int = 2_000_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_events(rng.integers(0, width, n), rng.integers(0, height, n), np.sort(rng.integers(1, t_max, n)),
                       rng.random(n) < 0.5)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert len(got) == len(want)
    for name in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(got[name].astype(np.int64), want[name].astype(np.int64), err_msg=name)


def test_event_dtype_is_tonics():
    import tonic.io

    assert EVENT_DTYPE == tonic.io.events_struct


def test_aedat31_round_trip_and_tonic_reads_the_same(tmp_path):
    import tonic.io

    events = random_events(3000, 128, 128)
    path = tmp_path / "user01_fluorescent.aedat"
    write_aedat31(path, events, events_per_packet=700)
    assert_same(read_aedat31(path).events, events)
    version, data_start, _ = tonic.io.read_aedat_header_from_file(str(path))
    raw = tonic.io.get_aer_events_from_file(str(path), version, data_start)
    address = raw["address"]
    theirs = make_events((address >> 17) & 0x1FFF, (address >> 2) & 0x1FFF, raw["timeStamp"], (address >> 1) & 1)
    assert_same(theirs, events)


def test_aedat31_timestamps_past_31_bits_use_the_overflow_counter(tmp_path):
    events = random_events(500, 128, 128)
    events["t"] += (1 << 31) - 1_000_000
    path = tmp_path / "late.aedat"
    write_aedat31(path, events, events_per_packet=128)
    assert_same(read_aedat31(path).events, events)


def test_aedat31_skips_other_packet_types_and_invalid_events(tmp_path):
    events = random_events(10, 128, 128)
    path = tmp_path / "mixed.aedat"
    write_aedat31(path, events)
    data = bytearray(path.read_bytes())
    body = data.index(AEDAT31_END_HEADER) + len(AEDAT31_END_HEADER) + AEDAT31_PACKET_HEADER.size
    data[body + 8 * 4] &= 0xFE  # clear the valid mark of event 4
    special = AEDAT31_PACKET_HEADER.pack(0, 1, 8, 4, 0, 1, 1, 1) + bytes(8)  # a special-event packet
    path.write_bytes(bytes(data) + special)
    assert_same(read_aedat31(path).events, np.delete(events, 4))


def test_gesture_recording_splits_by_labels_and_loads_as_a_dataset(tmp_path):
    folder = tmp_path / "DvsGesture"
    folder.mkdir()
    events = random_events(4000, 128, 128, t_max=3_000_000)
    write_aedat31(folder / "user02_led.aedat", events)
    labels = np.array([(3, 100_000, 1_100_000), (7, 1_500_000, 2_500_000)],
                      dtype=[("label", np.int64), ("start", np.int64), ("end", np.int64)])
    write_gesture_labels(folder / "user02_led_labels.csv", labels)
    (folder / "trials_to_train.txt").write_text("user02_led.aedat\n")
    np.testing.assert_array_equal(read_gesture_labels(folder / "user02_led_labels.csv"), labels)
    pieces = split_by_labels(events, labels)
    assert [label for _, label, _ in pieces] == [3, 7]
    inside = (events["t"] >= 100_000) & (events["t"] < 1_100_000)
    assert len(pieces[0][0]) == inside.sum() and pieces[0][0]["t"].min() >= 0
    dataset = load_dataset("dvs_gesture", "train", data_root=tmp_path, cache_dir=tmp_path / "cache", time_steps=10)
    assert dataset.labels.tolist() == [2, 6] and dataset.spikes.shape == (2, 10, 512) and dataset.n_classes == 11
    assert int(dataset.spikes.sum()) > 0


def test_nmnist_round_trip_and_tonic_reads_the_same(tmp_path):
    import tonic.io

    events = random_events(2000, 34, 34, t_max=300_000)
    path = tmp_path / "00002.bin"
    write_nmnist(path, events)
    assert_same(read_nmnist(path).events, events)
    assert_same(tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE), events)


def test_nmnist_overflow_markers_shift_later_timestamps(tmp_path):
    path = tmp_path / "overflow.bin"
    record = lambda x, y, p, t: bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])  # noqa: E731
    path.write_bytes(record(1, 2, 1, 8000) + record(0, 240, 0, 0) + record(3, 4, 0, 10))
    events = read_nmnist(path).events
    assert events["t"].tolist() == [8000, 10 + (1 << 13)] and events["x"].tolist() == [1, 3]


def test_nmnist_folder_loads_as_a_dataset(tmp_path):
    for digit in (1, 7):
        (tmp_path / "NMNIST" / "Test" / str(digit)).mkdir(parents=True)
        events = random_events(300, 34, 34, seed=digit, t_max=300_000)
        write_nmnist(tmp_path / "NMNIST" / "Test" / str(digit) / "00001.bin", events)
    dataset = load_dataset("nmnist", "test", data_root=tmp_path, cache_dir=tmp_path / "cache")
    assert dataset.labels.tolist() == [1, 7] and dataset.spikes.shape == (2, 20, 512)


def test_missing_folder_says_what_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="DvsGesture.tar.gz"):
        load_dataset("dvs_gesture", "train", data_root=tmp_path)
    with pytest.raises(FileNotFoundError, match="N-MNIST"):
        load_dataset("nmnist", "train", data_root=tmp_path)


def test_aedat4_written_by_faery_reads_back(tmp_path):
    import faery

    events = random_events(5000, 346, 260)
    theirs = np.zeros(len(events), dtype=faery.EVENTS_DTYPE)
    for name in ("x", "y", "t"):
        theirs[name] = events[name]
    theirs["on"] = events["p"]
    path = tmp_path / "dv.aedat4"
    faery.events_stream_from_array(theirs, dimensions=(346, 260)).to_file(str(path))
    recording = read_events(path)
    assert recording.sensor_size == (346, 260, 2)
    assert_same(recording.events, events)


def test_npy_and_npz_round_trip(tmp_path):
    events = random_events(1000, 64, 48)
    np.save(tmp_path / "e.npy", events)
    assert_same(read_events(tmp_path / "e.npy").events, events)
    other_layout = np.zeros(len(events), dtype=[("t", "<u8"), ("p", "<u1"), ("x", "<u2"), ("y", "<u2")])
    for name in ("x", "y", "t", "p"):
        other_layout[name] = events[name]
    np.savez(tmp_path / "e.npz", events=other_layout, sensor_size=np.array([64, 48, 2]))
    recording = read_npz(tmp_path / "e.npz")
    assert recording.sensor_size == (64, 48, 2)
    assert_same(recording.events, events)
    write_npz(tmp_path / "own.npz", events, (64, 48, 2))
    assert_same(read_events(tmp_path / "own.npz").events, events)


# ------------------------------------------------------------------------------------------ bad input

@contextlib.contextmanager
def raises_at(path, offset: int, match: str):
    """Expect an EventFileError naming ``path`` (or its member) and the given byte offset."""
    with pytest.raises(EventFileError, match=match) as info:
        yield
    assert str(path) in str(info.value) and info.value.offset == offset, str(info.value)


def test_aedat31_bad_files(tmp_path):
    events = random_events(100, 128, 128)
    good = tmp_path / "good.aedat"
    write_aedat31(good, events, events_per_packet=40)
    data = good.read_bytes()
    first_packet = data.index(AEDAT31_END_HEADER) + len(AEDAT31_END_HEADER)
    second_packet = first_packet + AEDAT31_PACKET_HEADER.size + 40 * 8
    cut = tmp_path / "cut.aedat"
    cut.write_bytes(data[:second_packet + 50])
    with raises_at(cut, second_packet, "truncated packet"):
        read_aedat31(cut)
    cut.write_bytes(data[:second_packet + 10])
    with raises_at(cut, second_packet, "truncated packet header"):
        read_aedat31(cut)
    wrong = tmp_path / "wrong.aedat"
    wrong.write_bytes(b"#!AER-DAT2.0\r\n" + data[14:])
    with raises_at(wrong, 0, "AER-DAT3.1"):
        read_aedat31(wrong)
    outside = events.copy()
    outside["x"][17] = 200
    write_aedat31(tmp_path / "outside.aedat", outside, events_per_packet=40)
    with raises_at(tmp_path / "outside.aedat", first_packet + AEDAT31_PACKET_HEADER.size + 17 * 8, "x=200"):
        read_aedat31(tmp_path / "outside.aedat")
    backwards = events.copy()
    backwards["t"][60] = backwards["t"][59] - 1
    write_aedat31(tmp_path / "backwards.aedat", backwards, events_per_packet=40)
    with raises_at(tmp_path / "backwards.aedat", second_packet + AEDAT31_PACKET_HEADER.size + 20 * 8, "event 60"):
        read_aedat31(tmp_path / "backwards.aedat")


def test_gesture_labels_bad_files(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("klass,start,end\n1,0,10\n")
    with raises_at(path, 0, "header"):
        read_gesture_labels(path)
    path.write_text("class,startTime_usec,endTime_usec\n1,0,10\n2,50,x\n")
    with raises_at(path, len("class,startTime_usec,endTime_usec\n1,0,10\n"), "line 3"):
        read_gesture_labels(path)


def test_nmnist_bad_files(tmp_path):
    events = random_events(50, 34, 34, t_max=300_000)
    path = tmp_path / "d.bin"
    write_nmnist(path, events)
    data = path.read_bytes()
    path.write_bytes(data[:-2])
    with raises_at(path, 245, "truncated record"):
        read_nmnist(path)
    outside = events.copy()
    outside["y"][9] = 40
    write_nmnist(path, outside)
    with raises_at(path, 45, "y=40 outside 0..33"):
        read_nmnist(path)
    backwards = events.copy()
    backwards["t"][30] = 0
    write_nmnist(path, backwards)
    with raises_at(path, 150, "event 30 has timestamp 0"):
        read_nmnist(path)


def test_aedat4_bad_files(tmp_path):
    import faery

    theirs = np.zeros(500, dtype=faery.EVENTS_DTYPE)
    theirs["t"] = np.arange(500) * 10
    theirs["x"] = np.arange(500) % 100
    path = tmp_path / "good.aedat4"
    faery.events_stream_from_array(theirs, dimensions=(128, 128)).to_file(str(path))
    data = path.read_bytes()
    first_packet = 14 + 4 + int.from_bytes(data[14:18], "little")
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(data[:first_packet + 40])
    with raises_at(bad, first_packet, "unreadable packet"):
        read_aedat4(bad)
    flipped = bytearray(data)
    flipped[first_packet + 30] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    with raises_at(bad, first_packet, "unreadable packet"):
        read_aedat4(bad)
    bad.write_bytes(b"#!AER-DAT3.1\r\n" + data[14:])
    with raises_at(bad, 0, "magic"):
        read_aedat4(bad)


def test_npy_and_npz_bad_files(tmp_path):
    events = random_events(100, 32, 32)
    path = tmp_path / "e.npy"
    np.save(path, events)
    data = path.read_bytes()
    data_start = len(data) - events.nbytes
    path.write_bytes(data[:-5])
    with raises_at(path, len(data) - 5, "truncated"):
        read_npy(path)
    np.save(path, np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2")]))
    with raises_at(path, 8, "fields x, y, t, p"):
        read_npy(path)
    backwards = events.copy()
    backwards["t"][5] = -1
    np.save(path, backwards)
    with raises_at(path, data_start + 5 * EVENT_DTYPE.itemsize, "event 5"):
        read_npy(path)
    np.save(path, events)
    with raises_at(path, data_start + int(np.argmax(events["x"] >= 16)) * EVENT_DTYPE.itemsize, "x="):
        read_npy(path, sensor_size=(16, 32, 2))
    archive = tmp_path / "e.npz"
    np.savez(archive, events=events)
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) // 2])
    with raises_at(archive, len(whole) // 2, "not a readable .npz"):
        read_npz(archive)
    np.savez(archive, other=events)
    with raises_at(archive, 0, "no 'events' array"):
        read_npz(archive)
    wrong_polarity = np.zeros(4, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
    wrong_polarity["p"][2] = 3
    np.savez(archive, events=wrong_polarity)
    image = io.BytesIO()
    np.save(image, wrong_polarity)
    header = len(image.getvalue()) - wrong_polarity.nbytes
    with raises_at(f"{archive}::events.npy", header + 2 * wrong_polarity.itemsize, "polarity 3"):
        read_npz(archive)

"""Vectorised transforms match tonic's reference implementations, and bin into chip addresses."""

from __future__ import annotations

import numpy as np
import pytest

from eligo.data.events import make_events
from eligo.data.transforms import (Compose, Denoise, Downsample, MergePolarities, RefractoryPeriod, ToSpikes,
                                   addresses, bin_events)


@pytest.fixture(scope="module")
def tonic_transforms():
    import tonic.transforms

    return tonic.transforms


def clustered_events(n: int = 4000, seed: int = 1) -> np.ndarray:
    """Events that are partly clustered (survive denoising) and partly isolated; t starts late."""
    rng = np.random.default_rng(seed)
    cluster = rng.random(n) < 0.6
    x = np.where(cluster, 10 + rng.integers(0, 4, n), rng.integers(0, 32, n))
    y = np.where(cluster, 20 + rng.integers(0, 4, n), rng.integers(0, 32, n))
    return make_events(x, y, np.sort(rng.integers(50_000, 1_000_000, n)), rng.random(n) < 0.5)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert len(got) == len(want)
    for name in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize("filter_time", [500, 5_000])
def test_denoise_matches_tonic(tonic_transforms, filter_time):
    events = clustered_events()
    kept = Denoise(filter_time)(events)
    assert 0 < len(kept) < len(events)
    assert_same(kept, tonic_transforms.Denoise(filter_time=filter_time)(events))


@pytest.mark.parametrize("delta", [1_000, 20_000])
def test_refractory_period_matches_tonic(tonic_transforms, delta):
    events = clustered_events()
    kept = RefractoryPeriod(delta)(events)
    assert 0 < len(kept) < len(events)
    assert_same(kept, tonic_transforms.RefractoryPeriod(delta=delta)(events))


def test_downsample_and_merge_match_tonic(tonic_transforms):
    events = make_events(np.arange(128), np.arange(128)[::-1], np.arange(128), np.arange(128) % 2)
    ours = Downsample((128, 128, 2), (16, 16))(events)
    assert_same(ours, tonic_transforms.Downsample(sensor_size=(128, 128, 2), target_size=(16, 16))(events))
    assert ours["x"].max() == 15 and ours["x"][8] == 1
    assert_same(MergePolarities()(events), tonic_transforms.MergePolarities()(events))


def test_binning_matches_tonic_to_frame(tonic_transforms):
    events = clustered_events()
    sensor = (32, 32, 2)
    ours = bin_events(events, sensor, 7)
    theirs = tonic_transforms.ToFrame(sensor_size=sensor, n_time_bins=7)(events)
    np.testing.assert_array_equal(ours, theirs)


def test_address_map_and_spikes():
    sensor = (16, 16, 2)
    events = make_events([0, 15, 3, 3], [0, 15, 2, 2], [0, 10, 20, 999], [0, 1, 1, 1])
    assert addresses(events, sensor).tolist() == [0, 511, 256 + 2 * 16 + 3, 256 + 2 * 16 + 3]
    spikes = ToSpikes(sensor, time_steps=4, duration=1000)(events)
    assert spikes.shape == (4, 512) and spikes.dtype == np.uint8
    assert np.flatnonzero(spikes[0]).tolist() == [0, 256 + 35, 511]
    assert np.flatnonzero(spikes[3]).tolist() == [256 + 35] and spikes.sum() == 4  # a repeat fires once per step
    merged = Compose((MergePolarities(), ToSpikes((16, 16, 1), 4, duration=1000)))(events)
    assert merged.shape == (4, 256) and merged[0, 255] == 1


def test_events_outside_the_window_are_dropped():
    events = make_events([1, 1], [1, 1], [-5, 1000], [1, 1])
    assert ToSpikes((4, 4, 2), 2, duration=1000)(events).sum() == 0

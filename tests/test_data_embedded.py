"""The embedded generated sets: deterministic, disjoint splits, cached, learnable, same path as real files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eligo.data import load_dataset
from eligo.data.digits import digit_events, image_pool
from eligo.data.emulator import CameraModel, emulate
from eligo.data.gestures import CLASS_NAMES, gesture_events

SETS = ("gestures", "digits")


def test_emulator_fires_one_event_per_threshold_at_the_crossing_time():
    ramp = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)[None, :, None, None]  # one pixel: up 1.0, down 1.0
    thresholds = np.full((1, 1, 1), 0.25, dtype=np.float32)
    (events,) = emulate(ramp, np.array([0, 1000, 2000, 3000]), thresholds, thresholds, refractory_us=0)
    assert events["p"].tolist() == [True] * 4 + [False] * 4
    assert events["t"].tolist() == [250, 500, 750, 1000, 2250, 2500, 2750, 3000]
    (slow,) = emulate(ramp, np.array([0, 1000, 2000, 3000]), thresholds, thresholds, refractory_us=400)
    assert slow["t"].tolist() == [250, 750, 2250, 2750]  # crossings within the refractory period are lost


def test_camera_noise_rate():
    noise = CameraModel(noise_hz=2.0).noise(np.random.default_rng(0), 50, 40, 1_000_000)
    assert abs(len(noise) - 4000) < 4 * np.sqrt(4000)
    assert noise["x"].max() < 50 and noise["y"].max() < 40


@pytest.mark.parametrize("name", SETS)
def test_defaults_shape_and_determinism(name, tmp_path):
    first = load_dataset(name, "train", n_samples=12, cache_dir=tmp_path / "a")
    again = load_dataset(name, "train", n_samples=12, cache_dir=tmp_path / "b")
    other_seed = load_dataset(name, "train", n_samples=12, seed=1, cache_dir=tmp_path / "c")
    assert first.spikes.shape == (12, 20, 512) and first.n_classes == 10
    assert torch.equal(first.spikes, again.spikes) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.spikes, other_seed.spikes)
    assert 0.01 < float(first.spikes.float().mean()) < 0.5


@pytest.mark.parametrize("events_of", [gesture_events, digit_events])
def test_one_sample_regenerates_alone_and_raw_events_bin_like_the_dataset(events_of, tmp_path):
    batch = events_of("test", n_samples=5, progress=False)
    alone = events_of("test", indices=[3], progress=False)
    np.testing.assert_array_equal(alone.samples[0], batch.samples[3])
    assert alone.labels[0] == batch.labels[3]
    dataset = load_dataset(batch.name, "test", n_samples=5, time_steps=8, size=8, cache_dir=tmp_path)
    assert torch.equal(dataset.spikes, batch.to_spikes(time_steps=8, size=8, progress=False).spikes)
    times = np.concatenate([s["t"] for s in batch.samples])
    assert times.min() >= 0 and times.max() < batch.durations[0]
    assert all(np.all(np.diff(s["t"]) >= 0) for s in batch.samples)


def test_gestures_cover_every_class_and_digit_splits_never_share_an_image():
    assert len(CLASS_NAMES) == 10
    train, test = image_pool("train", 0, 1797), image_pool("test", 0, 1797)
    assert not set(train) & set(test) and len(train) + len(test) == 1797


@pytest.mark.parametrize("name", SETS)
def test_train_and_test_share_no_sample(name, tmp_path):
    train = load_dataset(name, "train", n_samples=40, cache_dir=tmp_path)
    test = load_dataset(name, "test", n_samples=40, cache_dir=tmp_path)
    train_rows = {bytes(np.packbits(s.numpy())) for s in train.spikes}
    assert not any(bytes(np.packbits(s.numpy())) in train_rows for s in test.spikes)


def test_cache_is_used_and_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ELIGO_CACHE_DIR", str(tmp_path))
    built = load_dataset("gestures", "test", n_samples=4)
    (entry,) = tmp_path.glob("gestures-test-*.npz")
    monkeypatch.setattr("eligo.data.gestures.gesture_events", lambda *a, **k: pytest.fail("cache was not used"))
    assert torch.equal(load_dataset("gestures", "test", n_samples=4).spikes, built.spikes)
    assert entry.stat().st_size > 0


@pytest.mark.parametrize("name", SETS)
def test_a_linear_baseline_learns_far_above_chance(name, tmp_path):
    """Logistic regression on spike counts in 4 time windows: chance is 0.1."""
    from sklearn.linear_model import LogisticRegression

    train = load_dataset(name, "train", n_samples=160, cache_dir=tmp_path)
    test = load_dataset(name, "test", n_samples=80, cache_dir=tmp_path)

    def features(dataset):
        return dataset.spikes.float().reshape(len(dataset), 4, 5, -1).sum(2).reshape(len(dataset), -1).numpy()

    model = LogisticRegression(max_iter=1000, C=0.1).fit(features(train), train.labels.numpy())
    assert model.score(features(test), test.labels.numpy()) >= 0.5

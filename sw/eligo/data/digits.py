"""``digits``: scikit-learn's bundled 8 x 8 digits seen by an emulated event camera in three saccades.

As N-MNIST was recorded (Orchard et al., Frontiers in Neuroscience 2015), the
camera moves, the image does not: each digit is upsampled to 24 x 24, centred on
a 34 x 34 sensor, and the view sweeps an isosceles triangle in three saccades
of 100 ms. Per sample: a small random offset, saccade scale, gain, pixel
threshold mismatch and background noise. The 1797 images are split once by a
seeded permutation (30 % test), so a test digit is never seen in training; a
split larger than its pool reuses images with fresh camera noise.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from eligo.data.cache import cached_dataset
from eligo.data.dataset import SpikeDataset, register_dataset
from eligo.data.emulator import CameraModel, emulate, merge_sorted
from eligo.data.eventset import EventSet

GENERATOR_VERSION = 1
SENSOR = (34, 34, 2)
IMAGE_PX = 24
SACCADE_US = 100_000
DURATION_US = 3 * SACCADE_US
FRAME_US = 5_000
TRIANGLE_PX = np.array([[0.0, 0.0], [2.0, 3.0], [-2.0, 3.0], [0.0, 0.0]]) - [0.0, 2.0]  # vertices, centred
TEST_FRACTION = 0.3
CLASS_NAMES = tuple(str(d) for d in range(10))
SPLIT_CODES = {"train": 0, "test": 1}
DEFAULT_SIZES = {"train": 1000, "test": 300}
REFRACTORY_US = 500


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray]:
    """The 8 x 8 digits bilinearly upsampled to ``IMAGE_PX``, as linear intensity in [0, 1] (read-only)."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = zoom(digits.images / 16.0, (1, IMAGE_PX / 8, IMAGE_PX / 8), order=1)
    images, targets = np.clip(images, 0.0, 1.0), digits.target.astype(np.int64)
    images.flags.writeable = targets.flags.writeable = False
    return images, targets


def image_pool(split: str, seed: int, n_images: int) -> np.ndarray:
    """Indices of the images a split draws from; the two pools are disjoint."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    order = np.random.default_rng([GENERATOR_VERSION, seed, 7]).permutation(n_images)
    n_test = int(round(TEST_FRACTION * n_images))
    return order[:n_test] if split == "test" else order[n_test:]


def saccade_offsets(frame_us: np.ndarray) -> np.ndarray:
    """Camera offset ``[F, 2]`` (pixels) along the triangle, easing in and out of each saccade."""
    leg = np.minimum(frame_us // SACCADE_US, 2)
    progress = np.clip((frame_us - leg * SACCADE_US) / SACCADE_US, 0.0, 1.0)
    eased = (1 - np.cos(np.pi * progress)) / 2
    return TRIANGLE_PX[leg] + (TRIANGLE_PX[leg + 1] - TRIANGLE_PX[leg]) * eased[:, None]


def _shifted(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Images ``[B, h, w]`` placed at the sensor centre plus ``shifts [B, F, 2]``: frames ``[B, F, H, W]``.

    Bilinear sampling: what a pixel sees when the view moves by a fraction of a pixel.
    """
    width, height, _ = SENSOR
    pad = (width - IMAGE_PX) // 2 + 4
    canvas = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    whole = np.floor(shifts).astype(np.int64)
    fraction = (shifts - whole).astype(np.float32)
    ys, xs = np.arange(height), np.arange(width)
    b = np.arange(len(images))[:, None, None, None]
    frames = np.zeros((*shifts.shape[:2], height, width), dtype=np.float32)
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        rows = ys[None, None, :, None] - whole[..., 1, None, None] - dy + pad - (width - IMAGE_PX) // 2
        cols = xs[None, None, None, :] - whole[..., 0, None, None] - dx + pad - (width - IMAGE_PX) // 2
        weight = ((fraction[..., 0] if dx else 1 - fraction[..., 0])
                  * (fraction[..., 1] if dy else 1 - fraction[..., 1]))[..., None, None]
        frames += weight * canvas[b, rows, cols]
    return frames


def digit_events(split: str, *, seed: int = 0, n_samples: int | None = None, indices=None,
                 batch_size: int = 64, progress: bool | None = None) -> EventSet:
    """Raw events (tonic-style arrays on the 34 x 34 sensor) of the chosen samples of a split."""
    from tqdm import tqdm

    if indices is None:
        indices = range(DEFAULT_SIZES[split] if n_samples is None else n_samples)
    indices = [int(i) for i in indices]
    if any(i < 0 for i in indices):
        raise ValueError("sample indices must be >= 0")
    images, targets = _images()
    pool = image_pool(split, seed, len(images))
    frame_us = np.arange(0, DURATION_US + 1, FRAME_US)
    path = saccade_offsets(frame_us)
    width, height, _ = SENSOR
    samples, labels = [], []
    show = sys.stderr.isatty() if progress is None else progress
    for first in tqdm(range(0, len(indices), batch_size), desc=f"generating digits/{split}", disable=not show):
        batch = indices[first:first + batch_size]
        rngs = [np.random.default_rng([GENERATOR_VERSION, seed, SPLIT_CODES[split], i]) for i in batch]
        chosen = pool[[i % len(pool) for i in batch]]
        offsets = np.stack([rng.uniform(-1.0, 1.0, 2) for rng in rngs])
        scales = np.array([rng.uniform(0.8, 1.2) for rng in rngs])
        gains = np.array([rng.uniform(0.7, 1.0) for rng in rngs], dtype=np.float32)
        cameras = [CameraModel(threshold=rng.uniform(0.2, 0.3), mismatch=0.1, refractory_us=REFRACTORY_US,
                               noise_hz=rng.uniform(0.1, 1.0)) for rng in rngs]
        thresholds = [camera.thresholds(rng, (height, width)) for camera, rng in zip(cameras, rngs)]
        linear = _shifted(images[chosen], offsets[:, None, :] + scales[:, None, None] * path[None])
        log_frames = np.log(0.15 + gains[:, None, None, None] * linear)
        signal = emulate(log_frames, frame_us, np.stack([on for on, _ in thresholds]).astype(np.float32),
                         np.stack([off for _, off in thresholds]).astype(np.float32), REFRACTORY_US)
        samples += [merge_sorted(events, camera.noise(rng, width, height, DURATION_US))
                    for events, camera, rng in zip(signal, cameras, rngs)]
        labels += targets[chosen].tolist()
    return EventSet("digits", tuple(samples), np.array(labels, dtype=np.int64), np.full(len(indices), DURATION_US),
                    SENSOR, CLASS_NAMES)


@register_dataset("digits")
def load_digits_events(split: str, *, seed: int = 0, n_samples: int | None = None, time_steps: int = 20,
                       size: int = 16, polarities: int = 2, cache_dir=None,
                       progress: bool | None = None) -> SpikeDataset:
    n_samples = DEFAULT_SIZES[split] if n_samples is None else n_samples
    key = {"name": "digits", "version": GENERATOR_VERSION, "split": split, "seed": seed, "n_samples": n_samples,
           "time_steps": time_steps, "size": size, "polarities": polarities}
    return cached_dataset(key, lambda: digit_events(split, seed=seed, n_samples=n_samples, progress=progress)
                          .to_spikes(size=size, time_steps=time_steps, polarities=polarities, progress=progress),
                          cache_dir)

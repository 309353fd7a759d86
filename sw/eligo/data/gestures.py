"""``gestures``: an emulated event camera watching synthetic hand-motion scenes.

Ten classes of motion in the spirit of DVS128 Gesture (Amir et al., CVPR 2017):
one or two "hands" (soft rounded squares, brighter or darker than the scene) move
in front of a textured background that a shaking camera makes flicker, with an
optional distractor drifting across. Every sample draws its own speed, phase,
position, amplitude, hand size and contrast, texture, camera shake, pixel
threshold mismatch and background-noise rate, from a seed of its own
(``seed``, split, index): train and test never share a generator state, and any
one sample can be regenerated alone (``gesture_events(..., indices=[i])``).

The emulated sensor is 64 x 64 pixels; samples last 500 ms (frames every 5 ms,
events interpolated between them, µs timestamps).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from eligo.data.cache import cached_dataset
from eligo.data.dataset import SpikeDataset, register_dataset
from eligo.data.emulator import CameraModel, emulate, merge_sorted
from eligo.data.eventset import EventSet

GENERATOR_VERSION = 1
SENSOR = (64, 64, 2)
DURATION_US = 500_000
FRAME_US = 5_000
CLASS_NAMES = ("wave_left", "wave_right", "rotate_cw", "rotate_ccw", "drums",
               "converge", "diverge", "swipe_left", "swipe_right", "roll")
SPLIT_CODES = {"train": 0, "test": 1}
DEFAULT_SIZES = {"train": 1000, "test": 300}
MAX_BLOBS = 3  # two hands and a distractor
BLOB_SHARPNESS = 6  # a hand is the product of two 1/(1 + (d/r)^6) profiles: a soft, rounded square
REFRACTORY_US = 500


@dataclass(frozen=True)
class Scene:
    """One sample's scene: blob paths (pixels), radii, contrasts (log units, 0 = absent), background, camera."""

    label: int
    centers: np.ndarray       # [F, MAX_BLOBS, 2] (x, y)
    radii: np.ndarray         # [MAX_BLOBS]
    contrasts: np.ndarray     # [MAX_BLOBS]
    texture: np.ndarray       # [3, H, W]: log intensity and its x, y gradients
    shake: np.ndarray         # [F, 2] camera offset (pixels)
    camera: CameraModel


def _eased(progress: np.ndarray) -> np.ndarray:
    """Smooth start and stop of a one-way movement (0 -> 1)."""
    p = np.clip(progress, 0.0, 1.0)
    return p * p * (3 - 2 * p)


def _hand_paths(label: int, rng: np.random.Generator, s: np.ndarray) -> list[np.ndarray]:
    """Hand centres ``[F, 2]`` in sensor widths (0..1) at times ``s`` (seconds)."""
    period, phase = rng.uniform(0.18, 0.32), rng.uniform(0, 2 * np.pi)
    amplitude = rng.uniform(0.12, 0.2)
    cx, cy = 0.5 + rng.uniform(-0.08, 0.08), 0.5 + rng.uniform(-0.08, 0.08)
    u = 2 * np.pi * s / period + phase
    start, move = rng.uniform(0.0, 0.12), rng.uniform(0.22, 0.36)
    progress = _eased((s - start) / move)
    name = CLASS_NAMES[label]
    if name in ("wave_left", "wave_right"):
        cx = (0.3 if name == "wave_left" else 0.7) + rng.uniform(-0.06, 0.06)
        return [np.stack([cx + 0.7 * amplitude * np.sin(u), cy + 0.03 * np.sin(2 * u)], axis=1)]
    if name in ("rotate_cw", "rotate_ccw"):  # y grows downwards: rising angle turns clockwise on screen
        turn = 1 if name == "rotate_cw" else -1
        return [np.stack([cx + amplitude * np.cos(turn * u), cy + amplitude * np.sin(turn * u)], axis=1)]
    if name == "drums":
        gap = rng.uniform(0.15, 0.22)
        return [np.stack([np.full_like(s, cx - gap), cy + amplitude * np.sin(u)], axis=1),
                np.stack([np.full_like(s, cx + gap), cy - amplitude * np.sin(u)], axis=1)]
    if name in ("converge", "diverge"):
        far, near = rng.uniform(0.3, 0.42), rng.uniform(0.06, 0.12)
        gap = far + (near - far) * progress if name == "converge" else near + (far - near) * progress
        return [np.stack([cx - gap, np.full_like(s, cy)], axis=1), np.stack([cx + gap, np.full_like(s, cy)], axis=1)]
    if name in ("swipe_left", "swipe_right"):
        begin, end = (0.85, 0.15) if name == "swipe_left" else (0.15, 0.85)
        return [np.stack([begin + (end - begin) * progress, cy + 0.05 * np.sin(np.pi * progress)], axis=1)]
    turn = rng.choice([-1, 1])  # roll: two hands circling each other
    radius = 0.8 * amplitude
    return [np.stack([cx + radius * np.cos(turn * u), cy + radius * np.sin(turn * u)], axis=1),
            np.stack([cx - radius * np.cos(turn * u), cy - radius * np.sin(turn * u)], axis=1)]


def _texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth random background (sum of plane waves) and its gradients, in log units."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((3, height, width))
    strength = rng.uniform(0.0, 0.35)
    for _ in range(4):
        fx, fy = rng.uniform(-5, 5, 2) * 2 * np.pi / width
        angle = fx * x + fy * y + rng.uniform(0, 2 * np.pi)
        amplitude = strength * rng.uniform(0.3, 1.0) / 2
        out[0] += amplitude * np.cos(angle)
        out[1] -= amplitude * fx * np.sin(angle)
        out[2] -= amplitude * fy * np.sin(angle)
    return out.astype(np.float32)


def make_scene(label: int, rng: np.random.Generator, frame_s: np.ndarray) -> Scene:
    width, height, _ = SENSOR
    hands = _hand_paths(label, rng, frame_s)
    centers = np.zeros((len(frame_s), MAX_BLOBS, 2))
    radii, contrasts = np.ones(MAX_BLOBS), np.zeros(MAX_BLOBS)
    hand_radius = rng.uniform(0.07, 0.12) * width
    hand_contrast = rng.choice([-1, 1]) * rng.uniform(0.6, 1.2)
    for k, path in enumerate(hands):
        centers[:, k] = path * width
        radii[k], contrasts[k] = hand_radius, hand_contrast
    if rng.random() < 0.35:
        start, velocity = rng.uniform(0.1, 0.9, 2), rng.uniform(-0.6, 0.6, 2)
        centers[:, 2] = (start + velocity * frame_s[:, None]) * width
        radii[2], contrasts[2] = rng.uniform(0.04, 0.07) * width, rng.choice([-1, 1]) * rng.uniform(0.3, 0.6)
    shake_amplitude, shake_hz, shake_phase = rng.uniform(0, 0.8, 2), rng.uniform(3, 8, 2), rng.uniform(0, 6.3, 2)
    shake = shake_amplitude * np.sin(2 * np.pi * shake_hz * frame_s[:, None] + shake_phase)
    camera = CameraModel(threshold=rng.uniform(0.2, 0.3), mismatch=0.1, refractory_us=REFRACTORY_US,
                         noise_hz=rng.uniform(0.05, 0.5))
    return Scene(label, centers, radii, contrasts, _texture(rng, width, height), shake, camera)


def render(scenes: list[Scene]) -> np.ndarray:
    """Log-intensity frames ``[B, F, H, W]`` (float32) of a batch of scenes."""
    width, height, _ = SENSOR
    texture = np.stack([scene.texture for scene in scenes])               # [B, 3, H, W]
    shake = np.stack([scene.shake for scene in scenes]).astype(np.float32)  # [B, F, 2]
    frames = (texture[:, None, 0] - shake[..., 0, None, None] * texture[:, None, 1]
              - shake[..., 1, None, None] * texture[:, None, 2])
    xs, ys = np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    for k in range(MAX_BLOBS):
        centers = np.stack([scene.centers[:, k] for scene in scenes]).astype(np.float32)       # [B, F, 2]
        radii = np.array([scene.radii[k] for scene in scenes], dtype=np.float32)[:, None, None]
        contrasts = np.array([scene.contrasts[k] for scene in scenes], dtype=np.float32)[:, None, None]
        across = contrasts / (1 + ((xs - centers[..., 0, None]) / radii) ** BLOB_SHARPNESS)  # [B, F, W]
        down = 1 / (1 + ((ys - centers[..., 1, None]) / radii) ** BLOB_SHARPNESS)            # [B, F, H]
        frames += down[..., :, None] * across[..., None, :]
    return frames


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator state of one sample: distinct for every (seed, split, index)."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    return np.random.default_rng([GENERATOR_VERSION, seed, SPLIT_CODES[split], index])


def gesture_events(split: str, *, seed: int = 0, n_samples: int | None = None, indices=None,
                   batch_size: int = 32, progress: bool | None = None) -> EventSet:
    """Raw events (tonic-style arrays on the 64 x 64 sensor) of the chosen samples of a split."""
    from tqdm import tqdm

    if indices is None:
        indices = range(DEFAULT_SIZES[split] if n_samples is None else n_samples)
    indices = [int(i) for i in indices]
    if any(i < 0 for i in indices):
        raise ValueError("sample indices must be >= 0")
    frame_us = np.arange(0, DURATION_US + 1, FRAME_US)
    width, height, _ = SENSOR
    samples = []
    show = sys.stderr.isatty() if progress is None else progress
    for first in tqdm(range(0, len(indices), batch_size), desc=f"generating gestures/{split}", disable=not show):
        batch = indices[first:first + batch_size]
        rngs = [sample_rng(seed, split, i) for i in batch]
        scenes = [make_scene(i % len(CLASS_NAMES), rng, frame_us * 1e-6) for i, rng in zip(batch, rngs)]
        thresholds = [scene.camera.thresholds(rng, (height, width)) for scene, rng in zip(scenes, rngs)]
        signal = emulate(render(scenes), frame_us, np.stack([on for on, _ in thresholds]).astype(np.float32),
                         np.stack([off for _, off in thresholds]).astype(np.float32), REFRACTORY_US)
        samples += [merge_sorted(events, scene.camera.noise(rng, width, height, DURATION_US))
                    for events, scene, rng in zip(signal, scenes, rngs)]
    labels = np.array([i % len(CLASS_NAMES) for i in indices], dtype=np.int64)
    return EventSet("gestures", tuple(samples), labels, np.full(len(indices), DURATION_US), SENSOR, CLASS_NAMES)


@register_dataset("gestures")
def load_gestures(split: str, *, seed: int = 0, n_samples: int | None = None, time_steps: int = 20, size: int = 16,
                  polarities: int = 2, cache_dir=None, progress: bool | None = None) -> SpikeDataset:
    n_samples = DEFAULT_SIZES[split] if n_samples is None else n_samples
    key = {"name": "gestures", "version": GENERATOR_VERSION, "split": split, "seed": seed, "n_samples": n_samples,
           "time_steps": time_steps, "size": size, "polarities": polarities}
    return cached_dataset(key, lambda: gesture_events(split, seed=seed, n_samples=n_samples, progress=progress)
                          .to_spikes(size=size, time_steps=time_steps, polarities=polarities, progress=progress),
                          cache_dir)

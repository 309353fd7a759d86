"""Real recordings from a local folder: DVS128 Gesture and N-MNIST.

Nothing is downloaded: the user fetches the data set once and names the folder
that holds it (``data_root=`` / ``--data-root``, or ``$ELIGO_DATA_ROOT``). Both go
through the same ``EventSet.to_spikes`` path as the generated sets, and the
binned result is cached.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from eligo.data.cache import cached_dataset
from eligo.data.dataset import SpikeDataset, register_dataset
from eligo.data.eventset import EventSet
from eligo.data.formats import DVS128_SENSOR, NMNIST_SENSOR, read_aedat31, read_gesture_labels, read_nmnist, \
    split_by_labels

DATA_ROOT_ENV = "ELIGO_DATA_ROOT"
DVS_GESTURE_CLASSES = ("hand_clap", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
                       "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
                       "arm_roll", "air_drums", "air_guitar", "other")
NMNIST_DURATION_US = 300_000  # three saccades of 100 ms


def resolve_data_root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV])
    raise ValueError(f"no data folder: pass data_root= (--data-root) or set ${DATA_ROOT_ENV}")


def dvs_gesture_events(split: str, *, data_root: str | Path | None = None) -> EventSet:
    """Every labelled gesture of the recordings listed in ``trials_to_<split>.txt``; classes 1..11 -> 0..10."""
    folder = resolve_data_root(data_root) / "DvsGesture"
    trials = folder / f"trials_to_{split}.txt"
    if not trials.is_file():
        raise FileNotFoundError(
            f"DVS128 Gesture not found: {trials} is missing. Download DvsGesture.tar.gz (IBM Research, "
            f"'DVS128 Gesture Dataset', https://research.ibm.com/interactive/dvsgesture/) and extract it into "
            f"{folder.parent}, so that {folder} holds the .aedat recordings, their _labels.csv files and "
            f"trials_to_train.txt / trials_to_test.txt.")
    samples, labels, durations = [], [], []
    for name in trials.read_text().split():
        recording = read_aedat31(folder / name).require_events()
        for events, label, duration in split_by_labels(recording.events,
                                                        read_gesture_labels(folder / name.replace(".aedat",
                                                                                                  "_labels.csv"))):
            samples.append(events)
            labels.append(label - 1)
            durations.append(duration)
    return EventSet("dvs_gesture", tuple(samples), np.array(labels, np.int64), np.array(durations, np.int64),
                    DVS128_SENSOR, DVS_GESTURE_CLASSES)


def nmnist_events(split: str, *, data_root: str | Path | None = None, n_samples: int | None = None,
                  seed: int = 0) -> EventSet:
    """N-MNIST ``.bin`` files under ``NMNIST/Train|Test/<digit>/``; ``n_samples`` picks a seeded subset."""
    folder = resolve_data_root(data_root) / "NMNIST" / split.capitalize()
    files = sorted(folder.glob("[0-9]/*.bin"))
    if not files:
        raise FileNotFoundError(
            f"N-MNIST not found: no {folder}/<digit>/*.bin files. Download Train.zip and Test.zip of N-MNIST "
            f"(Orchard et al. 2015, https://www.garrickorchard.com/datasets/n-mnist) and extract them into "
            f"{folder.parent}, giving {folder.parent}/Train/0/00002.bin and so on.")
    if n_samples is not None:
        files = [files[i] for i in np.sort(np.random.default_rng(seed).permutation(len(files))[:n_samples])]
    samples = tuple(read_nmnist(path).require_events().events for path in files)
    labels = np.array([int(path.parent.name) for path in files], np.int64)
    return EventSet("nmnist", samples, labels, np.full(len(files), NMNIST_DURATION_US), NMNIST_SENSOR,
                    tuple(str(d) for d in range(10)))


def _cache_key(name: str, split: str, root: Path, **options) -> dict:
    return {"name": name, "split": split, "data_root": str(root.resolve()), **options}


@register_dataset("dvs_gesture")
def load_dvs_gesture(split: str, *, seed: int = 0, data_root: str | Path | None = None, time_steps: int = 20,
                     size: int = 16, polarities: int = 2, denoise_us: int | None = None,
                     refractory_us: int | None = None, cache_dir=None, progress: bool | None = None) -> SpikeDataset:
    root = resolve_data_root(data_root)
    options = {"time_steps": time_steps, "size": size, "polarities": polarities, "denoise_us": denoise_us,
               "refractory_us": refractory_us}
    return cached_dataset(_cache_key("dvs_gesture", split, root, **options),
                          lambda: dvs_gesture_events(split, data_root=root).to_spikes(progress=progress, **options),
                          cache_dir)


@register_dataset("nmnist")
def load_nmnist(split: str, *, seed: int = 0, data_root: str | Path | None = None, n_samples: int | None = None,
                time_steps: int = 20, size: int = 16, polarities: int = 2, denoise_us: int | None = None,
                refractory_us: int | None = None, cache_dir=None, progress: bool | None = None) -> SpikeDataset:
    root = resolve_data_root(data_root)
    options = {"time_steps": time_steps, "size": size, "polarities": polarities, "denoise_us": denoise_us,
               "refractory_us": refractory_us}
    return cached_dataset(_cache_key("nmnist", split, root, seed=seed, n_samples=n_samples, **options),
                          lambda: nmnist_events(split, data_root=root, n_samples=n_samples, seed=seed)
                          .to_spikes(progress=progress, **options), cache_dir)

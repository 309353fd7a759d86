"""On-disk cache of binned data sets, so a generated or parsed set is built once.

The cache lives in ``cache_dir`` when given, else ``$ELIGO_CACHE_DIR``, else
``~/.cache/eligo``. Spikes are stored bit-packed; the file name carries a hash of
everything that shapes the data (source, generator version, split, seed, sizes),
so a change of any of them builds a new entry instead of reading a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from eligo.data.dataset import SpikeDataset

CACHE_ENV = "ELIGO_CACHE_DIR"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path.home() / ".cache" / "eligo"


def cache_path(key: dict, cache_dir: str | Path | None = None) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_root(cache_dir) / f"{key['name']}-{key['split']}-{digest}.npz"


def save_dataset(path: Path, dataset: SpikeDataset, meta: dict) -> None:
    """Write atomically (temporary file, then rename) so concurrent readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    spikes = dataset.spikes.numpy()
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        np.savez_compressed(handle, spikes=np.packbits(spikes, axis=-1), shape=np.array(spikes.shape),
                            labels=dataset.labels.numpy(), n_classes=dataset.n_classes,
                            meta=json.dumps(meta))
    os.replace(handle.name, path)


def load_cached(path: Path, name: str) -> tuple[SpikeDataset, dict]:
    with np.load(path, allow_pickle=False) as stored:
        shape = tuple(int(v) for v in stored["shape"])
        spikes = np.unpackbits(stored["spikes"], axis=-1, count=shape[-1])
        dataset = SpikeDataset(name, torch.from_numpy(spikes), torch.from_numpy(stored["labels"]),
                               int(stored["n_classes"]))
        return dataset, json.loads(str(stored["meta"]))


def cached_dataset(key: dict, build: Callable[[], SpikeDataset],
                   cache_dir: str | Path | None = None) -> SpikeDataset:
    """The data set for ``key`` (which names 'name' and 'split'), from the cache or built and stored."""
    path = cache_path(key, cache_dir)
    if path.is_file():
        return load_cached(path, key["name"])[0]
    started = time.perf_counter()
    dataset = build()
    save_dataset(path, dataset, {"key": key, "build_seconds": round(time.perf_counter() - started, 3)})
    return dataset

"""``eligo train --backend model|pynq|serial|rtl``: on-chip online training through the ``Accelerator`` API.

``DeviceModel`` gives the driver the face ``eligo.fixed.train`` expects of a
model (``run_sample``, ``scores``, ``learn_words``), so the training loop and
the evaluation exist once and the driver run can be compared with calling the
model directly. ``train_through`` is the run on an open transport: the ``rtl``
one exists only inside its simulation (``eligo_sim.train``).
"""

from __future__ import annotations

import numpy as np
import torch

from eligo.config import AcceleratorConfig
from eligo.data import SpikeDataset
from eligo.driver.accelerator import Accelerator


class DeviceModel:
    """An ``Accelerator`` seen as a ``FixedModel`` by ``train_fixed`` and ``evaluate_model``."""

    def __init__(self, accelerator: Accelerator):
        self.accelerator = accelerator
        self.cfg = accelerator.cfg

    def run_sample(self, spikes: torch.Tensor, label: int) -> torch.Tensor:
        return torch.from_numpy(self.accelerator.train(np.asarray(spikes)[None], [label])[0].scores)

    def scores(self, spikes: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.stack([r.scores for r in self.accelerator.infer(np.asarray(spikes))]))

    @property
    def lr_decay(self) -> int:
        return self.accelerator.lr_decay

    @lr_decay.setter
    def lr_decay(self, decay: int) -> None:
        self.accelerator.set_lr_decay(decay)

    @property
    def learn_words(self) -> int:
        """Weight words updated: the counters were cleared when the device opened."""
        return self.accelerator.counters().updates_applied


def open_transport(backend: str, cfg: AcceleratorConfig, device: str | None):
    """The transport ``--backend`` names; ``device`` is the serial port or the bitstream, where one is needed."""
    if backend == "model":
        from eligo.driver.model import ModelTransport

        return ModelTransport(cfg)
    if device is None:
        raise ValueError(f"--backend {backend} needs --device (a serial port or a bitstream)")
    if backend == "serial":
        from eligo.driver.serial import open_serial

        return open_serial(device, cfg)
    if backend == "pynq":
        from eligo.driver.pynq import open_pynq

        return open_pynq(device, cfg)
    raise ValueError(f"unknown driver backend {backend!r}; known: model, pynq, serial")


def train_on_device(args, train: SpikeDataset, test: SpikeDataset, progress) -> dict:
    """The run the command line describes, on the transport ``--backend`` names."""
    from eligo.fixed.train import config_from_args

    cfg = config_from_args(args, train)
    return train_through(open_transport(args.backend, cfg, args.device), cfg, train, test, epochs=args.epochs,
                         seed=args.seed, lr_decay_every=args.lr_decay_every, progress=progress,
                         progress_every=max(args.batch_size, 1))


def train_through(transport, cfg: AcceleratorConfig, train: SpikeDataset, test: SpikeDataset, *, epochs: int,
                  seed: int, lr_decay_every: int, progress=None, progress_every: int = 1) -> dict:
    """Load the seeded initial weights, train online on the chip, read the weights back; adds the counters."""
    from eligo.fixed.model import initial_weights
    from eligo.fixed.train import train_fixed

    with Accelerator(transport, cfg) as accelerator:
        accelerator.load_weights(initial_weights(cfg, seed))
        history = train_fixed(DeviceModel(accelerator), train, test, epochs=epochs, seed=seed,
                              lr_decay_every=lr_decay_every, progress=progress, progress_every=progress_every)
        history["counters"] = accelerator.counters().as_dict()
    history["config"] = cfg.to_dict()
    history["float_learning_rate"] = cfg.float_learning_rate
    return history

"""Samples to the chip's word stream and back (the format is ``eligo.words``).

One sample becomes ``LABEL? (EVENT* TICK)+ END``: for each time step, one EVENT
per input address that spikes in it, in ascending address order, then the TICK
that closes the step; LABEL first when the chip should learn from the sample;
END with the sample's index last. ``decode_stream`` checks the grammar and
rebuilds the samples, so sample -> words -> sample is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from eligo.data.dataset import SpikeDataset
from eligo.words import PAYLOAD_MASK, Opcode, check_stream, decode_array, encode_array


def sample_words(spikes, label: int | None = None, index: int = 0) -> np.ndarray:
    """The uint32 words of one sample ``spikes [T, n_inputs]`` (0/1)."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"a sample is [T, n_inputs], got shape {spikes.shape}")
    steps, inputs = np.nonzero(spikes)  # row-major: by step, then address
    n_steps = spikes.shape[0]
    order = np.argsort(np.r_[2 * steps, 2 * np.arange(n_steps) + 1], kind="stable")
    opcodes = np.r_[np.full(len(steps), int(Opcode.EVENT)), np.full(n_steps, int(Opcode.TICK))][order]
    payloads = np.r_[inputs, np.arange(n_steps)][order]
    head = [] if label is None else [(int(Opcode.LABEL), int(label))]
    tail = [(int(Opcode.END), int(index) & PAYLOAD_MASK)]
    opcodes = np.r_[[op for op, _ in head], opcodes, [op for op, _ in tail]]
    payloads = np.r_[[p for _, p in head], payloads, [p for _, p in tail]]
    return encode_array(opcodes, payloads)


def dataset_words(dataset: SpikeDataset, *, learn: bool = True, first_index: int = 0) -> Iterator[np.ndarray]:
    """The words of each sample in turn; with ``learn`` each sample carries its LABEL."""
    for i in range(len(dataset)):
        label = int(dataset.labels[i]) if learn else None
        yield sample_words(dataset.spikes[i].numpy(), label, first_index + i)


@dataclass(frozen=True)
class DecodedSample:
    spikes: np.ndarray      # [T, n_inputs] uint8
    label: int | None
    index: int


def decode_stream(words: np.ndarray, n_inputs: int) -> list[DecodedSample]:
    """Check a stream against the grammar and rebuild its samples."""
    words = np.asarray(words, dtype=np.uint32)
    check_stream(words, n_inputs)
    opcodes, payloads = decode_array(words)
    samples = []
    begin = 0
    for end in np.flatnonzero(opcodes == Opcode.END):
        ops, values = opcodes[begin:end], payloads[begin:end]
        label = int(values[0]) if len(ops) and ops[0] == Opcode.LABEL else None
        step = np.cumsum(ops == Opcode.TICK) - (ops == Opcode.TICK)
        spikes = np.zeros((int((ops == Opcode.TICK).sum()), n_inputs), dtype=np.uint8)
        is_event = ops == Opcode.EVENT
        spikes[step[is_event], values[is_event]] = 1
        samples.append(DecodedSample(spikes, label, int(payloads[end])))
        begin = end + 1
    return samples

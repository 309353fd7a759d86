"""The data layouts the driver and the chip's top share: here, so that the hardware never imports the driver.

Weights travel on the register bus in *slices*: one 32-bit WEIGHT_WDATA or
WEIGHT_RDATA word holds ``per_slice`` consecutive lanes of one memory word
(``lanes`` weights of one input row), packed from bit 0 up in
``weight_bits``-bit two's complement. A layer's slice index is
``(row * groups + group) * slices_per_word + slice``, so slices run through the
weight memory in address order (``FixedModel``: address = row * groups + group).

Every END on the input stream makes one output packet, closed by TLAST:
``END|index``, then each class score (``score_words`` words each, low word
first, two's complement), then each hidden layer's spike count over the sample
(saturating at 2**32-1). ``decode_output`` raises ``PacketError`` on a packet
that breaks this format; the driver reports it as its own ``DriverError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from eligo.config import AcceleratorConfig
from eligo.regmap import DATA_BITS
from eligo.words import PAYLOAD_MASK, Opcode, encode

WORD_MASK = (1 << DATA_BITS) - 1


class PacketError(ValueError):
    """An output packet that breaks the format."""


class PacketLengthError(PacketError):
    """An output packet with more or fewer words than ``output_length``."""


def weights_per_slice(cfg: AcceleratorConfig) -> int:
    """The most lanes, a power of two, whose weights fit in one 32-bit word."""
    per_slice = 1
    while 2 * per_slice * cfg.weight_bits <= DATA_BITS and 2 * per_slice <= cfg.lanes:
        per_slice *= 2
    return per_slice


@dataclass(frozen=True)
class WeightLayout:
    cfg: AcceleratorConfig

    @cached_property
    def per_slice(self) -> int:
        return weights_per_slice(self.cfg)

    @property
    def slices_per_word(self) -> int:
        return self.cfg.lanes // self.per_slice

    @cached_property
    def _shifts(self) -> np.ndarray:
        """Bit position of each lane in a slice."""
        return self.cfg.weight_bits * np.arange(self.per_slice)

    @property
    def n_layers(self) -> int:
        return len(self.cfg.network.layer_sizes) - 1

    def n_slices(self, layer: int) -> int:
        return self._slices_per_layer[layer]

    @cached_property
    def _slices_per_layer(self) -> tuple[int, ...]:
        return tuple(n_in * groups * self.slices_per_word
                     for n_in, groups in zip(self.cfg.network.layer_sizes, self.cfg.groups))

    def pack(self, lanes: np.ndarray) -> np.ndarray:
        """Weights [..., per_slice] (in range) -> uint32 slices [...]."""
        bits = self.cfg.weight_bits
        fields = (np.asarray(lanes, dtype=np.int64) & ((1 << bits) - 1)) << self._shifts
        return np.bitwise_or.reduce(fields, axis=-1).astype(np.uint32)

    def unpack(self, slices: np.ndarray) -> np.ndarray:
        """uint32 slices [...] -> signed weights [..., per_slice]."""
        bits = self.cfg.weight_bits
        fields = (np.asarray(slices, dtype=np.int64)[..., None] >> self._shifts) & ((1 << bits) - 1)
        return fields - ((fields >> (bits - 1)) << bits)

    def layer_slices(self, layer: int, weights: np.ndarray) -> np.ndarray:
        """A layer's weights [n_in, n_out] -> its slices, padding lanes past n_out with zeros."""
        n_in = self.cfg.network.layer_sizes[layer]
        padded = np.zeros((n_in, self.cfg.groups[layer] * self.cfg.lanes), dtype=np.int64)
        padded[:, :weights.shape[1]] = weights
        return self.pack(padded.reshape(-1, self.per_slice))

    def layer_weights(self, layer: int, slices: np.ndarray) -> np.ndarray:
        """A layer's slices -> its weights [n_in, n_out] (padding lanes dropped)."""
        n_in, n_out = self.cfg.network.layer_sizes[layer:layer + 2]
        return self.unpack(slices).reshape(n_in, -1)[:, :n_out]


def score_words(cfg: AcceleratorConfig) -> int:
    return -(-cfg.readout.score_bits // DATA_BITS)


def output_length(cfg: AcceleratorConfig) -> int:
    """Words in one output packet."""
    return 1 + cfg.network.n_classes * score_words(cfg) + len(cfg.network.hidden)


@dataclass(frozen=True)
class SampleResult:
    """What the chip answered for one sample: its END index, class scores, the predicted class (the largest
    score, the lowest index on ties) and the spike count of each hidden layer."""

    index: int
    scores: np.ndarray
    spike_counts: tuple[int, ...]

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.scores))


def encode_output(cfg: AcceleratorConfig, index: int, scores, spike_counts) -> np.ndarray:
    """The output packet of one sample (what the chip sends)."""
    per_score = score_words(cfg)
    words = [encode(Opcode.END, index & PAYLOAD_MASK)]
    for score in scores:
        value = int(score) & ((1 << (DATA_BITS * per_score)) - 1)
        words += [(value >> (DATA_BITS * k)) & WORD_MASK for k in range(per_score)]
    words += [min(int(count), WORD_MASK) for count in spike_counts]
    return np.array(words, dtype=np.uint32)


def decode_output(cfg: AcceleratorConfig, words: np.ndarray) -> SampleResult:
    """Check and split one output packet; ``PacketLengthError``/``PacketError`` name what is wrong."""
    words = np.asarray(words, dtype=np.uint32)
    if len(words) != output_length(cfg):
        raise PacketLengthError(f"output packet has {len(words)} words, expected {output_length(cfg)} "
                                f"(1 header + {cfg.network.n_classes} scores x {score_words(cfg)} words + "
                                f"{len(cfg.network.hidden)} spike counts)")
    header = int(words[0])
    if header >> (DATA_BITS - 4) != Opcode.END:
        raise PacketError(f"output packet header 0x{header:08x} is not an END word")
    per_score, n_classes = score_words(cfg), cfg.network.n_classes
    scores = []
    for c in range(n_classes):
        value = sum(int(w) << (DATA_BITS * k) for k, w in enumerate(words[1 + c * per_score:1 + (c + 1) * per_score]))
        bits = DATA_BITS * per_score
        scores.append(value - ((value >> (bits - 1)) << bits))
    counts = tuple(int(w) for w in words[1 + n_classes * per_score:])
    return SampleResult(header & PAYLOAD_MASK, np.array(scores, dtype=np.int64), counts)

"""The one description of an accelerator instance.

Every stage reads the same object: the float reference takes the rule
constants, the fixed-point model and the Amaranth generator take all of it, the
driver checks a bitstream against it, and builds write it next to the bitstream
as JSON. A width or constant written anywhere else is a bug.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal


class ConfigError(ValueError):
    """An accelerator configuration that cannot be built or simulated."""


def signed_range(bits: int) -> tuple[int, int]:
    """Inclusive (min, max) of a two's-complement word of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unsigned_range(bits: int) -> tuple[int, int]:
    """Inclusive (min, max) of an unsigned word of ``bits`` bits."""
    return 0, (1 << bits) - 1


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class NeuronFormat:
    """Integer LIF neuron: v <- sat(v - (v >> leak_shift) + I); spike when v >= threshold.

    ``leak_shift`` k encodes the decay beta = 1 - 2**-k as a shift-and-subtract,
    the cheapest leak in LUTs; 0 means no memory (beta = 0).
    """

    membrane_bits: int = 16
    input_bits: int = 16
    leak_shift: int = 3
    threshold: int = 128
    reset: Literal["subtract", "zero"] = "subtract"

    def __post_init__(self) -> None:
        _require(2 <= self.membrane_bits <= 32, f"membrane_bits must be in 2..32, got {self.membrane_bits}")
        _require(2 <= self.input_bits <= 32, f"input_bits must be in 2..32, got {self.input_bits}")
        _require(0 <= self.leak_shift < self.membrane_bits,
                 f"leak_shift must be in 0..{self.membrane_bits - 1}, got {self.leak_shift}")
        lo, hi = signed_range(self.membrane_bits)
        _require(0 < self.threshold <= hi, f"threshold must be in 1..{hi}, got {self.threshold}")
        _require(self.reset in ("subtract", "zero"), f"reset must be 'subtract' or 'zero', got {self.reset!r}")

    @property
    def beta(self) -> float:
        """The float decay factor the shift encodes."""
        return 1.0 - 2.0 ** -self.leak_shift

    @property
    def membrane_range(self) -> tuple[int, int]:
        return signed_range(self.membrane_bits)

    @property
    def input_range(self) -> tuple[int, int]:
        return signed_range(self.input_bits)


@dataclass(frozen=True)
class NetworkShape:
    """Fully connected layer sizes: inputs -> hidden layers -> classes."""

    n_inputs: int = 512
    hidden: tuple[int, ...] = (128,)
    n_classes: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        _require(self.n_inputs >= 1, f"n_inputs must be >= 1, got {self.n_inputs}")
        _require(all(n >= 1 for n in self.hidden), f"hidden sizes must be >= 1, got {self.hidden}")
        _require(self.n_classes >= 2, f"n_classes must be >= 2, got {self.n_classes}")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_classes)


@dataclass(frozen=True)
class TraceFormat:
    """Unsigned saturating traces: pre-synaptic q (of input spikes) and post-synaptic h (of Psi).

    Both decay as floor(lambda * trace). ``decay`` says how lambda is encoded:
    'shift' -> lambda = 1 - 2**-k (k = ``pre_decay``/``post_decay``), built as
    ``t - ceil(t / 2**k)`` so a trace always decays to zero; 'multiply' ->
    lambda = m / 2**``decay_frac_bits`` (m = ``pre_decay``/``post_decay``).
    A presynaptic spike adds ``pre_increment`` (the float trace's 1.0).
    """

    bits: int = 8
    decay: Literal["shift", "multiply"] = "shift"
    pre_decay: int = 2
    post_decay: int = 1
    decay_frac_bits: int = 8
    pre_increment: int = 32

    def __post_init__(self) -> None:
        _require(2 <= self.bits <= 16, f"trace bits must be in 2..16, got {self.bits}")
        _require(self.decay in ("shift", "multiply"), f"trace decay must be 'shift' or 'multiply', got {self.decay!r}")
        if self.decay == "shift":
            for name in ("pre_decay", "post_decay"):
                k = getattr(self, name)
                _require(0 <= k <= self.bits, f"{name} (a shift) must be in 0..{self.bits}, got {k}")
        else:
            _require(1 <= self.decay_frac_bits <= 16, f"decay_frac_bits must be in 1..16, got {self.decay_frac_bits}")
            for name in ("pre_decay", "post_decay"):
                m = getattr(self, name)
                _require(0 <= m < (1 << self.decay_frac_bits),
                         f"{name} (a multiplier) must be in 0..{(1 << self.decay_frac_bits) - 1}, got {m}")
        _require(1 <= self.pre_increment <= self.max_value,
                 f"pre_increment must be in 1..{self.max_value}, got {self.pre_increment}")

    @property
    def max_value(self) -> int:
        return unsigned_range(self.bits)[1]

    def decay_factor(self, code: int) -> float:
        """The float lambda one decay code stands for."""
        if self.decay == "shift":
            return 1.0 - 2.0 ** -code if code else 0.0
        return code / (1 << self.decay_frac_bits)

    @property
    def pre_lambda(self) -> float:
        return self.decay_factor(self.pre_decay)

    @property
    def post_lambda(self) -> float:
        return self.decay_factor(self.post_decay)


def triangle_psi(scale: float = 0.3, entries: int = 8, frac_bits: int = 6) -> tuple[int, ...]:
    """Psi table of the triangle scale * max(0, 1 - |v - theta| / width), sampled at bin centres,
    in units of 2**-frac_bits (width = entries << index_shift membrane LSBs)."""
    return tuple(round(scale * (1 << frac_bits) * (1.0 - (i + 0.5) / entries)) for i in range(entries))


def exp_table(entries: int = 40, frac_bits: int = 8, step: float = 0.125) -> tuple[int, ...]:
    """Softmax numerators: entry d stands for exp(-d * step), in units of 2**-frac_bits (entry 0 = 1.0)."""
    return tuple(round((1 << frac_bits) * math.exp(-d * step)) for d in range(entries))


@dataclass(frozen=True)
class PsiTable:
    """Secondary activation Psi(v) as a lookup on d = |v - threshold| >> ``index_shift``.

    ``values[d]`` for d < len(values), 0 beyond: a triangle, an exponential or
    any even shape fits, with one subtract, one shift and a small ROM. A value
    stands for the float Psi ``value / 2**frac_bits``.
    """

    index_shift: int = 4
    values: tuple[int, ...] = triangle_psi()
    bits: int = 5
    frac_bits: int = 6

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        _require(0 <= self.index_shift <= 16, f"psi index_shift must be in 0..16, got {self.index_shift}")
        _require(1 <= len(self.values) <= 4096, f"psi table must have 1..4096 entries, got {len(self.values)}")
        _require(1 <= self.bits <= 16, f"psi bits must be in 1..16, got {self.bits}")
        _require(0 <= self.frac_bits <= 16, f"psi frac_bits must be in 0..16, got {self.frac_bits}")
        hi = unsigned_range(self.bits)[1]
        bad = [v for v in self.values if not 0 <= v <= hi]
        _require(not bad, f"psi values must be in 0..{hi} ({self.bits} bits), got {bad}")

    @property
    def support(self) -> int:
        """Psi is zero from |v - threshold| >= support on."""
        return len(self.values) << self.index_shift


@dataclass(frozen=True)
class ReadoutFormat:
    """Non-spiking leaky-integrator readout: logits m <- sat(m - (m >> leak_shift) + I), 0 = no memory.

    Its pre trace (of the last hidden layer's spikes) decays with ``pre_decay``
    in the encoding of ``TraceFormat``; the class score is the sum of the
    logits over the sample, saturated to ``score_bits``.
    """

    leak_shift: int = 0
    pre_decay: int = 0
    score_bits: int = 24

    def __post_init__(self) -> None:
        _require(self.leak_shift >= 0, f"readout leak_shift must be >= 0, got {self.leak_shift}")
        _require(self.pre_decay >= 0, f"readout pre_decay must be >= 0, got {self.pre_decay}")
        _require(8 <= self.score_bits <= 48, f"readout score_bits must be in 8..48, got {self.score_bits}")


@dataclass(frozen=True)
class LfsrFormat:
    """Stochastic-rounding noise: one Galois LFSR per lane, stepped once per weight word updated.

    Step: ``s = (s >> 1) ^ (taps if s & 1 else 0)``; ``taps`` must give a
    maximal-length sequence. Lane l starts ``l * period // lanes`` steps after
    ``seed`` along that sequence, so lanes never overlap within a period.
    An update shifted right by s takes its noise from the low s bits of the
    state; a shift wider than the register (a decayed learning rate) takes the
    whole state shifted left by s - bits, whose rounding bias (below
    2**-bits of an LSB) is far under one step's noise.
    """

    bits: int = 16
    taps: int = 0xB400
    seed: int = 0xACE1

    def __post_init__(self) -> None:
        _require(2 <= self.bits <= 24, f"lfsr bits must be in 2..24, got {self.bits}")
        hi = unsigned_range(self.bits)[1]
        _require(0 < self.taps <= hi and self.taps >> (self.bits - 1) == 1,
                 f"lfsr taps 0x{self.taps:x} must have bit {self.bits - 1} set and fit in {self.bits} bits")
        _require(0 < self.seed <= hi, f"lfsr seed must be in 1..{hi}, got {self.seed}")

    @property
    def period(self) -> int:
        return (1 << self.bits) - 1


LR_DECAY_EVERY = 2
"""Epochs per halving of the on-chip learning rate (the driver's CONTROL.lr_decay schedule): the measured best
of docs/fixed-point.md's protocol table."""

RULES = ("stllr", "stllr_dfa", "tess")
"""On-chip rules: S-TLLR with the back-projected (BP) signal, S-TLLR with square-wave DFA, TESS."""


@dataclass(frozen=True)
class LearningConfig:
    """Which rule trains the chip, and its integer constants.

    Errors e = error_unit * (y - softmax(z)) come from one integer softmax
    block (exp table + divider): at the readout z = the logits; for 'tess' each
    hidden layer also forms its own z_k = sum_i B[k, i] s_i. B is a +-1 square
    wave from counters. The hidden signal L_i is
    'stllr': the readout error back-projected through the readout's weights,
    L_i = sat((sum_k W_out[i, k] e_k + theta/2) >> log2(theta)), S-TLLR as its
    paper runs it (one hidden layer: the readout's weights are on chip, so no
    weight transport);
    'stllr_dfa': L_i = sat(sum_k B[k, i] e_k), direct feedback by the square wave;
    'tess': the same projection of the layer's own error.
    Updates, with stochastic rounding, at shift s = lr_shift + d, where d is
    the run-time decay (``CONTROL.lr_decay``, 0..``max_lr_decay``):
    readout dW = e_k * q_j >> s;
    hidden  dW = L_i * (Psi_i * q_j + alpha_post * h_i[t-1] * x_j) >> (s + psi.frac_bits).
    Learning runs on steps t >= ``learn_start_step`` of a labelled sample.
    ``lr_shift`` 10 with ``error_unit`` 127 (float rate 127/128 * 2**-5: the
    error at nearly the whole int8 range) and the decay raised by one every
    two epochs is the online protocol that brings the chip to offline BPTT's
    accuracy and within 1.1 points of its float twin (docs/fixed-point.md,
    "Online protocol").
    ``stochastic_rounding`` off rounds updates half up instead (the LFSRs
    still step, so turning it on and off never changes their sequence).
    """

    rule: Literal["stllr", "stllr_dfa", "tess"] = "stllr"
    signal_bits: int = 8
    error_unit: int = 127
    alpha_post: int = 0
    lr_shift: int = 10
    max_lr_decay: int = 7
    learn_start_step: int = 0
    square_half_period_base: int = 1
    square_half_period_step: int = 1
    exp_values: tuple[int, ...] = exp_table()
    readout_softmax_shift: int = 4
    tess_softmax_shift: int = 4
    stochastic_rounding: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "exp_values", tuple(self.exp_values))
        _require(self.rule in RULES, f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        _require(2 <= self.signal_bits <= 16, f"signal_bits must be in 2..16, got {self.signal_bits}")
        _require(1 <= self.error_unit <= self.signal_range[1],
                 f"error_unit must be in 1..{self.signal_range[1]}, got {self.error_unit}")
        _require(self.alpha_post in (-1, 0, 1), f"alpha_post must be -1, 0 or 1, got {self.alpha_post}")
        _require(0 <= self.lr_shift <= 24, f"lr_shift must be in 0..24, got {self.lr_shift}")
        _require(0 <= self.max_lr_decay <= 15, f"max_lr_decay must be in 0..15, got {self.max_lr_decay}")
        _require(self.learn_start_step >= 0, f"learn_start_step must be >= 0, got {self.learn_start_step}")
        _require(self.square_half_period_base >= 1,
                 f"square_half_period_base must be >= 1, got {self.square_half_period_base}")
        _require(self.square_half_period_step >= 0,
                 f"square_half_period_step must be >= 0, got {self.square_half_period_step}")
        _require(1 <= len(self.exp_values) <= 4096,
                 f"exp table must have 1..4096 entries, got {len(self.exp_values)}")
        _require(self.exp_values[0] > 0 and all(0 <= v <= 0xFFFF for v in self.exp_values),
                 f"exp values must be 16-bit unsigned with a non-zero first entry, got {self.exp_values}")
        for name in ("readout_softmax_shift", "tess_softmax_shift"):
            _require(0 <= getattr(self, name) <= 16, f"{name} must be in 0..16, got {getattr(self, name)}")

    @property
    def signal_range(self) -> tuple[int, int]:
        return signed_range(self.signal_bits)

    def check_lr_decay(self, decay: int) -> None:
        """Refuse a run-time learning-rate decay that CONTROL.lr_decay does not take (a whole shift, 0..max)."""
        if isinstance(decay, bool) or not isinstance(decay, int) or not 0 <= decay <= self.max_lr_decay:
            raise ValueError(f"learning-rate decay must be a whole shift in 0..{self.max_lr_decay} "
                             f"(learning.max_lr_decay, the reach of CONTROL.lr_decay), got {decay!r}")

    def square_half_period(self, k: int) -> int:
        """Half period, in neurons, of class k's square wave."""
        return self.square_half_period_base + k * self.square_half_period_step


@dataclass(frozen=True)
class AcceleratorConfig:
    """Elaboration-time parameters of one accelerator, shared by model, RTL and driver.

    ``lanes`` (P) weights sit in a memory word; ``banks`` (B) splits every
    layer's weight memory (``bank_classes``), each bank with its own P update
    lanes and LFSRs, so the learning walk updates up to B words a cycle from
    the same block RAMs. ``registered_products`` puts the lanes' multiplies in
    a cycle of their own (one more cycle per walk, the multiplier off the
    update datapath's critical path: 65.2 MHz for a 512 x 128 layer at
    P = 16, against 53.7 in the sweep before them); off by default, since
    the whole default-size accelerator did not finish routing with them.
    Neither changes what the chip computes.
    """

    network: NetworkShape = field(default_factory=NetworkShape)
    neuron: NeuronFormat = field(default_factory=NeuronFormat)
    lanes: int = 16
    banks: int = 1
    registered_products: bool = False
    weight_bits: int = 8
    clock_hz: int = 50_000_000
    traces: TraceFormat = field(default_factory=TraceFormat)
    psi: PsiTable = field(default_factory=PsiTable)
    readout: ReadoutFormat = field(default_factory=ReadoutFormat)
    learning: LearningConfig = field(default_factory=LearningConfig)
    lfsr: LfsrFormat = field(default_factory=LfsrFormat)

    def __post_init__(self) -> None:
        _require(self.lanes >= 1 and self.lanes & (self.lanes - 1) == 0,
                 f"lanes must be a power of two, got {self.lanes}")
        _require(1 <= self.banks <= self.lanes and self.banks & (self.banks - 1) == 0,
                 f"banks must be a power of two from 1 to lanes={self.lanes}, got {self.banks}")
        if self.banks > 1:
            # A banked memory finds a host address's row and group by slicing its bits.
            _require(all(groups & (groups - 1) == 0 for groups in self.groups),
                     f"banks={self.banks} needs every layer's words per row (neurons / lanes, rounded up) to be a "
                     f"power of two, got {list(self.groups)}")
        _require(2 <= self.weight_bits <= 16, f"weight_bits must be in 2..16, got {self.weight_bits}")
        _require(self.clock_hz > 0, f"clock_hz must be positive, got {self.clock_hz}")
        for n in self.network.layer_sizes[1:]:
            _require(n % self.lanes == 0 or n < self.lanes,
                     f"layer size {n} must be a multiple of lanes={self.lanes} (or smaller than it)")
        if self.learning.rule == "stllr":
            _require(len(self.network.hidden) == 1,
                     f"rule 'stllr' back-projects the readout error into the one hidden layer under the readout; "
                     f"a config with {len(self.network.hidden)} hidden layers needs 'stllr_dfa' or 'tess'")
            _require(self.neuron.threshold & (self.neuron.threshold - 1) == 0,
                     f"rule 'stllr' divides W_out^T e by the threshold with a shift: the threshold must be a power "
                     f"of two, got {self.neuron.threshold}")
        if self.traces.decay == "shift":
            _require(self.readout.pre_decay <= self.traces.bits,
                     f"readout pre_decay (a shift) must be in 0..{self.traces.bits}, got {self.readout.pre_decay}")
        else:
            _require(self.readout.pre_decay < (1 << self.traces.decay_frac_bits),
                     f"readout pre_decay (a multiplier) must be below {1 << self.traces.decay_frac_bits}")

    @property
    def weight_range(self) -> tuple[int, int]:
        return signed_range(self.weight_bits)

    @property
    def accumulator_bits(self) -> tuple[int, ...]:
        """Per layer: width of the input-current sum that cannot overflow (weight_bits + ceil(log2 fan_in) + 1)."""
        return tuple(self.weight_bits + max(fan_in - 1, 0).bit_length() + 1
                     for fan_in in self.network.layer_sizes[:-1])

    @property
    def groups(self) -> tuple[int, ...]:
        """Per layer: memory words per input row (a word holds ``lanes`` weights of consecutive neurons)."""
        return tuple(-(-n // self.lanes) for n in self.network.layer_sizes[1:])

    def bank_classes(self, layer: int) -> tuple[int, int]:
        """How layer ``layer``'s words split over the B update banks: R row classes (j mod R) times S group
        classes (g mod S), bank = (j mod R) * S + g mod S, S = min(groups, B). A layer with at least B words
        per row gives every bank every row and a B-th of its groups (an even split whenever all groups learn),
        a narrower one (the readout) also splits its rows."""
        group_classes = min(self.groups[layer], self.banks)
        return self.banks // group_classes, group_classes

    @property
    def lr_shift_hidden(self) -> int:
        """Hidden layers shift psi.frac_bits more, so one float learning rate holds for every layer."""
        return self.learning.lr_shift + self.psi.frac_bits

    @property
    def bp_shift(self) -> int:
        """The back-projected signal's shift: W_out is in units of 1/threshold, L in units of the error."""
        return self.neuron.threshold.bit_length() - 1

    def layer_shift(self, layer: int, lr_decay: int = 0) -> int:
        """Learning-rate shift of a weight layer at run-time decay ``lr_decay``: the readout (last) uses
        lr_shift, hidden layers lr_shift_hidden, both plus the decay."""
        base = self.learning.lr_shift if layer == len(self.network.hidden) else self.lr_shift_hidden
        return base + lr_decay

    @property
    def update_product_bits(self) -> int:
        """Signed width of L * (Psi * q + h * x) before the learning-rate shift; cannot overflow."""
        causal = self.learning.signal_bits + self.psi.bits + self.traces.bits  # signed x unsigned x unsigned
        return max(causal, self.learning.signal_bits + self.traces.bits) + 1

    @property
    def readout_neuron(self) -> NeuronFormat:
        """The readout integrates like a neuron of the same widths, with its own leak, and never fires."""
        return dataclasses.replace(self.neuron, leak_shift=self.readout.leak_shift)

    @property
    def float_learning_rate(self) -> float:
        """The plain-SGD learning rate of the float rule this integer update stands for.

        Float units: weight = w / threshold, trace = q / pre_increment, Psi = value / 2**psi.frac_bits,
        error = e / error_unit; readout dW = e q >> lr_shift gives lr = error_unit * pre_increment /
        (threshold * 2**lr_shift), and the hidden layers' extra psi.frac_bits make theirs the same.
        """
        return (self.learning.error_unit * self.traces.pre_increment
                / (self.neuron.threshold * 2.0 ** self.learning.lr_shift))

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON values; ``banks`` only where it is not 1 and ``registered_products`` only where it is
        on, so a config keeps the JSON, and so the ``CONFIG_HASH``, it had before they existed (committed
        bitstreams still pair with their driver)."""
        fields = dataclasses.asdict(self)
        if self.banks == 1:
            del fields["banks"]
        if not self.registered_products:
            del fields["registered_products"]
        return fields

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AcceleratorConfig":
        """Rebuild a config, rejecting unknown keys so a stale file cannot pass silently."""
        return _from_dict(cls, data, "config")

    @classmethod
    def from_json(cls, text: str) -> "AcceleratorConfig":
        return cls.from_dict(json.loads(text))


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    kwargs = {}
    for name, value in data.items():
        nested = _NESTED.get((cls, name))
        if nested:
            kwargs[name] = _from_dict(nested, value, f"{where}.{name}")
        else:
            _check_type(f"{where}.{name}", value, _default_of(fields[name]))
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _type_matches(value: Any, example: Any) -> bool:
    """``value`` has the JSON type of ``example``; bool is not an int here, an int is a valid float."""
    if isinstance(example, bool):
        return isinstance(value, bool)
    if isinstance(example, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(example, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(example, tuple):
        return isinstance(value, (list, tuple)) and (
            not example or all(_type_matches(item, example[0]) for item in value))
    return isinstance(value, type(example))


def _check_type(where: str, value: Any, example: Any) -> None:
    """A field read from a file has the type of its default, so range checks never meet a stray type."""
    if example is not dataclasses.MISSING and not _type_matches(value, example):
        expected = "list" if isinstance(example, tuple) else type(example).__name__
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")


_NESTED: dict[tuple[type, str], type] = {
    (AcceleratorConfig, "network"): NetworkShape,
    (AcceleratorConfig, "neuron"): NeuronFormat,
    (AcceleratorConfig, "traces"): TraceFormat,
    (AcceleratorConfig, "psi"): PsiTable,
    (AcceleratorConfig, "readout"): ReadoutFormat,
    (AcceleratorConfig, "learning"): LearningConfig,
    (AcceleratorConfig, "lfsr"): LfsrFormat,
}

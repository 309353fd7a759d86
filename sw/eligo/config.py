"""The one description of an accelerator instance.

Every stage reads the same object: the float reference takes the rule
constants, the fixed-point model and the Amaranth generator take all of it, the
driver checks a bitstream against it, and builds write it next to the bitstream
as JSON. A width or constant written anywhere else is a bug.
"""

from __future__ import annotations

import dataclasses
import json
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
    threshold: int = 64
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
class AcceleratorConfig:
    """Elaboration-time parameters of one accelerator, shared by model, RTL and driver."""

    network: NetworkShape = field(default_factory=NetworkShape)
    neuron: NeuronFormat = field(default_factory=NeuronFormat)
    lanes: int = 16
    weight_bits: int = 8
    clock_hz: int = 50_000_000

    def __post_init__(self) -> None:
        _require(self.lanes >= 1 and self.lanes & (self.lanes - 1) == 0,
                 f"lanes must be a power of two, got {self.lanes}")
        _require(2 <= self.weight_bits <= 16, f"weight_bits must be in 2..16, got {self.weight_bits}")
        _require(self.clock_hz > 0, f"clock_hz must be positive, got {self.clock_hz}")
        for n in self.network.layer_sizes[1:]:
            _require(n % self.lanes == 0 or n < self.lanes,
                     f"layer size {n} must be a multiple of lanes={self.lanes} (or smaller than it)")

    @property
    def weight_range(self) -> tuple[int, int]:
        return signed_range(self.weight_bits)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
        kwargs[name] = _from_dict(nested, value, f"{where}.{name}") if nested else value
    return cls(**kwargs)


_NESTED: dict[tuple[type, str], type] = {
    (AcceleratorConfig, "network"): NetworkShape,
    (AcceleratorConfig, "neuron"): NeuronFormat,
}

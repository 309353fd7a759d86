"""Integer LIF neuron step, the reference for the hardware neuron.

Order within a step: leak, integrate (saturating), fire, reset. The leak is
``v - (v >> k)``, which never overflows, so only the integration saturates.
The learning datapath needs the membrane between integration and reset (Psi
is taken there), so the step is also exposed as its two halves.
"""

from __future__ import annotations

import torch

from eligo.config import NeuronFormat
from eligo.fixed.arith import saturate, shift_right


def lif_integrate(membrane: torch.Tensor, current: torch.Tensor, fmt: NeuronFormat) -> torch.Tensor:
    """Leak then add the input current, saturating: the membrane the threshold sees."""
    membrane = membrane.to(torch.int64)
    leaked = membrane - shift_right(membrane, fmt.leak_shift)
    return saturate(leaked + current.to(torch.int64), fmt.membrane_bits)


def lif_fire(integrated: torch.Tensor, fmt: NeuronFormat) -> tuple[torch.Tensor, torch.Tensor]:
    """Threshold and reset an integrated membrane; returns (new membrane, spikes as int64 0/1)."""
    spikes = (integrated >= fmt.threshold).to(torch.int64)
    if fmt.reset == "subtract":
        after_reset = integrated - spikes * fmt.threshold
    else:
        after_reset = integrated * (1 - spikes)
    return after_reset, spikes


def lif_step(membrane: torch.Tensor, current: torch.Tensor, fmt: NeuronFormat) -> tuple[torch.Tensor, torch.Tensor]:
    """Advance membranes by one step; returns (new membrane, spikes as int64 0/1)."""
    return lif_fire(lif_integrate(membrane, current, fmt), fmt)

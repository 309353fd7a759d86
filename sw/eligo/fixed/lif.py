"""Integer LIF neuron step, the reference for the hardware neuron.

Order within a step: leak, integrate (saturating), fire, reset. The leak is
``v - (v >> k)``, which never overflows, so only the integration saturates.
"""

from __future__ import annotations

import torch

from eligo.config import NeuronFormat
from eligo.fixed.arith import saturate, shift_right


def lif_step(membrane: torch.Tensor, current: torch.Tensor, fmt: NeuronFormat) -> tuple[torch.Tensor, torch.Tensor]:
    """Advance membranes by one step; returns (new membrane, spikes as int64 0/1)."""
    membrane = membrane.to(torch.int64)
    leaked = membrane - shift_right(membrane, fmt.leak_shift)
    integrated = saturate(leaked + current.to(torch.int64), fmt.membrane_bits)
    spikes = (integrated >= fmt.threshold).to(torch.int64)
    if fmt.reset == "subtract":
        after_reset = integrated - spikes * fmt.threshold
    else:
        after_reset = integrated * (1 - spikes)
    return after_reset, spikes

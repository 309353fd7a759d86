"""Integer LIF neuron step, the reference for the hardware neuron.

Order within a step: leak, integrate (saturating), fire, reset. The leak is
``v - (v >> k)``, which never overflows, so only the integration saturates.
The learning datapath needs the membrane between integration and reset (Psi
is taken there), so the step is also exposed as its two halves. Values are
int64 torch tensors or numpy arrays (the model runs on numpy); the result is
of the same kind.
"""

from __future__ import annotations

from eligo.config import NeuronFormat
from eligo.fixed.arith import saturate, shift_right


def lif_integrate(membrane, current, fmt: NeuronFormat):
    """Leak then add the input current, saturating: the membrane the threshold sees."""
    leaked = membrane - shift_right(membrane, fmt.leak_shift)
    return saturate(leaked + current, fmt.membrane_bits)


def lif_fire(integrated, fmt: NeuronFormat):
    """Threshold and reset an integrated membrane; returns (new membrane, spikes as int64 0/1)."""
    spikes = (integrated >= fmt.threshold) * 1  # bool -> int64, for tensors and arrays alike
    if fmt.reset == "subtract":
        after_reset = integrated - spikes * fmt.threshold
    else:
        after_reset = integrated * (1 - spikes)
    return after_reset, spikes


def lif_step(membrane, current, fmt: NeuronFormat):
    """Advance membranes by one step; returns (new membrane, spikes as int64 0/1)."""
    return lif_fire(lif_integrate(membrane, current, fmt), fmt)

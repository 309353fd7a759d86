"""Integer primitives shared by every part of the fixed-point model.

All arithmetic is done in integer tensors and brought back into range
explicitly, so that the model says exactly where the hardware saturates.
Both helpers take torch tensors or numpy arrays (the update datapath runs in
numpy, whose small operations cost a fraction of torch's).
"""

from __future__ import annotations

from eligo.config import signed_range


def saturate(value, bits: int):
    """Clamp to a signed ``bits``-bit word (the hardware never wraps)."""
    lo, hi = signed_range(bits)
    return value.clip(lo, hi)


def shift_right(value, shift: int):
    """Arithmetic shift right: floor division by 2**shift, as ``>>>`` in Verilog."""
    return value >> shift

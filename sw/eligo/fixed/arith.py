"""Integer primitives shared by every part of the fixed-point model.

All arithmetic is done in int64 torch tensors and brought back into range
explicitly, so that the model says exactly where the hardware saturates.
"""

from __future__ import annotations

import torch

from eligo.config import signed_range


def saturate(value: torch.Tensor, bits: int) -> torch.Tensor:
    """Clamp to a signed ``bits``-bit word (the hardware never wraps)."""
    lo, hi = signed_range(bits)
    return value.clamp(lo, hi)


def shift_right(value: torch.Tensor, shift: int) -> torch.Tensor:
    """Arithmetic shift right: floor division by 2**shift, as ``>>>`` in Verilog."""
    return torch.bitwise_right_shift(value, shift)

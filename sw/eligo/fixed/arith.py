"""Integer primitives shared by every part of the fixed-point model.

All arithmetic is done in integer tensors and brought back into range
explicitly, so that the model says exactly where the hardware saturates.
The helpers take torch tensors or numpy arrays (the model runs on numpy,
whose small operations cost a fraction of torch's).
"""

from __future__ import annotations

import numpy as np
import torch

from eligo.config import signed_range


def clamp(value, lo: int | None = None, hi: int | None = None):
    """Limit to [lo, hi] (None: no bound). On numpy, two ufuncs: ``ndarray.clip``'s checks cost more than the clip."""
    if isinstance(value, torch.Tensor):
        return value.clamp(lo, hi)
    if lo is not None:
        value = np.maximum(value, lo)
    return value if hi is None else np.minimum(value, hi)


def saturate(value, bits: int):
    """Clamp to a signed ``bits``-bit word (the hardware never wraps)."""
    return clamp(value, *signed_range(bits))


def shift_right(value, shift: int):
    """Arithmetic shift right: floor division by 2**shift, as ``>>>`` in Verilog."""
    return value >> shift

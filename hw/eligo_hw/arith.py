"""Combinational arithmetic helpers matching ``eligo.fixed.arith``."""

from __future__ import annotations

from amaranth.hdl import Mux, Value

from eligo.config import signed_range


def saturate(value: Value, bits: int) -> Value:
    """Clamp a signed expression into a signed ``bits``-bit word, as the model does.

    After the clamp the value fits, so keeping the low ``bits`` bits and
    re-signing them is exact.
    """
    lo, hi = signed_range(bits)
    clamped = Mux(value > hi, hi, Mux(value < lo, lo, value))
    return clamped[:bits].as_signed()

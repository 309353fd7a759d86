"""Combinational helpers: arithmetic matching ``eligo.fixed.arith``, and the selectors the engine and the
update sequencer share."""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value

from eligo.config import signed_range


def saturate(value: Value, bits: int) -> Value:
    """Clamp a signed expression into a signed ``bits``-bit word, as the model does.

    After the clamp the value fits, so keeping the low ``bits`` bits and
    re-signing them is exact.
    """
    lo, hi = signed_range(bits)
    clamped = Mux(value > hi, hi, Mux(value < lo, lo, value))
    return clamped[:bits].as_signed()


def select(values: list, index: Value) -> Value:
    """``values[index]`` as a chain of Muxes (the last value past the end): Icarus evaluates an ``Array`` read only
    once its index has changed, and a layer or source index may never change in a run."""
    chosen = values[-1]
    for position in reversed(range(len(values) - 1)):
        chosen = Mux(index == position, values[position], chosen)
    return chosen


def lowest_set(bits: Value) -> Value:
    """The index of the lowest set bit of ``bits`` (meaningless when none), the next spike to send: a balanced
    priority encoder, log2(n) multiplexers deep rather than a chain of n. The engine keeps it narrow (a group's
    P spikes, the mask of groups): over all 128 hidden neurons it had been the default build's critical path."""
    if len(bits) == 1:
        return Const(0, 1)
    half = 1 << ((len(bits) - 1).bit_length() - 1)  # the largest power of two below len(bits)
    low, high = bits[:half], bits[half:]
    return Mux(low.any(), lowest_set(low), half + lowest_set(high))

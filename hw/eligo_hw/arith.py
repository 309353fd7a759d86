"""Arithmetic matching ``eligo.fixed.arith``, the selectors the engine and the update sequencer share, and the
update lanes' multiplier."""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Module, Mux, Signal, Value, signed

from eligo.config import signed_range

DSP_BITS = 18  # an ECP5 MULT18X18D's operand width


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


def product_of_held(m: Module, platform, a: Value, b: Value, name: str) -> Value:
    """``a * b`` of the operands one cycle ago (signed ``a``, unsigned ``b``, both registered).

    On ECP5 the registers are the MULT18X18D's own input registers: the DSP then has no fabric flip-flop and
    no routing in front of its multiplier, which was the default accelerator's critical path (a held factor's
    flip-flop routed 4 ns to the DSP, 3.9 ns through it, 4.3 ns on to the adder). Elsewhere, and in simulation,
    two flip-flops and a multiply."""
    if getattr(platform, "family", None) == "ecp5" and len(a) <= DSP_BITS and len(b) < DSP_BITS:
        product = Signal(signed(2 * DSP_BITS), name=name)
        # Both extended to 18 signed bits: ``b`` (unsigned, narrower) with a zero on top.
        wide_a, wide_b = Signal(signed(DSP_BITS), name=f"{name}_a"), Signal(signed(DSP_BITS), name=f"{name}_b")
        m.d.comb += [wide_a.eq(a), wide_b.eq(b)]
        ports = {f"i_{port}{bit}": operand[bit] for port, operand in (("A", wide_a), ("B", wide_b))
                 for bit in range(DSP_BITS)}
        m.submodules[f"{name}_dsp"] = Instance(
            "MULT18X18D", p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0", p_GSR="DISABLED",
            i_CLK0=ClockSignal(), i_CE0=Const(1), i_RST0=Const(0), i_SIGNEDA=Const(1), i_SIGNEDB=Const(1),
            i_SOURCEA=Const(0), i_SOURCEB=Const(0), **ports,
            **{f"o_P{bit}": product[bit] for bit in range(2 * DSP_BITS)})
        return product[:len(a * b)].as_signed()  # as wide as the generic product below
    held_a, held_b = Signal.like(a, name=f"{name}_a"), Signal.like(b, name=f"{name}_b")
    m.d.sync += [held_a.eq(a), held_b.eq(b)]
    return held_a * held_b

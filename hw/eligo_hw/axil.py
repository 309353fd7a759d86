"""AXI4-Lite register file generated from ``eligo.regmap``.

Ports, named after the map (lower case): a read-only register that is not a
constant is an input driven by the datapath; a ``rw`` register is an output
holding the written value; a ``wo`` register is an output pulsing, for one
cycle, the bits written as one; a ``w1c`` register has an input ``<name>_set``
(bits to raise) and an output holding the sticky bits. A set and a clear of
the same bit in one cycle leave it set, so no error is ever lost.

The write address and data channels are accepted independently, one of each
at a time; the write is done, and its one response raised, when both are held.
Every read and every write gets exactly one response.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from eligo.regmap import ADDRESS_BITS, BUS_ERROR_FIELD, DATA_BITS, RegisterMap

OKAY, SLVERR = 0b00, 0b10
STROBE_BITS = DATA_BITS // 8


class AxiLiteSignature(wiring.Signature):
    """The five AXI4-Lite channels, seen from the master."""

    def __init__(self, address_bits: int = ADDRESS_BITS, data_bits: int = DATA_BITS):
        super().__init__({
            "awaddr": Out(address_bits), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(address_bits), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(data_bits), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })


def _port_members(regmap: RegisterMap) -> dict:
    members = {}
    for reg in regmap:
        name = reg.name.lower()
        if reg.source == "port":
            members[name] = In(reg.width)
        elif reg.access == "w1c":
            members[f"{name}_set"] = In(reg.width)
            members[name] = Out(reg.width, init=reg.reset)
        elif reg.access != "ro":
            members[name] = Out(reg.width, init=reg.reset)
    return members


class AxiLiteRegisters(wiring.Component):
    """The register file of one accelerator: bus slave ``s_axil`` plus one port per live register."""

    def __init__(self, regmap: RegisterMap):
        self.regmap = regmap
        super().__init__({"s_axil": In(AxiLiteSignature()), **_port_members(regmap)})

    def elaborate(self, platform):
        m = Module()
        bus = self.s_axil
        word_of = {reg.name: reg.offset >> 2 for reg in self.regmap}

        # Write address and data are held independently until both are there.
        aw_held, aw_word = Signal(), Signal(ADDRESS_BITS - 2)
        w_held, w_data, w_strb = Signal(), Signal(DATA_BITS), Signal(STROBE_BITS)
        m.d.comb += [bus.awready.eq(~aw_held), bus.wready.eq(~w_held)]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += [aw_held.eq(1), aw_word.eq(bus.awaddr[2:])]
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += [w_held.eq(1), w_data.eq(bus.wdata), w_strb.eq(bus.wstrb)]

        write = Signal()
        m.d.comb += write.eq(aw_held & w_held & ~bus.bvalid)
        with m.If(write):
            m.d.sync += [aw_held.eq(0), w_held.eq(0), bus.bvalid.eq(1)]
        with m.Elif(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        writable = [reg for reg in self.regmap if reg.access != "ro"]
        write_legal = aw_word.matches(*(word_of[reg.name] for reg in writable))
        with m.If(write):
            m.d.sync += bus.bresp.eq(Mux(write_legal, OKAY, SLVERR))

        strobe_mask = Cat(bit.replicate(8) for bit in w_strb)
        written = w_data & strobe_mask
        bus_error = Signal()
        for reg in writable:
            hit = write & (aw_word == word_of[reg.name])
            value = getattr(self, reg.name.lower())
            mask = strobe_mask[:reg.width]
            if reg.access == "rw":
                with m.If(hit):
                    m.d.sync += value.eq((value & ~mask) | written[:reg.width])
            elif reg.access == "wo":
                m.d.sync += value.eq(Mux(hit, written[:reg.width], 0))
            else:  # w1c
                raised = getattr(self, f"{reg.name.lower()}_set")
                if reg.name == BUS_ERROR_FIELD[0]:
                    raised = raised | (bus_error << reg.field(BUS_ERROR_FIELD[1]).lsb)
                cleared = Mux(hit, written[:reg.width], 0)
                m.d.sync += value.eq((value & ~cleared) | raised)

        # Read: one request at a time, answered on the cycle after it is taken. While no answer is held, the
        # response registers follow ARADDR every cycle, so the read mux waits on the address only, not on ARVALID.
        read = Signal()
        m.d.comb += [bus.arready.eq(~bus.rvalid), read.eq(bus.arvalid & bus.arready)]
        read_word = bus.araddr[2:]
        read_legal = read_word.matches(*word_of.values())
        with m.If(~bus.rvalid):
            m.d.sync += [bus.rresp.eq(Mux(read_legal, OKAY, SLVERR)), bus.rdata.eq(0)]
            with m.Switch(read_word):
                for reg in self.regmap:
                    if reg.access != "wo":
                        with m.Case(word_of[reg.name]):
                            m.d.sync += bus.rdata.eq(self._read_value(reg))
        with m.If(read):
            m.d.sync += bus.rvalid.eq(1)
        with m.Elif(bus.rready):
            m.d.sync += bus.rvalid.eq(0)

        m.d.comb += bus_error.eq((write & ~write_legal) | (read & ~read_legal))
        return m

    def _read_value(self, reg):
        if reg.source == "constant":
            return Const(reg.reset, DATA_BITS)
        return getattr(self, reg.name.lower())

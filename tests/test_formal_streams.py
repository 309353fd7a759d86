"""Formal bus and stream properties: the AXI4-Lite register file and the output packetiser, with broken twins.

Both blocks are checked against a legal peer (AXI handshake rules assumed on
their inputs: valid held until ready, payload stable). The harnesses count
requests and responses, or packet words, from reset (``free_initial_state``
off: the counters must start where the block starts); ``prove`` is still
k-induction, so the induction step covers every state consistent with the
assertions, not just the reachable ones. Where a harness's record must match
state the block keeps inside (a held address, the packet state machine), that
state is read from the elaborated block (``inside``) and asserted equal, so
the induction closes. Each broken twin is a subclass that adds one bug to the
real block; it must FAIL, so no check passes vacuously.
"""

from __future__ import annotations

import pytest
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal

from eligo.config import AcceleratorConfig, NetworkShape, ReadoutFormat
from eligo.layout import output_length, score_words
from eligo.regmap import Field, Register, RegisterMap
from eligo.words import OPCODE_SHIFT, PAYLOAD_BITS, Opcode
from eligo_hw.axil import OKAY, SLVERR, AxiLiteRegisters
from eligo_hw.formal import after_first_step, inside
from eligo_hw.top import OutputPacketiser
from tests.test_formal import assert_verdict


def past(m, value, name: str) -> Signal:
    """``value`` one step ago (meaningful after the first step)."""
    held = Signal.like(value, name=f"past_{name}")
    m.d.sync += held.eq(value)
    return held


def assume_stable_until_taken(m, valid, ready, payload, name: str) -> None:
    """The peer's side of a handshake: once offered, valid and payload hold until ready."""
    past_valid, past_ready = past(m, valid, f"{name}_valid"), past(m, ready, f"{name}_ready")
    past_payload = past(m, payload, f"{name}_payload")
    with m.If(after_first_step() & past_valid & ~past_ready):
        m.d.comb += Assume(valid & (payload == past_payload))


def assert_stable_until_taken(m, valid, ready, payload, name: str) -> None:
    """The block's side of a handshake: once offered, valid and payload hold until ready."""
    past_valid, past_ready = past(m, valid, f"{name}_valid"), past(m, ready, f"{name}_ready")
    past_payload = past(m, payload, f"{name}_payload")
    with m.If(after_first_step() & past_valid & ~past_ready):
        m.d.comb += [Assert(valid), Assert(payload == past_payload)]


def count_outstanding(m, request, response, bits: int, name: str) -> Signal:
    """Requests taken minus responses given; wraps in ``bits`` so a negative count shows as a large one."""
    outstanding = Signal(bits, name=f"outstanding_{name}")
    m.d.sync += outstanding.eq(outstanding + request - response)
    return outstanding


# --- AXI4-Lite register file: one response per request, none without one, SLVERR exactly where the map says -----

AXIL_MAP = RegisterMap((
    Register("ID", 0x000, "ro", "constant", (Field("magic", 0, 8, "a constant", 0xA5),), constant=True),
    Register("SCRATCH", 0x004, "rw", "read/write", (Field("value", 0, 4, "any value"),)),
    Register("COMMAND", 0x008, "wo", "pulses", (Field("go", 0, 2, "one-cycle pulses"),)),
    Register("STATUS", 0x00C, "ro", "live input", (Field("busy", 0, 1, "from the datapath"),)),
    Register("ERROR", 0x010, "w1c", "sticky", (Field("bus_error", 0, 1, "SLVERR answered"),
                                               Field("other", 1, 1, "raised by the datapath"))),
), config_hash=0)
WORD = {reg.name: reg.offset >> 2 for reg in AXIL_MAP}
WRITABLE = [WORD[reg.name] for reg in AXIL_MAP if reg.access != "ro"]


class RegistersAnsweringTwice(AxiLiteRegisters):
    """Broken: after a write response is taken, raises it once more."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        bus, again = self.s_axil, Signal()
        m.d.sync += again.eq(bus.bvalid & bus.bready & ~again)
        with m.If(bus.bvalid & bus.bready & ~again):
            m.d.sync += bus.bvalid.eq(1)
        return m


class RegistersOkayOnUnmapped(AxiLiteRegisters):
    """Broken: every read answers OKAY, unmapped addresses included."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.s_axil.arvalid & self.s_axil.arready):
            m.d.sync += self.s_axil.rresp.eq(OKAY)
        return m


class RegistersWithdrawingResponse(AxiLiteRegisters):
    """Broken: a read response not taken at once is withdrawn (lost)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.s_axil.rvalid & ~self.s_axil.rready):
            m.d.sync += self.s_axil.rvalid.eq(0)
        return m


class RegistersOkayOnReadOnlyWrite(AxiLiteRegisters):
    """Broken: a write answers OKAY whatever the address (a write to ID or an unmapped word goes unreported)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        bus = self.s_axil
        with m.If(~bus.awready & ~bus.wready & ~bus.bvalid):  # address and data held: the write happens
            m.d.sync += bus.bresp.eq(OKAY)
        return m


def axil_properties(registers_class=AxiLiteRegisters, decode: bool = True):
    """Bus rules of the register file under any legal master (random pauses, AW/W in any order, any back-pressure).

    - requests taken = responses given + occupancy: outstanding AWs (Ws) = the one held (its READY low) + the
      one answered (BVALID), outstanding ARs = RVALID; so at most two writes and one read are outstanding,
      and there is no response without a request (a response taken with none outstanding would make the
      count negative);
    - every request is answered: a complete write unanswered is answered next cycle, a read the cycle after AR;
    - BVALID/RVALID and their payload hold until ready;
    - with ``decode``: a new response is SLVERR exactly for an unmapped address, or a write to a read-only
      one, and then ERROR.bus_error is set; only an OKAY write to SCRATCH changes SCRATCH; a read of ID
      returns ID. These compare the address the harness saw taken with the one the block holds while its
      write waits for W (for as long as the master likes), so the block's held address is asserted equal to
      the harness's record (white-box), which lets k-induction close.
    """
    def build(m):
        regs = registers_class(AXIL_MAP)
        m.submodules.registers, held = inside(regs, "aw_word")
        bus = regs.s_axil
        m.d.comb += [signal.eq(AnySeq(len(signal))) for signal in (
            bus.awaddr, bus.awprot, bus.awvalid, bus.wdata, bus.wstrb, bus.wvalid, bus.bready,
            bus.araddr, bus.arprot, bus.arvalid, bus.rready, regs.status, regs.error_set)]
        assume_stable_until_taken(m, bus.awvalid, bus.awready, bus.awaddr, "aw")
        assume_stable_until_taken(m, bus.wvalid, bus.wready, Cat(bus.wdata, bus.wstrb), "w")
        assume_stable_until_taken(m, bus.arvalid, bus.arready, bus.araddr, "ar")
        assert_stable_until_taken(m, bus.bvalid, bus.bready, bus.bresp, "b")
        assert_stable_until_taken(m, bus.rvalid, bus.rready, Cat(bus.rdata, bus.rresp), "r")

        aw, w, b = bus.awvalid & bus.awready, bus.wvalid & bus.wready, bus.bvalid & bus.bready
        ar, r = bus.arvalid & bus.arready, bus.rvalid & bus.rready
        aw_out, w_out = count_outstanding(m, aw, b, 3, "aw"), count_outstanding(m, w, b, 3, "w")
        ar_out = count_outstanding(m, ar, r, 3, "ar")
        aw_word, ar_word = Signal(10), Signal(10)
        with m.If(aw):
            m.d.sync += aw_word.eq(bus.awaddr[2:])
        with m.If(ar):
            m.d.sync += ar_word.eq(bus.araddr[2:])
        past_b, past_r = past(m, b, "b_taken"), past(m, r, "r_taken")
        past_bvalid, past_rvalid = past(m, bus.bvalid, "bvalid"), past(m, bus.rvalid, "rvalid")
        past_ar = past(m, ar, "ar")
        unanswered_write = (aw_out >= 1) & (w_out >= 1) & ~bus.bvalid
        past_unanswered_write = past(m, unanswered_write, "unanswered_write")
        past_scratch = past(m, regs.scratch, "scratch")
        new_b = bus.bvalid & (~past_bvalid | past_b)
        new_r = bus.rvalid & (~past_rvalid | past_r)
        write_legal, read_legal = aw_word.matches(*WRITABLE), ar_word.matches(*WORD.values())

        m.d.comb += [
            Assert(aw_out == ~bus.awready + bus.bvalid), Assert(w_out == ~bus.wready + bus.bvalid),
            Assert(ar_out == bus.rvalid),
        ]
        with m.If(after_first_step()):
            m.d.comb += [Assert(~past_unanswered_write | bus.bvalid), Assert(~past_ar | bus.rvalid)]
        if decode:
            with m.If(~bus.awready):
                m.d.comb += Assert(held["aw_word"] == aw_word)
            with m.If(after_first_step() & new_b):
                m.d.comb += [Assert(bus.bresp == Mux(write_legal, OKAY, SLVERR)),
                             Assert(write_legal | regs.error[0])]
            with m.If(after_first_step() & new_r):
                m.d.comb += Assert(bus.rresp == Mux(read_legal, OKAY, SLVERR))
                with m.If(ar_word == WORD["ID"]):
                    m.d.comb += Assert(bus.rdata == 0xA5)
                with m.If(~read_legal):
                    m.d.comb += Assert(regs.error[0] & (bus.rdata == 0))
            with m.If(after_first_step() & (regs.scratch != past_scratch)):
                m.d.comb += Assert(new_b & (aw_word == WORD["SCRATCH"]))
        m.d.comb += [
            Cover(new_b & (bus.bresp == OKAY) & (aw_word == WORD["SCRATCH"]) & (regs.scratch == 0x9)),
            Cover(new_b & (bus.bresp == SLVERR) & (aw_word == WORD["ID"])),
            Cover(new_r & (bus.rresp == SLVERR)),
            Cover(w_out > aw_out),
            Cover(aw_out == 2),
            Cover(bus.rvalid & ~bus.rready & (bus.rdata == 0xA5)),
        ]
    return build


def test_axil_handshakes_hold_for_all_master_behaviour(tmp_path):
    assert_verdict(axil_properties(decode=False), tmp_path, "PASS", mode="prove", depth=4, free_initial_state=False)


def test_axil_responses_match_the_map(tmp_path):
    assert_verdict(axil_properties(), tmp_path, "PASS", mode="prove", depth=4, free_initial_state=False)


def test_axil_responses_reachable(tmp_path):
    assert_verdict(axil_properties(), tmp_path, "PASS", mode="cover", depth=8, free_initial_state=False)


def test_inside_names_a_missing_signal():
    with pytest.raises(KeyError, match="AxiLiteRegisters assigns no signal named \\['no_such_signal'\\]"):
        inside(AxiLiteRegisters(AXIL_MAP), "aw_word", "no_such_signal")


@pytest.mark.parametrize("broken", [RegistersAnsweringTwice, RegistersWithdrawingResponse], ids=lambda c: c.__name__)
def test_register_files_breaking_handshakes_fail(broken, tmp_path):
    assert_verdict(axil_properties(broken, decode=False), tmp_path, "FAIL", mode="prove", depth=4,
                   free_initial_state=False)


@pytest.mark.parametrize("broken", [RegistersOkayOnUnmapped, RegistersOkayOnReadOnlyWrite], ids=lambda c: c.__name__)
def test_register_files_answering_okay_wrongly_fail(broken, tmp_path):
    assert_verdict(axil_properties(broken), tmp_path, "FAIL", mode="prove", depth=4, free_initial_state=False)


# --- Output packetiser: every item in its packet once, TLAST exactly at the end, valid/payload held -------------

PACKET_CONFIGS = {
    "one_word_scores": AcceleratorConfig(network=NetworkShape(n_inputs=4, hidden=(4,), n_classes=2),
                                         readout=ReadoutFormat(score_bits=8)),
    "two_word_scores": AcceleratorConfig(network=NetworkShape(n_inputs=4, hidden=(4,), n_classes=2),
                                         readout=ReadoutFormat(score_bits=40)),
}
PACKET_DEPTH = 14
"""Cycles from reset in which the covers, and the broken twins' counterexamples, must be found: two whole
packets of the narrow configurations."""


class PacketiserLastOnEveryWord(OutputPacketiser):
    """Broken: TLAST on every word."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(~self.m_axis.tvalid | self.m_axis.tready):
            m.d.sync += self.m_axis.tlast.eq(1)
        return m


class PacketiserTakingWhileStalled(OutputPacketiser):
    """Broken: takes every item at once, even while its words cannot leave (loses scores)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.items.ready.eq(1)
        return m


class PacketiserDroppingValid(OutputPacketiser):
    """Broken: a word not taken at once is withdrawn."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.m_axis.tvalid & ~self.m_axis.tready):
            m.d.sync += self.m_axis.tvalid.eq(0)
        return m


class PacketiserRepeatingWords(OutputPacketiser):
    """Broken: every other word taken is sent again (duplicated)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        again = Signal()
        sent = self.m_axis.tvalid & self.m_axis.tready
        with m.If(sent):
            m.d.sync += again.eq(~again)
        with m.If(sent & ~again):
            m.d.sync += self.m_axis.tvalid.eq(1)
        return m


def packetiser_properties(cfg: AcceleratorConfig, packetiser_class=OutputPacketiser, framing: bool = True):
    """Stream rules of the packetiser, its items offered by a legal source (valid and payload held until ready).

    - ``m_axis``: TVALID never drops before TREADY, TDATA/TLAST stable while stalled;
    - with ``framing``: counting words sent, TLAST is on the packet's last word and only there (length
      ``output_length``), the first word is an END word, the score of class k (a solver-chosen k, the
      tagged item) fills words 1 + k * score_words ... in order, sign-extended, and the last word is the
      number of hidden spikes taken since the previous packet's scores. With the tag free, every score is
      checked, so none is lost, duplicated or moved; the spike count checks every spike item. Words in =
      words out + occupancy: the words the block has put in its output register this packet (from its
      state machine, white-box) = words sent + TVALID; with that and the block's counters tied to the
      harness's, k-induction closes. ``clear`` (an aborted sample) is held low here: what it drops is
      checked in simulation (``abort_session``). The configurations have one hidden layer; the per-layer
      counts of a deep network are checked in simulation (``tests/test_rtl_top.py``, the deep top).
    """
    per, classes, length = score_words(cfg), cfg.network.n_classes, output_length(cfg)
    full = (1 << 32) - 1

    def build(m):
        packetiser = packetiser_class(cfg)
        m.submodules.packetiser, state = inside(packetiser, "state_scores", "state_count", "klass", "score_word",
                                                "spike_count0", "spike_taken", "count_index")
        items, out = packetiser.items, packetiser.m_axis
        item = items.payload
        m.d.comb += [items.valid.eq(AnySeq(1)), item.eq(AnySeq(len(item.as_value()))),
                     item.layer.eq(0),  # one hidden layer: the engine tags every spike with layer 0
                     packetiser.end_index.eq(AnySeq(PAYLOAD_BITS)), out.tready.eq(AnySeq(1)),
                     packetiser.clear.eq(AnySeq(1) if not framing else 0)]
        assume_stable_until_taken(m, items.valid, items.ready, item.as_value(), "item")
        assert_stable_until_taken(m, out.tvalid, out.tready, Cat(out.tdata, out.tlast), "out")
        taken, sent = items.valid & items.ready, out.tvalid & out.tready
        position = Signal(range(length))
        with m.If(sent):
            m.d.sync += position.eq(Mux(position == length - 1, 0, position + 1))
        score_index = Signal(range(classes))
        last_score = taken & item.score & (score_index == classes - 1)
        with m.If(taken & item.score):
            m.d.sync += score_index.eq(Mux(score_index == classes - 1, 0, score_index + 1))
        tag = AnyConst(range(classes))
        tagged = Signal.like(item.value)
        with m.If(items.valid & item.score & (score_index == tag)):
            m.d.sync += tagged.eq(item.value)
        wide = Cat(tagged, tagged[-1].replicate(32 * per - len(tagged)))
        spikes, spikes_packed = Signal(32), Signal(32)
        with m.If(last_score):
            m.d.sync += [spikes_packed.eq(spikes), spikes.eq(0)]
        with m.Elif(taken & ~item.score & (spikes != full)):
            m.d.sync += spikes.eq(spikes + 1)
        packets = Signal(2)
        with m.If(sent & out.tlast & (packets != 3)):
            m.d.sync += packets.eq(packets + 1)
        if framing:
            with m.If(out.tvalid):
                m.d.comb += Assert(out.tlast == (position == length - 1))
                with m.If(position == 0):
                    m.d.comb += Assert(out.tdata[OPCODE_SHIFT:] == Opcode.END)
                for j in range(per):
                    with m.If(position == 1 + tag * per + j):
                        m.d.comb += Assert(out.tdata == wide.word_select(j, 32))
                with m.If(position == length - 1):
                    m.d.comb += Assert(out.tdata == spikes_packed)
            # Words in = words out + occupancy, and the block's state against the harness's counts.
            scores, count = state["state_scores"], state["state_count"]
            produced = Mux(count, length - 1 + state["count_index"],
                           Mux(scores, 1 + state["klass"] * per + state["score_word"], 0))
            m.d.comb += [
                Assert(Mux(produced == 0,
                           ((position == 0) & ~out.tvalid) | ((position == length - 1) & out.tvalid),
                           position + out.tvalid == produced)),
                Assert(~(scores & count)), Assert(state["score_word"] < per), Assert(state["klass"] < classes),
                Assert(score_index == Mux(scores, state["klass"], 0)),
                # A spike is counted the cycle after it is taken: the count plus the one in flight.
                Assert(Mux(count, spikes_packed, spikes)
                       == Mux(state["spike_count0"] == full, full, state["spike_count0"] + state["spike_taken"])),
                Assert(state["count_index"] == 0), Assert(~count | ((spikes == 0) & ~state["spike_taken"])),
            ]
            with m.If(scores & (state["score_word"] != 0)):  # a score item part sent: still offered, unchanged
                m.d.comb += Assert(items.valid & item.score & ((state["klass"] != tag) | (item.value == tagged)))
        m.d.comb += [
            Cover(sent & out.tlast & (spikes_packed == 2)),
            Cover(sent & out.tlast & (packets == 1)),
            Cover(out.tvalid & ~out.tready & (position == 1)),
        ]
    return build


@pytest.mark.parametrize("name", sorted(PACKET_CONFIGS))
def test_packetiser_output_holds_until_taken(name, tmp_path):
    assert_verdict(packetiser_properties(PACKET_CONFIGS[name], framing=False), tmp_path, "PASS", mode="prove",
                   depth=2)


@pytest.mark.parametrize("name", sorted(PACKET_CONFIGS))
def test_packets_carry_every_item_once(name, tmp_path):
    cfg = PACKET_CONFIGS[name]
    assert_verdict(packetiser_properties(cfg), tmp_path, "PASS", mode="prove", depth=4, free_initial_state=False)
    assert_verdict(packetiser_properties(cfg), tmp_path / "cover", "PASS", mode="cover", depth=PACKET_DEPTH,
                   free_initial_state=False)


@pytest.mark.parametrize("broken", [PacketiserLastOnEveryWord, PacketiserTakingWhileStalled, PacketiserDroppingValid,
                                    PacketiserRepeatingWords], ids=lambda c: c.__name__)
def test_broken_packetisers_fail(broken, tmp_path):
    cfg = PACKET_CONFIGS["two_word_scores"]
    assert_verdict(packetiser_properties(cfg, broken), tmp_path, "FAIL", mode="bmc", depth=PACKET_DEPTH,
                   free_initial_state=False)

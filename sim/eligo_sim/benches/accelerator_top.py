"""The driver on the accelerator top (``rtl`` transport) against the driver on the ``model`` transport.

The same host session runs on both: open, load the model's initial weights,
train online on a few random labelled samples, infer on a few more, read every
weight back, read the counters; then malformed streams and illegal register
accesses. Everything the host sees must be equal: END indices, class scores,
spike counts, weights, counters (the cycle counters excepted: the top counts
the engine's real phases, the model transport an ideal schedule) and ERROR
causes. Every AXI-Lite channel pauses at random, the event source idles and the
output sink back-pressures at random (``driver_loopback.start``). The fault
session (``docs/reliability.md``, Faults) runs the same way and asserts the
documented behaviour on both transports.
"""

from __future__ import annotations

import logging

import cocotb
import numpy as np
from cocotb.task import bridge
from cocotb.triggers import RisingEdge

from eligo.config import AcceleratorConfig
from eligo.driver import Accelerator, DeviceError, DriverError
from eligo.driver.model import ModelTransport
from eligo.fixed.model import initial_weights
from eligo.layout import output_length
from eligo.words import OPCODE_SHIFT, Opcode, encode
from eligo_sim.benches import driver_loopback
from eligo_sim.runner import bench_params

CYCLE_COUNTERS = ("cycles_integrate", "cycles_fire", "cycles_learn")


def random_samples(cfg: AcceleratorConfig, rng: np.random.Generator, count: int, steps: int, rate: float):
    spikes = (rng.random((count, steps, cfg.network.n_inputs)) < rate).astype(np.uint8)
    return spikes, rng.integers(0, cfg.network.n_classes, count).tolist()


def training_session(transport, cfg: AcceleratorConfig, params: dict) -> dict:
    """What the host sees of a short on-chip training run, cycle counters left out."""
    rng = np.random.default_rng(params["data_seed"])
    spikes, labels = random_samples(cfg, rng, params["samples"], params["steps"], params["event_rate"])
    accelerator = Accelerator(transport, cfg)
    accelerator.load_weights([w.numpy() for w in initial_weights(cfg, params["weight_seed"], gain=params["gain"])])
    trained = accelerator.train(spikes[:-2], labels[:-2])
    inferred = accelerator.infer(spikes[-2:])
    counters = accelerator.counters().as_dict()
    return {
        "results": [(r.index, r.scores.tolist(), r.spike_counts) for r in trained + inferred],
        "weights": [w.tolist() for w in accelerator.read_weights()],
        "counters": {name: value for name, value in counters.items() if name not in CYCLE_COUNTERS},
        "status": accelerator.read("STATUS"),
        "cycles": {name: counters[name] for name in CYCLE_COUNTERS},
    }


def malformed_cases(cfg: AcceleratorConfig) -> list[tuple[str, list[int], str]]:
    """(what, words ending in a good END, the ERROR cause expected); END indices continue from 0."""
    event, tick, label, end = (lambda p, op=op: encode(op, p) for op in (Opcode.EVENT, Opcode.TICK, Opcode.LABEL,
                                                                        Opcode.END))
    return [
        ("reserved opcode", [0x7 << 28 | 5, event(0), tick(0), end(0)], "bad_opcode"),
        ("address past n_inputs", [event(cfg.network.n_inputs), event(1), tick(0), end(1)], "bad_address"),
        ("input repeated in its step", [event(2), event(2), tick(0), end(2)], "bad_sequence"),
        ("LABEL after an EVENT", [event(0), label(0), tick(0), end(3)], "bad_sequence"),
        ("LABEL naming no class", [label(cfg.network.n_classes), event(0), tick(0), end(4)], "bad_sequence"),
        ("TICK with the wrong step", [event(0), tick(0), tick(5), tick(1), end(5)], "bad_sequence"),
        ("END with no step", [end(9), event(0), tick(0), end(6)], "bad_sequence"),
        ("END after events", [event(0), tick(0), event(1), end(9), tick(1), end(7)], "bad_sequence"),
    ]


def malformed_session(transport, cfg: AcceleratorConfig) -> list:
    """Each malformed stream's output packet, ERROR causes and BAD_WORDS; then illegal register accesses."""
    accelerator = Accelerator(transport, cfg)
    # Block RAM keeps its words through a reset: zero them, as the model transport starts, whatever ran before.
    sizes = cfg.network.layer_sizes
    accelerator.load_weights([np.zeros((n_in, n_out), dtype=np.int64) for n_in, n_out in zip(sizes[:-1], sizes[1:])])
    seen = []
    for what, words, cause in malformed_cases(cfg):
        transport.send_words(np.array(words, dtype=np.uint32))
        packet = transport.receive_words(output_length(cfg), timeout=5.0)
        causes = accelerator.errors()
        assert causes == (cause,), f"{what}: ERROR causes {causes}, expected ({cause},)"
        seen.append((what, packet.tolist(), causes, accelerator.read("BAD_WORDS")))
        accelerator.clear_errors()
    for offset, value in ((accelerator.offsets["ID"], 1), (0x3F0, None)):
        try:
            if value is None:
                transport.read_register(offset)
            else:
                transport.write_register(offset, value)
        except DeviceError as exc:
            assert exc.causes == ("bus_error",)
        else:
            raise AssertionError(f"access to offset 0x{offset:03x} must answer SLVERR")
        seen.append((offset, accelerator.errors()))
        accelerator.clear_errors()
    layer_shift = accelerator.regmap["WEIGHT_ADDR"].field("layer").lsb
    for address in (accelerator.layout.n_layers << layer_shift, accelerator.layout.n_slices(0)):
        accelerator.write("WEIGHT_ADDR", address)
        seen.append((address, accelerator.read("WEIGHT_RDATA"), accelerator.errors()))
        assert accelerator.errors() == ("bad_weight_address",)
        accelerator.clear_errors()
    return seen


class WriteCounter:
    """A transport that counts register writes, to show that a refused request never reached the bus."""

    def __init__(self, transport):
        self.transport, self.writes = transport, 0

    def write_register(self, offset: int, value: int) -> None:
        self.writes += 1
        self.transport.write_register(offset, value)

    def __getattr__(self, name):
        return getattr(self.transport, name)


def fault_session(transport, cfg: AcceleratorConfig) -> dict:
    """The documented faults, each asserted; returns what the host saw so the rtl and model runs can be compared.

    - a weight load of the wrong length (or shape) raises ``DriverError`` before any register write;
    - COMMAND.write_weight at a WEIGHT_ADDR past the memory raises ERROR.bad_weight_address, writes nothing;
    - TICKs back to back after a step of events, learning on: the stream holds each TICK until the previous
      step (fire, learn) is done; nothing is lost, no error, the packet equals the model's.
    """
    counted = WriteCounter(transport)
    accelerator = Accelerator(counted, cfg)
    weights = [w.numpy() for w in initial_weights(cfg, 3, gain=3.0)]
    accelerator.load_weights(weights)
    seen = {}
    for what, wrong in (("one layer missing", weights[:1]), ("one layer too many", weights + weights[-1:]),
                        ("a row missing", [weights[0][:-1], *weights[1:]])):
        writes = counted.writes
        try:
            accelerator.load_weights(wrong)
        except DeviceError as exc:
            raise AssertionError(f"{what}: reached the device ({exc})") from None
        except DriverError as exc:
            seen[what] = str(exc)
        else:
            raise AssertionError(f"{what}: a weight load of the wrong length must be refused")
        assert counted.writes == writes, f"{what}: {counted.writes - writes} register writes before the refusal"
    layer_shift = accelerator.regmap["WEIGHT_ADDR"].field("layer").lsb
    for address in (accelerator.layout.n_slices(0), accelerator.layout.n_layers << layer_shift):
        accelerator.write("WEIGHT_ADDR", address)
        accelerator.write("WEIGHT_WDATA", 0x5555_5555)
        accelerator.command("write_weight")
        assert accelerator.errors() == ("bad_weight_address",), f"write_weight at 0x{address:x}"
        accelerator.clear_errors()
    read_back = accelerator.read_weights()
    assert all(np.array_equal(a, b) for a, b in zip(read_back, weights)), "an out-of-range write changed a weight"

    spikes = np.zeros((1, 5, cfg.network.n_inputs), dtype=np.uint8)
    spikes[0, 0, ::2] = 1  # a busy step, then two empty ones: their TICKs follow at once
    spikes[0, 3, 1] = 1
    before = accelerator.counters()
    result = accelerator.train(spikes, [1])[0]  # raises DeviceError if the chip flagged anything
    after = accelerator.counters()
    assert after.samples == before.samples + 1 and after.events_in == before.events_in + int(spikes.sum())
    assert after.updates_applied > before.updates_applied, "the sample must learn, so its steps take long"
    seen["back-to-back ticks"] = (result.scores.tolist(), result.spike_counts,
                                  {k: v for k, v in after.as_dict().items() if k not in CYCLE_COUNTERS})
    return seen


def send_and_wait(accelerator: Accelerator, words: np.ndarray, events_in: int, polls: int = 500) -> None:
    """Send ``words`` and poll EVENTS_IN until it reads ``events_in``: the chip has taken them all."""
    accelerator.transport.send_words(words)
    for _ in range(polls):
        if accelerator.read("EVENTS_IN") == events_in:
            return
    raise AssertionError(f"EVENTS_IN never reached {events_in}")


def abort_session(transport, cfg: AcceleratorConfig) -> dict:
    """COMMAND.reset_sample in the middle of a labelled sample, learning on, once asked by the driver
    (``abort_sample``) and once raw; returns what the host saw.

    The host sends a sample's first step and the next step's events, waits until the chip has taken them,
    aborts, then sends the rest (an EVENT, TICK, END): those are dropped, counted in ABORTED_WORDS, and no
    packet comes; the next sample runs as on a fresh sample. The driver's own abort clears the cause it raised;
    a raw one is reported by the next sample as ``DeviceError`` (sample_aborted). Outside a sample the command
    aborts nothing.
    """
    accelerator = Accelerator(transport, cfg)
    accelerator.load_weights([w.numpy() for w in initial_weights(cfg, 5, gain=3.0)])
    accelerator.set_learning(True)
    rng = np.random.default_rng(11)
    spikes, labels = random_samples(cfg, rng, 3, 3, 0.4)
    spikes[:, :2, :2] = 1  # every step has events, so the cut falls inside a step
    event, tick, label, end = (lambda p, op=op: encode(op, p) for op in (Opcode.EVENT, Opcode.TICK, Opcode.LABEL,
                                                                        Opcode.END))
    seen = {"idle abort": accelerator.abort_sample()}
    assert not seen["idle abort"] and accelerator.errors() == ()
    results = []
    for asked in (True, False):
        sample = spikes[0]
        step0, step1 = np.flatnonzero(sample[0]).tolist(), np.flatnonzero(sample[1]).tolist()
        head = [label(labels[0]), *map(event, step0), tick(0), *map(event, step1[:-1])]
        before = accelerator.counters()
        send_and_wait(accelerator, np.array(head, dtype=np.uint32), before.events_in + len(step0) + len(step1) - 1)
        if asked:
            assert accelerator.abort_sample(), "a sample was in progress"
        else:
            accelerator.command("reset_sample")
        status = accelerator.read("STATUS") & accelerator.regmap["STATUS"].field("busy").mask
        tail = [event(step1[-1]), tick(1), end(0)]
        transport.send_words(np.array(tail, dtype=np.uint32))
        try:
            trained = accelerator.train(spikes[1:2], labels[1:2])
            results += [(r.index, r.scores.tolist(), r.spike_counts) for r in trained]
        except DeviceError as exc:
            assert not asked and exc.causes == ("sample_aborted",), exc
            accelerator.clear_errors()
            results.append(exc.causes)
        after = accelerator.counters()
        assert after.aborted_words == before.aborted_words + len(tail), "the rest of the sample is dropped, counted"
        assert after.samples == before.samples + 1 and after.bad_words == 0
        seen[f"abort asked={asked}"] = (status, {k: v for k, v in after.as_dict().items() if k not in CYCLE_COUNTERS})
        spikes = spikes[1:]
        labels = labels[1:]
    seen["results"] = results
    seen["weights"] = [w.tolist() for w in accelerator.read_weights()]
    return seen


async def count_held_ticks(dut, held: list) -> None:
    """Count cycles in which a TICK word waited on ``s_axis`` (offered, not taken)."""
    while True:
        await RisingEdge(dut.clk)
        if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 0 \
                and int(dut.s_axis_tdata.value) >> OPCODE_SHIFT == Opcode.TICK:
            held[0] += 1


def quiet_bus_models(dut) -> None:
    """The bus models log every transfer at INFO: thousands of weight writes would dominate the run."""
    for bus in ("s_axil", "s_axis", "m_axis"):
        logging.getLogger(f"cocotb.{dut._name}.{bus}").setLevel(logging.WARNING)


async def start_top(dut, timeout_ns: int):
    """Clock, reset, bus models with random pauses (``driver_loopback.start``) and the ``rtl`` transport."""
    quiet_bus_models(dut)
    if cocotb.SIM_NAME.lower().startswith("icarus"):
        # Icarus runs a combinational block only when an input changes: an FSM's decoded outputs (the engine's
        # output valid, the softmax unit's busy, which the engine waits on at END) stay X until its state first
        # changes. Step each once; reset puts them back.
        for fsm in (dut.engine, dut.engine.softmax):
            fsm.fsm_state.value = 1
    cfg, transport, _ = await driver_loopback.start(dut)
    transport.timeout_ns = timeout_ns
    return cfg, transport


async def compare(dut, session, timeout_ns: int):
    cfg, transport = await start_top(dut, timeout_ns)
    params = bench_params()
    expected = session(ModelTransport(cfg), cfg, params)
    got = await bridge(lambda: session(transport, cfg, params))()
    return expected, got


@cocotb.test()
async def training_run_matches_model(dut):
    expected, got = await compare(dut, training_session, bench_params()["timeout_ns"])
    dut._log.info("cycle counters: rtl %s, model transport %s", got["cycles"], expected["cycles"])
    del expected["cycles"], got["cycles"]
    params = bench_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    initial = [w.tolist() for w in initial_weights(cfg, params["weight_seed"], gain=params["gain"])]
    assert got["counters"]["updates_applied"] > 0 and got["weights"] != initial, "the run must learn"
    assert got["counters"]["events_dropped"] == 0
    for key in expected:
        assert got[key] == expected[key], f"{key}: rtl {got[key]} != model {expected[key]}"


@cocotb.test()
async def malformed_words_and_accesses_raise_documented_errors(dut):
    expected, got = await compare(dut, lambda transport, cfg, _: malformed_session(transport, cfg),
                                  bench_params()["timeout_ns"])
    assert got == expected, f"rtl {got} != model {expected}"


@cocotb.test()
async def faults_behave_as_documented(dut):
    held = [0]
    cocotb.start_soon(count_held_ticks(dut, held))
    expected, got = await compare(dut, lambda transport, cfg, _: fault_session(transport, cfg),
                                  bench_params()["timeout_ns"])
    assert got == expected, f"rtl {got} != model {expected}"
    assert held[0] > 0, "no TICK ever waited for the previous step: the back-pressure case was not exercised"


@cocotb.test()
async def sample_abort_matches_model(dut):
    expected, got = await compare(dut, lambda transport, cfg, _: abort_session(transport, cfg),
                                  bench_params()["timeout_ns"])
    assert got == expected, f"rtl {got} != model {expected}"

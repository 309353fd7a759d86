"""Bench of the layer engine against ``FixedModel.step``, sample by sample, step by step.

The design is built with the model's initial weights for ``weight_seed``. A
few host weight writes go in first (the model gets them too). Random
samples (some unlabelled) are then streamed as words, with random idle
cycles on the command stream and random back-pressure on the output. The
bench compares, bit for bit: the hidden spikes of every step (output
stream), the class scores of every sample (END), membranes, post traces,
logits, scores and both layers' pre traces at checkpoint steps, every
weight of both layers there too (unless ``weights_at_checkpoints`` is off)
and at the end. With ``inject_errors`` some steps also carry a repeated input
and a late LABEL, which must be consumed, counted and flagged without
changing the result. With ``abort_every`` = n every n-th sample is aborted
(the ``abort`` pulse) at a random point: while events stream in, a random number
of cycles after a TICK, or among the scores after END; the engine must then
hold zero state and the model's weights, and the next samples must match
bit for bit. Each sample runs at a random learning-rate decay (``lr_decay``,
0..``max_decay``). Cycle counts per step go to ``report`` (JSON) when given.
"""

from __future__ import annotations

import json

import cocotb
import numpy as np
import torch
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from eligo.config import AcceleratorConfig
from eligo.fixed.arith import saturate
from eligo.fixed.blocks import integrate_events
from eligo.fixed.lif import lif_fire, lif_integrate
from eligo.fixed.model import FixedModel, initial_weights
from eligo.words import Opcode, encode
from eligo_sim.clocking import start_clock_and_reset
from eligo_sim.runner import bench_params, bench_seed


def lanes(bits: int, width: int, count: int, signed: bool = True) -> list[int]:
    """Split a flat port value into ``count`` fields of ``width`` bits (lane 0 lowest)."""
    fields = [(bits >> (i * width)) & ((1 << width) - 1) for i in range(count)]
    if signed:
        fields = [v - (1 << width) if v >> (width - 1) else v for v in fields]
    return fields


def hidden_spikes(model: FixedModel, state, x: torch.Tensor) -> list[int]:
    """The hidden spikes the model's next step will produce (computed before ``step`` changes anything)."""
    cfg = model.cfg
    current = saturate(integrate_events(x[None], model.weights(0), cfg.accumulator_bits[0]), cfg.neuron.input_bits)
    _, spikes = lif_fire(lif_integrate(state.membranes[0], current, cfg.neuron), cfg.neuron)
    return torch.nonzero(spikes[0]).flatten().tolist()


class Engine:
    """Drives the DUT's ports on falling edges; everything it reads, it reads after ReadOnly."""

    def __init__(self, dut, cfg: AcceleratorConfig, rng: np.random.Generator, idle: float, backpressure: float):
        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.idle, self.backpressure = idle, backpressure
        self.outputs: list[tuple[int, int, int]] = []
        self.cycle = 0

    async def clock_and_output(self):
        """Count cycles, take output words under random back-pressure."""
        dut, sb = self.dut, self.cfg.readout.score_bits
        while True:
            dut.output_ready.value = int(self.rng.random() >= self.backpressure)
            await RisingEdge(dut.clk)
            self.cycle += 1
            # Icarus leaves a combinational output X until one of its inputs first changes: not valid yet.
            valid = dut.output_valid.value
            if valid.is_resolvable and int(valid) and int(dut.output_ready.value):
                bits = int(dut.output_payload.value)
                value = lanes(bits, sb, 1)[0]
                self.outputs.append(((bits >> (sb + 16)) & 1, (bits >> sb) & 0xFFFF, value))
            await FallingEdge(dut.clk)

    async def send(self, word: int) -> None:
        dut = self.dut
        while self.rng.random() < self.idle:
            await FallingEdge(dut.clk)
        dut.commands_valid.value = 1
        dut.commands_payload.value = word
        while True:
            await RisingEdge(dut.clk)
            accepted = int(dut.commands_ready.value)
            await FallingEdge(dut.clk)
            if accepted:
                break
        dut.commands_valid.value = 0

    async def abort(self, delay: int) -> None:
        """Pulse ``abort`` for one cycle after ``delay`` cycles."""
        for _ in range(delay):
            await FallingEdge(self.dut.clk)
        self.dut.abort.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.abort.value = 0

    async def wait_idle(self) -> None:
        await FallingEdge(self.dut.clk)
        while True:
            await ReadOnly()
            if int(self.dut.idle.value):
                break
            await FallingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)

    async def probe(self, address: int, names: list[str]) -> dict[str, int]:
        """The probe outputs ``names`` (those whose memory has ``address``; the others may read X)."""
        dut = self.dut
        dut.probe_addr.value = address
        await RisingEdge(dut.clk)
        await ReadOnly()
        values = {name: int(getattr(dut, f"probe_{name}").value) for name in names}
        await FallingEdge(dut.clk)
        return values

    async def weight(self, layer: int, address: int) -> list[int]:
        dut = self.dut
        dut.weight_layer.value = layer
        dut.weight_addr.value = address
        await RisingEdge(dut.clk)
        await ReadOnly()
        word = lanes(int(dut.weight_rdata.value), self.cfg.weight_bits, self.cfg.lanes)
        await FallingEdge(dut.clk)
        return word

    async def write_weight(self, layer: int, address: int, word: list[int]) -> None:
        dut, bits = self.dut, self.cfg.weight_bits
        dut.weight_layer.value = layer
        dut.weight_addr.value = address
        dut.weight_wdata.value = sum((v & ((1 << bits) - 1)) << (i * bits) for i, v in enumerate(word))
        dut.weight_we.value = 1
        await FallingEdge(dut.clk)
        dut.weight_we.value = 0


async def compare_state(engine: Engine, model: FixedModel, state, where: str) -> None:
    """Membranes, post traces, logits, scores and pre traces, lane by lane, against the model's state."""
    cfg, p = model.cfg, model.cfg.lanes
    n_in, n_hidden, classes = cfg.network.layer_sizes
    rows = max(n_in, n_hidden, cfg.groups[0], cfg.groups[1])
    got = {"membranes": [], "post": [], "logits": [], "scores": [], "pre0": [], "pre1": []}
    widths = {"membranes": cfg.neuron.membrane_bits, "post": cfg.traces.bits, "logits": cfg.neuron.membrane_bits,
              "scores": cfg.readout.score_bits}
    depths = {"membranes": cfg.groups[0], "post": cfg.groups[0], "logits": cfg.groups[1], "scores": cfg.groups[1],
              "pre0": n_in, "pre1": n_hidden}
    for address in range(rows):
        values = await engine.probe(address, [name for name, depth in depths.items() if address < depth])
        if address < cfg.groups[0]:
            got["membranes"] += lanes(values["membranes"], widths["membranes"], p)
            got["post"] += lanes(values["post"], widths["post"], p, signed=False)
        if address < cfg.groups[1]:
            got["logits"] += lanes(values["logits"], widths["logits"], p)
            got["scores"] += lanes(values["scores"], widths["scores"], p)
        for layer, n in ((0, n_in), (1, n_hidden)):
            if address < n:
                got[f"pre{layer}"].append(values[f"pre{layer}"] & cfg.traces.max_value)
    expected = {"membranes": state.membranes[0][0], "post": state.post_traces[0][0], "logits": state.logits[0],
                "scores": state.scores[0], "pre0": state.pre_traces[0][0], "pre1": state.pre_traces[1][0]}
    sizes = {"membranes": n_hidden, "post": n_hidden, "logits": classes, "scores": classes}
    for name, reference in expected.items():
        value = got[name][:sizes.get(name, len(got[name]))]
        assert value == reference.tolist(), f"{where}: {name} differ: rtl {value} model {reference.tolist()}"


async def abort_in_step(engine: Engine, model: FixedModel, state, x: torch.Tensor, events: list[int],
                        label: int | None, t: int, delay_range: int) -> None:
    """Send part of step t (some events, maybe its TICK), abort at a random cycle, and follow in the model.

    A step whose TICK was taken counts in the model only if its weight update
    ran (``learn_steps`` moved): an abort before the update skips it, one
    during the update waits for its end.
    """
    dut, rng = engine.dut, engine.rng
    # Half the aborts come after the TICK (in fire, readout, learning or the update), half among the events.
    sent = len(events) + 1 if rng.random() < 0.5 else int(rng.integers(0, len(events) + 1))
    for j in events[:sent]:
        await engine.send(encode(Opcode.EVENT, j))
    learn_steps = int(dut.learn_steps.value)
    if sent > len(events):
        await engine.send(encode(Opcode.TICK, t))
    delay = int(rng.integers(0, delay_range))
    await engine.abort(delay)
    await engine.wait_idle()
    updated = int(dut.learn_steps.value) != learn_steps
    if updated:
        model.step(state, x[None], label, t)
    dut._log.info("abort in step %d (label %s): %d of %d events%s, %d cycles later; the step's update %s", t, label,
                  min(sent, len(events)), len(events), ", TICK" if sent > len(events) else "", delay,
                  "ran" if updated else "did not run")


async def compare_weights(engine: Engine, model: FixedModel, where: str) -> None:
    """Every weight word of both layers, read back through the host port."""
    cfg = model.cfg
    mismatches = []
    for layer in (0, 1):
        expected = model.words[layer].view(-1, cfg.lanes).tolist()
        for address in range(len(expected)):
            word = await engine.weight(layer, address)
            if word != expected[address]:
                mismatches.append((layer, address, word, expected[address]))
    assert not mismatches, (f"{where}: {len(mismatches)} weight words differ; first (layer, address, rtl, model): "
                            f"{mismatches[:3]}")


@cocotb.test()
async def engine_matches_model(dut):
    params = bench_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    rng = np.random.default_rng(bench_seed())
    model = FixedModel(cfg, initial_weights(cfg, int(params["weight_seed"]), gain=float(params["gain"])))
    n_in, n_hidden, classes = cfg.network.layer_sizes
    engine = Engine(dut, cfg, rng, float(params.get("idle", 0.0)), float(params.get("backpressure", 0.0)))
    checkpoint = int(params.get("checkpoint_every", 1))

    await start_clock_and_reset(dut, ("commands_valid", "commands_payload", "clear_error", "abort", "weight_layer",
                                      "weight_addr", "weight_we", "weight_wdata", "probe_addr", "lr_decay"))
    cocotb.start_soon(engine.clock_and_output())

    lo, hi = cfg.weight_range
    await engine.wait_idle()  # a single-port memory writes its initial weights after reset
    for layer in (0, 1):  # the host port: a few words overwritten, in the model as well
        for address in rng.choice(n_in * cfg.groups[0] if layer == 0 else n_hidden * cfg.groups[1], 4, replace=False):
            word = rng.integers(lo, hi + 1, cfg.lanes).tolist()
            await engine.write_weight(layer, int(address), word)
            model.words[layer].view(-1, cfg.lanes)[int(address)] = torch.tensor(word)

    inject_errors = bool(params.get("inject_errors", False))
    abort_every, abort_delay = int(params.get("abort_every", 0)), int(params.get("abort_delay", 300))
    max_decay = int(params.get("max_decay", 2))
    injected = aborts = 0
    report = []
    step_index = 0
    for sample in range(int(params["samples"])):
        steps = int(params["steps"])
        rate = float(params["event_rate"])
        spikes = torch.tensor(rng.random((steps, n_in)) < rate, dtype=torch.int64)
        label = None if sample % 3 == 2 else int(rng.integers(0, classes))
        # An aborted sample stops in step abort_at (after END when abort_at == steps).
        aborted = abort_every and sample % abort_every == abort_every - 1
        abort_at = int(rng.integers(0, steps + 1)) if aborted else None
        state = model.new_state(1)
        # A learning-rate decay per sample, set while idle as the driver sets CONTROL.lr_decay between epochs.
        model.lr_decay = int(rng.integers(0, min(cfg.learning.max_lr_decay, max_decay) + 1))
        dut.lr_decay.value = model.lr_decay
        if label is not None:
            await engine.send(encode(Opcode.LABEL, label))
        expected_spikes = []
        for t in range(steps):
            x = spikes[t]
            expected_spikes.append(hidden_spikes(model, state, x))
            events = rng.permutation(np.flatnonzero(x.numpy())).tolist()
            if t == abort_at:
                await abort_in_step(engine, model, state, x, events, label, t, abort_delay)
                break
            counters_before = {name: int(getattr(dut, f"cycles_{name}").value)
                               for name in ("integrate", "fire", "readout", "traces", "learn", "stall")}
            words_before = int(dut.learn_words.value)
            start_cycle = engine.cycle
            for j in events:
                await engine.send(encode(Opcode.EVENT, j))
            if inject_errors and abort_at is None and events and t == 1:  # repeated input, late label: counted
                await engine.send(encode(Opcode.EVENT, events[0]))
                await engine.send(encode(Opcode.LABEL, 0))
                injected += 1
            await engine.send(encode(Opcode.TICK, t))
            model.step(state, x[None], label, t)
            await engine.wait_idle()
            report.append({
                "events": len(events), "spikes": len(expected_spikes[-1]), "cycles": engine.cycle - start_cycle,
                "learn_words": int(dut.learn_words.value) - words_before,
                **{name: int(getattr(dut, f"cycles_{name}").value) - before
                   for name, before in counters_before.items()},
            })
            if step_index % checkpoint == checkpoint - 1:
                await compare_state(engine, model, state, f"sample {sample} step {t}")
                if params.get("weights_at_checkpoints", True):
                    await compare_weights(engine, model, f"sample {sample} step {t}")
            step_index += 1
        if abort_at is not None and abort_at < steps:
            engine.outputs.clear()
        else:
            await engine.send(encode(Opcode.END, sample))
            if abort_at is not None:  # an abort among the scores: those sent are a prefix, no more follow
                await engine.abort(int(rng.integers(0, classes + 2)))
            await engine.wait_idle()
            got_spikes = [[] for _ in range(steps)]
            scores = []
            for is_score, index, value in engine.outputs:
                if is_score:
                    scores.append((index, value))
                else:
                    got_spikes[value].append(index)
            engine.outputs.clear()
            expected_scores = list(enumerate(state.scores[0].tolist()))
            assert got_spikes == expected_spikes, f"sample {sample}: hidden spikes differ"
            assert scores == expected_scores[:len(scores) if abort_at is not None else None], \
                f"sample {sample}: scores differ"
        if abort_at is not None:
            aborts += 1
            await compare_state(engine, model, model.new_state(1), f"sample {sample} after its abort")
            if params.get("weights_at_checkpoints", True):
                await compare_weights(engine, model, f"sample {sample} after its abort")

    await compare_weights(engine, model, "at the end")
    assert int(dut.learn_words.value) == model.lfsr_steps, "RTL and model updated different numbers of words"
    counted = (int(dut.duplicate_events.value), int(dut.bad_labels.value))
    assert counted == (injected, injected), f"sent {injected} repeated inputs and late labels, counted {counted}"
    assert int(dut.error.value) == (injected > 0), "the error flag must be up exactly when errors were sent"
    total_spikes = sum(step["spikes"] for step in report)
    dut._log.info("steps=%d spikes=%d learned words=%d cycles=%d", len(report), total_spikes, model.lfsr_steps,
                  sum(step["cycles"] for step in report))
    assert model.lfsr_steps > 0 and total_spikes > 0, "the run must fire and learn"
    assert aborts == (int(params["samples"]) // abort_every if abort_every else 0), "every abort must be sent"
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump({"steps": report, "total_cycles": engine.cycle}, f)

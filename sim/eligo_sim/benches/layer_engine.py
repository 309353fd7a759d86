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


def step_spikes(model: FixedModel) -> list[tuple[int, int]]:
    """The hidden spikes of the model's last step as (layer, neuron), in the order the engine sends them."""
    return [(layer, int(i)) for layer, step in enumerate(model.last_step[:-1]) for i in np.flatnonzero(step.spikes[0])]


class Engine:
    """Drives the DUT's ports on falling edges; everything it reads, it reads after ReadOnly."""

    def __init__(self, dut, cfg: AcceleratorConfig, rng: np.random.Generator, idle: float, backpressure: float):
        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.idle, self.backpressure = idle, backpressure
        self.outputs: list[tuple[int, int, int, int]] = []
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
                self.outputs.append(((bits >> (sb + 16)) & 1, bits >> (sb + 17), (bits >> sb) & 0xFFFF, value))
            await FallingEdge(dut.clk)

    def take_outputs(self, steps: int) -> tuple[list[list[tuple[int, int]]], list[tuple[int, int]]]:
        """The output words since the last call: hidden spikes per step as (layer, neuron), scores as (class, value)."""
        spikes, scores = [[] for _ in range(steps)], []
        for is_score, layer, index, value in self.outputs:
            if is_score:
                scores.append((index, value))
            else:
                spikes[value].append((layer, index))
        self.outputs.clear()
        return spikes, scores

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

    async def probe(self, layer: int, address: int, names: list[str]) -> dict[str, int]:
        """The probe outputs ``names`` of ``layer`` (those whose memory has ``address``; the others may read X)."""
        dut = self.dut
        dut.probe_layer.value = layer
        dut.probe_addr.value = address
        await RisingEdge(dut.clk)
        await ReadOnly()
        values = {name: int(getattr(dut, f"probe_{name}").value) for name in names}
        await FallingEdge(dut.clk)
        return values

    async def weight(self, layer: int, address: int) -> list[int]:
        dut = self.dut
        dut.weights_layer.value = layer
        dut.weights_addr.value = address
        await RisingEdge(dut.clk)
        await ReadOnly()
        word = lanes(int(dut.weights_rdata.value), self.cfg.weight_bits, self.cfg.lanes)
        await FallingEdge(dut.clk)
        return word

    async def write_weight(self, layer: int, address: int, word: list[int]) -> None:
        dut, bits = self.dut, self.cfg.weight_bits
        dut.weights_layer.value = layer
        dut.weights_addr.value = address
        dut.weights_wdata.value = sum((v & ((1 << bits) - 1)) << (i * bits) for i, v in enumerate(word))
        dut.weights_we.value = 1
        await FallingEdge(dut.clk)
        dut.weights_we.value = 0


async def compare_state(engine: Engine, model: FixedModel, state, where: str) -> None:
    """Every layer's membranes, post traces and pre traces, the logits and scores, lane by lane, against the model."""
    cfg, p = model.cfg, model.cfg.lanes
    sizes = cfg.network.layer_sizes
    readout = len(sizes) - 2
    width = max(cfg.neuron.membrane_bits, cfg.readout_neuron.membrane_bits)
    for layer in range(readout + 1):
        got = {"membranes": [], "post": [], "logits": [], "scores": [], "pre": []}
        groups = cfg.groups[layer]
        for address in range(max(sizes[layer], groups)):
            names = ["pre"] if address < sizes[layer] else []
            if address < groups:
                names += ["logits", "scores"] if layer == readout else ["membranes", "post"]
            values = await engine.probe(layer, address, names)
            if address < groups:
                for name in names[-2:]:
                    bits = {"post": cfg.traces.bits, "scores": cfg.readout.score_bits}.get(name, width)
                    got[name] += lanes(values[name], bits, p, signed=name != "post")
            if address < sizes[layer]:
                got["pre"].append(values["pre"])
        if layer == readout:
            expected = {"logits": state.logits[0], "scores": state.scores[0]}
        else:
            expected = {"membranes": state.membranes[layer][0], "post": state.post_traces[layer][0]}
        expected["pre"] = state.pre_traces[layer][0]
        for name, reference in expected.items():
            value = got[name][:len(reference)]
            assert value == reference.tolist(), \
                f"{where}: layer {layer} {name} differ: rtl {value} model {reference.tolist()}"


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
    learn_steps = int(dut.counters_learn_steps.value)
    if sent > len(events):
        await engine.send(encode(Opcode.TICK, t))
    delay = int(rng.integers(0, delay_range))
    await engine.abort(delay)
    await engine.wait_idle()
    updated = int(dut.counters_learn_steps.value) != learn_steps
    if updated:
        model.step(state, x[None], label, t)
    dut._log.info("abort in step %d (label %s): %d of %d events%s, %d cycles later; the step's update %s", t, label,
                  min(sent, len(events)), len(events), ", TICK" if sent > len(events) else "", delay,
                  "ran" if updated else "did not run")


async def compare_weights(engine: Engine, model: FixedModel, where: str) -> None:
    """Every weight word of every layer, read back through the host port."""
    cfg = model.cfg
    mismatches = []
    for layer in range(len(model.words)):
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
    sizes = cfg.network.layer_sizes
    n_in, classes = sizes[0], sizes[-1]
    engine = Engine(dut, cfg, rng, float(params.get("idle", 0.0)), float(params.get("backpressure", 0.0)))
    checkpoint = int(params.get("checkpoint_every", 1))

    await start_clock_and_reset(dut, ("commands_valid", "commands_payload", "clear_error", "abort", "weights_layer",
                                      "weights_addr", "weights_we", "weights_wdata", "probe_layer", "probe_addr",
                                      "lr_decay"))
    cocotb.start_soon(engine.clock_and_output())

    lo, hi = cfg.weight_range
    await engine.wait_idle()  # a single-port memory writes its initial weights after reset
    for layer in range(len(model.words)):  # the host port: a few words overwritten, in the model as well
        for address in rng.choice(sizes[layer] * cfg.groups[layer], 4, replace=False):
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
            events = rng.permutation(np.flatnonzero(x.numpy())).tolist()
            if t == abort_at:
                await abort_in_step(engine, model, state, x, events, label, t, abort_delay)
                break
            counters_before = {name: int(getattr(dut, f"counters_cycles_{name}").value)
                               for name in ("integrate", "fire", "readout", "traces", "learn", "stall")}
            words_before = int(dut.counters_learn_words.value)
            start_cycle = engine.cycle
            for j in events:
                await engine.send(encode(Opcode.EVENT, j))
            if inject_errors and abort_at is None and events and t == 1:  # repeated input, late label: counted
                await engine.send(encode(Opcode.EVENT, events[0]))
                await engine.send(encode(Opcode.LABEL, 0))
                injected += 1
            await engine.send(encode(Opcode.TICK, t))
            model.step(state, x[None], label, t)
            expected_spikes.append(step_spikes(model))
            await engine.wait_idle()
            report.append({
                "events": len(events), "spikes": len(expected_spikes[-1]), "cycles": engine.cycle - start_cycle,
                "spikes_per_layer": [int(step.spikes.sum()) for step in model.last_step[:-1]],
                "learn_words": int(dut.counters_learn_words.value) - words_before,
                **{name: int(getattr(dut, f"counters_cycles_{name}").value) - before
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
            got_spikes, scores = engine.take_outputs(steps)
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
    assert int(dut.counters_learn_words.value) == model.learn_words, "RTL and model updated different numbers of words"
    counted = (int(dut.counters_duplicate_events.value), int(dut.counters_bad_labels.value))
    assert counted == (injected, injected), f"sent {injected} repeated inputs and late labels, counted {counted}"
    assert int(dut.error.value) == (injected > 0), "the error flag must be up exactly when errors were sent"
    total_spikes = sum(step["spikes"] for step in report)
    dut._log.info("steps=%d spikes=%d learned words=%d cycles=%d", len(report), total_spikes, model.learn_words,
                  sum(step["cycles"] for step in report))
    assert model.learn_words > 0 and total_spikes > 0, "the run must fire and learn"
    assert aborts == (int(params["samples"]) // abort_every if abort_every else 0), "every abort must be sent"
    if params.get("report"):
        with open(params["report"], "w") as f:
            json.dump({"steps": report, "total_cycles": engine.cycle}, f)

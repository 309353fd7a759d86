"""Soak of the accelerator top: a long labelled event stream through the driver, checked against the model.

Random samples are sent in chunks of whole samples (``Accelerator.run_stream``,
learning on) through the ``rtl`` transport with random idles on the source and
random back-pressure on the sink; the same words go through the ``model``
transport. The weights read back after loading, every output packet, the
weights at the end and the counters (cycle counters aside) must be equal, and
EVENTS_IN must equal the events sent with EVENTS_DROPPED at 0. Simulated and
wall time per chunk go to ``report`` (JSON).
"""

from __future__ import annotations

import json
import time

import cocotb
import numpy as np
from cocotb.task import bridge
from cocotb.utils import get_sim_time

from eligo.data.stream import sample_words
from eligo.driver import Accelerator
from eligo.driver.model import ModelTransport
from eligo.fixed.model import initial_weights
from eligo_sim.benches.accelerator_top import CYCLE_COUNTERS, random_samples, start_top
from eligo_sim.runner import bench_params


def chunk_words(spikes, labels, first_index: int) -> np.ndarray:
    return np.concatenate([sample_words(sample, label, first_index + i)
                           for i, (sample, label) in enumerate(zip(spikes, labels))])


@cocotb.test()
async def soak_matches_model(dut):
    params = bench_params()
    cfg, transport = await start_top(dut, params["timeout_ns"])
    rng = np.random.default_rng(params["data_seed"])
    weights = [w.numpy() for w in initial_weights(cfg, params["weight_seed"], gain=params["gain"])]
    model = Accelerator(ModelTransport(cfg), cfg)
    chunks = []

    def compare_weights(chip, when: str):
        for layer, (g, e) in enumerate(zip(chip.read_weights(), model.read_weights(), strict=True)):
            differ = np.argwhere(g != e)
            assert not len(differ), (f"layer {layer}: {len(differ)} weights differ {when}, first at "
                                     f"{differ[:16].tolist()}: rtl {g[tuple(differ[:16].T)].tolist()}, "
                                     f"model {e[tuple(differ[:16].T)].tolist()}")

    def host():
        chip = Accelerator(transport, cfg)
        for accelerator in (chip, model):
            accelerator.load_weights(weights)
            accelerator.set_learning(True)
        compare_weights(chip, "after loading")
        sent = samples = 0
        while sent < params["events"]:
            spikes, labels = random_samples(cfg, rng, params["chunk"], params["steps"], params["event_rate"])
            words = chunk_words(spikes, labels, samples)
            wall, sim = time.perf_counter(), get_sim_time("ns")
            got = chip.run_stream(words)
            chunks.append({"events": int(spikes.sum()), "wall_s": time.perf_counter() - wall,
                           "sim_ns": get_sim_time("ns") - sim})
            expected = model.run_stream(words)
            for g, e in zip(got, expected, strict=True):
                assert (g.index, g.scores.tolist(), g.spike_counts) == (e.index, e.scores.tolist(), e.spike_counts), \
                    f"sample {e.index}: rtl {g} != model {e}"
            sent += int(spikes.sum())
            samples += len(spikes)
            dut._log.info("%d events, %d samples checked", sent, samples)
        compare_weights(chip, "after the soak")
        counters, expected = chip.counters().as_dict(), model.counters().as_dict()
        return sent, samples, counters, expected

    sent, samples, counters, expected = await bridge(host)()
    assert counters["events_in"] == sent and counters["events_dropped"] == 0, counters
    for name in expected:
        if name not in CYCLE_COUNTERS:
            assert counters[name] == expected[name], f"{name}: rtl {counters[name]} != model {expected[name]}"
    with open(params["report"], "w") as f:
        json.dump({"events": sent, "samples": samples, "counters": counters, "model_counters": expected,
                   "chunks": chunks}, f, indent=1)

"""The soak of the accelerator top, from pytest or ``bench/soak.py``: its networks and one run on either simulator.

A run elaborates the top, builds it on the chosen simulator and runs the cocotb soak bench
(``eligo_sim.benches.accelerator_soak``): labelled random samples with learning on, through the ``rtl``
transport with random pauses on every AXI-Lite channel, random idles on the event source and random
back-pressure on the output sink, every packet, the final weights and the counters compared with the
``model`` transport. The bench fails on the first difference; the summary says how many events went in and
how many were dropped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape

CLOCK_NS = 10  # the bench's clock period (driver_loopback.start)
NETWORKS = {
    # name: (network, lanes, input event rate per address and step, rule)
    "small": (NetworkShape(n_inputs=64, hidden=(16,), n_classes=4), 16, 0.4, "stllr"),
    "wide": (NetworkShape(n_inputs=512, hidden=(32,), n_classes=10), 16, 0.05, "stllr"),
    "deep": (NetworkShape(n_inputs=64, hidden=(16, 16), n_classes=4), 16, 0.4, "tess"),
}
"""``small`` is quick to build and dense in events; ``wide`` has the default input width (512 addresses, the
2 x 16 x 16 map) at a DVS-like density (about 26 events per step); ``deep`` is ``small`` with a second hidden
layer, each learning from its own TESS signal. Each trains with its rule unless ``rule=`` picks another:
S-TLLR with the back-projected signal (the default) where there is one hidden layer."""


def soak_config(network: str, rule: str | None = None) -> AcceleratorConfig:
    shape, lanes, _, default_rule = NETWORKS[network]
    return AcceleratorConfig(network=shape, lanes=lanes,
                             learning=LearningConfig(rule=rule or default_rule, alpha_post=1, lr_shift=4))


def run_soak(network: str, simulator: str, events: int, work: Path, *, steps: int = 20, chunk: int = 50,
             seed: int = 0, rule: str | None = None, event_rate: float | None = None) -> dict:
    """Build and soak; returns the bench's report (events sent, samples, counters, per-chunk times) with the
    build and bench wall times. Raises AssertionError on any difference from the model."""
    from eligo_hw.export import write_verilog
    from eligo_hw.top import Accelerator
    from eligo_sim.runner import build_bench

    cfg = soak_config(network, rule)
    rate = NETWORKS[network][2] if event_rate is None else event_rate
    start = time.perf_counter()
    source = write_verilog(Accelerator(cfg), "accelerator", work / "accelerator.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="accelerator", build_dir=work / simulator)
    build_s = time.perf_counter() - start
    params = {"config": cfg.to_dict(), "events": events, "steps": steps, "chunk": chunk, "event_rate": rate,
              "weight_seed": 2, "gain": 2.0, "data_seed": seed, "timeout_ns": 100_000_000,
              "report": str(work / "soak.json")}
    result = bench.run("eligo_sim.benches.accelerator_soak", params=params, seed=seed)
    report = json.loads((work / "soak.json").read_text())
    return {**report, "config": cfg.to_dict(), "network": network, "simulator": simulator, "steps": steps,
            "chunk": chunk, "event_rate": rate, "build_s": build_s, "bench_wall_s": result.real_time_s}

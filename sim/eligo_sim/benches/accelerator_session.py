"""Record what the host sees of a short training run on the accelerator top, for a comparison made outside
the simulator (docs/notebooks/rtl_vs_model.ipynb).

The session is ``accelerator_top.training_session`` on the ``rtl`` transport (random bus pauses, idling
source, back-pressuring sink), cycle counters included; it goes to ``report`` (JSON) with the simulated
nanoseconds it took.
"""

from __future__ import annotations

import json

import cocotb
from cocotb.task import bridge
from cocotb.utils import get_sim_time

from eligo_sim.benches.accelerator_top import start_top, training_session
from eligo_sim.runner import bench_params


@cocotb.test()
async def record_training_session(dut):
    params = bench_params()
    cfg, transport = await start_top(dut, params["timeout_ns"])
    start = get_sim_time("ns")
    seen = await bridge(lambda: training_session(transport, cfg, params))()
    seen["sim_ns"] = get_sim_time("ns") - start
    with open(params["report"], "w") as f:
        json.dump(seen, f)

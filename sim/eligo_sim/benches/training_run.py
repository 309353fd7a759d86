"""``eligo train --backend rtl`` inside the simulator: the driver's training run on the accelerator top.

``eligo_sim.train`` builds the top and passes the config, the run's settings,
the data sets (``eligo.data.cache`` files) and where to write the history (JSON).
The run is ``eligo.driver.train.train_through`` on the ``rtl`` transport, the
same code ``--backend model`` runs on the model transport.
"""

from __future__ import annotations

import json

from pathlib import Path

import cocotb
from cocotb.task import bridge

from eligo.data.cache import load_cached
from eligo.driver.train import train_through
from eligo_sim.benches.accelerator_top import start_top
from eligo_sim.runner import bench_params


@cocotb.test()
async def training_run(dut):
    params = bench_params()
    cfg, transport = await start_top(dut, params["timeout_ns"])
    data = {split: load_cached(Path(path), name)[0] for split, (path, name) in params["datasets"].items()}
    history = await bridge(lambda: train_through(transport, cfg, data["train"], data["test"], **params["run"]))()
    with open(params["report"], "w") as f:
        json.dump(history, f)

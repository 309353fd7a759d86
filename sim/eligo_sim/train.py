"""``eligo train --backend rtl``: the on-chip training run on the generated Verilog of the accelerator top.

The top for the run's config is written to Verilog and built for the
simulator (Verilator by default, or Icarus); the bench
``eligo_sim.benches.training_run`` then runs the driver's training loop on the
``rtl`` transport, exactly what ``--backend model`` runs on the model
transport, so both histories agree bit for bit but for the cycle counters (the
top counts the engine's real phases). The Verilog, the build, the simulator's
log, the data sets (in the data cache's file format) and the history stay in ``<out>/rtl``.
"""

from __future__ import annotations

import json
from pathlib import Path

from eligo.data import SpikeDataset
from eligo.data.cache import save_dataset
from eligo.driver.errors import DriverError
from eligo.fixed.train import config_from_args
from eligo_hw.export import write_verilog
from eligo_hw.top import Accelerator
from eligo_sim.runner import build_bench, require_simulator

PACKET_TIMEOUT_NS = 10_000_000
"""Simulated time one sample may take before the run fails: a million cycles, far above any sample's."""


def train_on_rtl(args, train: SpikeDataset, test: SpikeDataset, progress) -> dict:
    """The run ``args`` describe on ``args.simulator``; ``ToolMissing`` when the simulator is not installed,
    ``DriverError`` when the simulation fails."""
    if args.device is not None:
        raise ValueError("--backend rtl simulates the generated Verilog: it takes --simulator, not --device")
    cfg = config_from_args(args, train)
    require_simulator(args.simulator)
    work = Path(args.out) / "rtl"
    source = write_verilog(Accelerator(cfg), "accelerator", work / "accelerator.v")
    bench = build_bench(simulator=args.simulator, sources=[source], toplevel="accelerator",
                        build_dir=work / args.simulator)
    datasets = {}
    for split, data in (("train", train), ("test", test)):
        datasets[split] = (work / f"{split}.npz", data.name)
        save_dataset(datasets[split][0], data, {"split": split})
    report = work / "history.json"
    report.unlink(missing_ok=True)
    run = {"epochs": args.epochs, "seed": args.seed, "lr_decay_every": args.lr_decay_every}
    try:
        bench.run("eligo_sim.benches.training_run", seed=args.seed,
                  params={"config": cfg.to_dict(), "run": run, "timeout_ns": PACKET_TIMEOUT_NS,
                          "datasets": {split: (str(path.resolve()), name) for split, (path, name) in datasets.items()},
                          "report": str(report.resolve())})
    except AssertionError as exc:
        raise DriverError(f"the {args.simulator} simulation failed: {exc}") from None
    if progress is not None:
        progress.update(progress.total - progress.n)
    return json.loads(report.read_text())

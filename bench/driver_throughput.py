"""Samples per second through the driver, per backend, against calling the fixed-point model directly.

Backends measured here: ``model`` (the driver over the model transport) and
``serial`` (the driver, the UART framing and the bridge, in loopback over the
model transport). Both are bounded by the model's own speed; the numbers to
read are the driver's overhead (ratio to the direct model) and, for the serial
link, the bytes each sample and each weight load put on the line, from which
the UART-limited rate follows (10 bits per byte, 8N1). ``pynq`` and ``rtl``
need a board or the RTL top and are not measured here. Writes
``driver_throughput.json`` and ``driver_throughput.png``.

    python bench/driver_throughput.py --out bench/results
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _results import add_out_argument, write_results

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.data import load_dataset
from eligo.driver import Accelerator
from eligo.driver.model import ModelTransport
from eligo.driver.serial import LoopbackPort, SerialBridge, SerialTransport
from eligo.fixed.model import FixedModel, initial_weights
from eligo.plots import new_figure, save_figure
from eligo.regmap import build_register_map

BAUD_RATES = (115_200, 3_000_000)
INFER_REPEATS = 3


def timed(function, repeats: int = 1) -> float:
    """Seconds of the fastest of ``repeats`` calls (inference repeats: it changes nothing)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def measure(dataset: str, n_train: int, n_infer: int, seed: int) -> dict:
    data = load_dataset(dataset, "train", seed=seed)
    spikes, labels = data.spikes[:n_train + n_infer].numpy(), data.labels[:n_train].tolist()
    cfg = AcceleratorConfig(network=NetworkShape(data.n_inputs, (128,), data.n_classes))
    weights = initial_weights(cfg, seed)
    FixedModel(cfg, [w.clone() for w in weights]).run_sample(torch.from_numpy(spikes[0]), labels[0])  # LFSR tables
    model = FixedModel(cfg, [w.clone() for w in weights])
    direct_train = timed(lambda: [model.run_sample(torch.from_numpy(s), y) for s, y in zip(spikes, labels)])
    direct_infer = timed(lambda: [model.run_sample(torch.from_numpy(s)) for s in spikes[n_train:]], INFER_REPEATS)
    result = {"dataset": dataset, "network": list(cfg.network.layer_sizes), "time_steps": data.time_steps,
              "train_samples": n_train, "infer_samples": n_infer,
              "events_per_sample": float(spikes.sum() / len(spikes)),
              "direct": {"train_samples_per_s": n_train / direct_train, "infer_samples_per_s": n_infer / direct_infer}}
    for backend in ("model", "serial"):
        device = ModelTransport(cfg)
        port = None
        transport = device
        if backend == "serial":
            port = LoopbackPort(SerialBridge(device))
            transport = SerialTransport(port, build_register_map(cfg))
        accelerator = Accelerator(transport, cfg)
        load = timed(lambda: accelerator.load_weights(weights))
        load_bytes = port.sent + port.answered if port else 0
        train = timed(lambda: accelerator.train(spikes[:n_train], labels))
        infer_bytes_before = port.sent + port.answered if port else 0
        infer = timed(lambda: accelerator.infer(spikes[n_train:]), INFER_REPEATS)
        entry = {"load_weights_s": load, "train_samples_per_s": n_train / train, "infer_samples_per_s": n_infer / infer,
                 "train_ratio_to_direct": direct_train / train, "infer_ratio_to_direct": direct_infer / infer}
        if port:
            per_sample = (port.sent + port.answered - infer_bytes_before) / (n_infer * INFER_REPEATS)
            entry.update(bytes_per_weight_load=load_bytes, bytes_per_infer_sample=per_sample,
                         uart={str(baud): {"weight_load_s": load_bytes * 10 / baud,
                                           "infer_samples_per_s_limit": baud / 10 / per_sample}
                               for baud in BAUD_RATES})
        assert np.array_equal(accelerator.read_weights()[0], model.weights(0).numpy()), "driver and model differ"
        result[backend] = entry
    return result


def plot(result: dict, path: Path) -> None:
    names = ["direct", "model", "serial"]
    fig, ax = new_figure(figsize=(5.5, 3.5))
    x = np.arange(len(names))
    for offset, kind in ((-0.2, "train"), (0.2, "infer")):
        ax.bar(x + offset, [result[n][f"{kind}_samples_per_s"] for n in names], 0.4, label=kind)
    ax.set(xticks=x, xticklabels=["model, direct", "driver: model", "driver: serial loopback"],
           ylabel="samples / s", title=f"{result['dataset']} {result['network']}, T={result['time_steps']}")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="gestures")
    parser.add_argument("--train-samples", type=int, default=8)
    parser.add_argument("--infer-samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    add_out_argument(parser)
    args = parser.parse_args()
    result = measure(args.dataset, args.train_samples, args.infer_samples, args.seed)
    result["threads"] = torch.get_num_threads()
    for name in ("direct", "model", "serial"):
        entry = result[name]
        print(f"{name:>7}: train {entry['train_samples_per_s']:.2f} samples/s, "
              f"infer {entry['infer_samples_per_s']:.2f} samples/s"
              + (f" (x{entry['train_ratio_to_direct']:.2f} / x{entry['infer_ratio_to_direct']:.2f} of direct)"
                 if name != "direct" else ""))
    serial = result["serial"]
    for baud, limits in serial["uart"].items():
        print(f"  UART {int(baud):>9} baud: weight load {limits['weight_load_s']:.1f} s, "
              f"inference limited to {limits['infer_samples_per_s_limit']:.1f} samples/s")
    write_results(args.out, "driver_throughput", result, plot)


if __name__ == "__main__":
    main()

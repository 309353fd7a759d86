"""Learning memory and MACs per sample vs T for BPTT and each local rule, on one network.

Measured (peak bytes of tensors kept for learning; MACs counted by torch's flop
counter) next to each rule's formula, in one run. Prints the BPTT/rule ratios and
writes ``memory_vs_time.json`` and ``memory_vs_time.png``.

    python bench/memory_vs_time.py --out bench/results
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _results import add_out_argument, write_results

from eligo.accounting import formula_totals, measure
from eligo.plots import plot_memory_vs_time
from eligo.rules import make_rule
from eligo.snn import build_network

TIME_STEPS = (10, 20, 50, 100)
RULES = {"bptt": {}, "stllr": {}, "tess": {}, "tp": {}, "ttbptt": {"truncation": 5}}


def run(n_inputs: int, hidden: tuple[int, ...], n_classes: int, seed: int) -> dict:
    results: dict = {"network": {"n_inputs": n_inputs, "hidden": list(hidden), "n_classes": n_classes},
                     "time_steps": list(TIME_STEPS), "rules": {}}
    generator = torch.Generator().manual_seed(seed)
    for name, hyper in RULES.items():
        rows = []
        batch = 2 if name == "tp" else 1  # TP compares pairs; its numbers are per sample of a pair
        for steps in TIME_STEPS:
            rule = make_rule(name, build_network(n_inputs, hidden, n_classes, seed=seed), **hyper)
            spikes = (torch.rand(batch, steps, n_inputs, generator=generator) < 0.1).to(torch.uint8)
            measured = measure(rule, spikes, torch.arange(batch) % n_classes)
            formula = formula_totals(rule, steps)
            rows.append({"T": steps, "bytes": measured["peak_bytes"] / batch, "macs": measured["macs"] / batch,
                         "formula_bytes": formula["state_bytes"], "formula_macs": formula["macs"],
                         "formula_layers": formula["layers"]})
        results["rules"][name] = rows
    return results


def ratios(results: dict) -> dict:
    base = results["rules"]["bptt"]
    return {name: [{"T": b["T"], "memory": b["bytes"] / r["bytes"], "macs": b["macs"] / r["macs"]}
                   for b, r in zip(base, rows)]
            for name, rows in results["rules"].items() if name != "bptt"}


def plot(results: dict, path: Path) -> None:
    net = results["network"]
    plot_memory_vs_time(results["rules"], path,
                        title=f"{net['n_inputs']}-{'-'.join(map(str, net['hidden']))}-{net['n_classes']} LIF network")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_out_argument(parser)
    parser.add_argument("--inputs", type=int, default=512)
    parser.add_argument("--hidden", default="128", help="hidden widths, e.g. 128 or 128,64")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    results = run(args.inputs, hidden, args.classes, args.seed)
    results["ratios_bptt_over_rule"] = ratios(results)
    write_results(args.out, "memory_vs_time", results, plot)
    print(f"{'rule':8s} " + " ".join(f"{'T=' + str(t):>18s}" for t in TIME_STEPS))
    print(f"{'':8s} " + " ".join(f"{'mem×':>9s}{'MAC×':>9s}" for _ in TIME_STEPS) + "   (BPTT / rule)")
    for name, rows in results["ratios_bptt_over_rule"].items():
        print(f"{name:8s} " + " ".join(f"{r['memory']:9.1f}{r['macs']:9.2f}" for r in rows))


if __name__ == "__main__":
    main()

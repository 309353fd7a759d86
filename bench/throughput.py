"""Training and inference samples/s of the default network on gestures: float on a CPU, the integer model, the chip.

Why: to see how far the chip, learning online at batch 1, is from software doing the same on a CPU. The
network is the default ``AcceleratorConfig()`` (512-128-10, P = 16, S-TLLR with the back-projected
signal), all at batch 1:

(a) float on this CPU, one thread: the chip's float twin (``float_twin``: plain SGD, an update every step,
    online) and the offline float S-TLLR recipe (Adam, an update per sample) through ``eligo.rules``;
(b) the integer model, ``FixedModel.run_sample`` (with a label: training; without: inference);
(c) the chip: cycles per sample of the layer engine built from the default config with the chip's initial
    weights, run in Verilator (cocotb) on ``--samples`` gestures samples trained, then ``--samples`` test
    samples inferred, bit for bit against the model (every step's spikes, the scores, the trained weights).
    A sample's cycles run from its first word (LABEL, or its first event) to the engine's idle after its
    scores, the command stream fed one word per cycle and the scores taken at once: the engine alone, no
    host transport (``driver_throughput`` measures that). Cycles x the clock of a committed build: the
    ULX3S ``accelerator-default`` build (the whole chip, 512-128-10, P = 16, one update bank) at the clock it
    met. With ``--banks`` the chip also runs with B update banks (``AcceleratorConfig.banks``): the same
    clock is then an assumption, said so in the row (``bench/design_space.py`` builds the banked datapath).

CPU rates are per second of this process's CPU time (the fastest of ``--repeats`` runs from the same
weights, each after a warm-up sample), which other jobs disturb far less than wall time; wall-clock rates
and the load average are stored too. The samples are a seeded draw, so cycles and spikes are reproducible
from ``--seed``; timings are not.

    python bench/throughput.py --samples 20 --out bench/results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import cocotb
import numpy as np
import torch
from _results import add_out_argument, machine_load, source_commit, write_results

from eligo.config import AcceleratorConfig
from eligo.fixed.model import FixedModel
from eligo.fixed.train import FloatTwin, float_twin, model_from_float
from eligo.words import Opcode, encode

DATASET = "gestures"
BUILD = Path(__file__).resolve().parent.parent / "bitstreams" / "ulx3s-85f" / "accelerator-default" / "summary.json"
CPU_ROWS = {"float_cpu_batch1": "float twin, CPU", "float_cpu_batch1_offline": "offline float S-TLLR, CPU",
            "integer_model": "integer model, CPU"}


def chip_row(banks: int) -> str:
    return "chip" if banks == 1 else f"chip_banks{banks}"


def row_labels(banks: list[int]) -> dict[str, str]:
    chip = {chip_row(b): "chip, its build's clock" if b == 1 else f"chip, {b} update banks, same clock"
            for b in banks}
    return {**CPU_ROWS, **chip}


def chip_model(cfg: AcceleratorConfig, seed: int) -> FixedModel:
    """The chip as the float twin starts it: the seeded float network's weights, quantized."""
    return model_from_float(cfg, float_twin(cfg, seed).network)


def draw(n: int, count: int, seed: int) -> list[int]:
    """``count`` sample indices of ``n``, a seeded draw."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:count].tolist()


def build_clock(path: Path = BUILD) -> dict:
    """The committed build's clock: the clock it runs at (its PLL's, where timing was met; else its Fmax), the
    achieved Fmax, its constraint, whether it met it, and what it holds."""
    summary = json.loads(path.read_text())
    (net, fmax), = summary["fmax_mhz"].items()
    clock = summary["clock_mhz"] if summary["timing_met"] else fmax
    return {"build": f"{summary['board']}/{path.parent.name}", "clock_mhz": clock, "fmax_mhz": fmax, "net": net,
            "constraint_mhz": summary["constraint_mhz"][net], "timing_met": summary["timing_met"],
            "layer_sizes": summary["layer_sizes"], "lanes": summary["lanes"], "flow": summary["flow"],
            "part": summary["part"]}


def chip_rates(train_cycles: list[int], infer_cycles: list[int], clock_mhz: float) -> dict:
    """Mean cycles per sample, and samples/s at ``clock_mhz``."""
    train, infer = statistics.mean(train_cycles), statistics.mean(infer_cycles)
    return {"cycles_per_sample_train": train, "cycles_per_sample_infer": infer, "clock_mhz": clock_mhz,
            "train_samples_per_s": clock_mhz * 1e6 / train, "infer_samples_per_s": clock_mhz * 1e6 / infer}


def best_rate(run, samples: list, repeats: int, make) -> dict:
    """Samples/s of ``run(learner, sample)`` over ``samples`` from a fresh ``make()``, the fastest of ``repeats``."""
    runs = []
    for _ in range(repeats):
        learner = make()
        run(learner, samples[0])  # warm-up (tables, allocations), then the timed samples from these weights
        learner = make()
        cpu, wall = time.process_time(), time.perf_counter()
        for sample in samples:
            run(learner, sample)
        runs.append((len(samples) / (time.process_time() - cpu), len(samples) / (time.perf_counter() - wall)))
    cpu_rate, wall_rate = max(runs)
    return {"samples_per_s": cpu_rate, "wall_samples_per_s": wall_rate,
            "cpu_samples_per_s_all_runs": [r for r, _ in runs]}


def cpu_rates(cfg: AcceleratorConfig, seed: int, count: int, repeats: int, progress) -> dict:
    """Training then inference samples/s of (a) and (b): training on ``count`` train samples, inference on test ones."""
    from _training import build, embedded
    from eligo.rules.recipes import recipe

    train, test = embedded(DATASET)
    train_samples = [(train.spikes[i], int(train.labels[i])) for i in draw(len(train), count, seed)]
    test_samples = [test.spikes[i] for i in draw(len(test), count, seed)]
    offline = {k: v for k, v in recipe("stllr").items() if k != "schedule"}  # batch 1: no schedule over the run

    def make_offline():
        torch.manual_seed(seed)
        return build(DATASET, "stllr", seed, signal="bp", **offline)[1]

    learners = {
        "float_cpu_batch1": (lambda: FloatTwin(cfg, float_twin(cfg, seed)),
                             lambda m, s: m.run_sample(*s), lambda m, x: m.scores(x[None])),
        "float_cpu_batch1_offline": (make_offline, lambda m, s: m.train_sample(s[0][None], torch.tensor([s[1]])),
                                     lambda m, x: m.predict(x[None])),
        "integer_model": (lambda: chip_model(cfg, seed), lambda m, s: m.run_sample(*s), lambda m, x: m.run_sample(x)),
    }
    results = {}
    for name, (make, learn, infer) in learners.items():
        trained = best_rate(learn, train_samples, repeats, make)
        inferred = best_rate(infer, test_samples, repeats, make)
        results[name] = {"train_samples_per_s": trained["samples_per_s"],
                         "infer_samples_per_s": inferred["samples_per_s"],
                         "train_wall_samples_per_s": trained["wall_samples_per_s"],
                         "infer_wall_samples_per_s": inferred["wall_samples_per_s"],
                         "train_all_runs": trained["cpu_samples_per_s_all_runs"],
                         "infer_all_runs": inferred["cpu_samples_per_s_all_runs"], "samples": count}
        progress.update(1)
    return results


def rtl_cycles(cfg: AcceleratorConfig, seed: int, count: int, simulator: str, work: Path) -> dict:
    """Build the layer engine for ``simulator`` and run ``engine_throughput`` (below) on it; its report."""
    from eligo_hw.export import write_verilog
    from eligo_hw.layer_engine import LayerEngine
    from eligo_sim.runner import build_bench
    from _training import embedded

    train, test = embedded(DATASET)
    start = time.perf_counter()
    source = write_verilog(LayerEngine(cfg, chip_model(cfg, seed).words), "layer_engine", work / "layer_engine.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="layer_engine", build_dir=work / "sim")
    build_s = time.perf_counter() - start
    report = work / "samples.json"
    params = {"config": cfg.to_dict(), "seed": seed, "train": draw(len(train), count, seed),
              "infer": draw(len(test), count, seed), "report": str(report)}
    result = bench.run(Path(__file__).stem, params=params, seed=seed)
    return {**json.loads(report.read_text()), "simulator": simulator, "build_seconds": build_s,
            "bench_seconds": result.real_time_s}


@cocotb.test()
async def engine_throughput(dut):
    """The engine on gestures samples (indices from the parameters), cycles per sample, bit-exact against the model."""
    from _training import embedded
    from eligo_sim.benches.layer_engine import Engine, compare_weights, step_spikes
    from eligo_sim.clocking import start_clock_and_reset
    from eligo_sim.runner import bench_params

    params = bench_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    model = chip_model(cfg, int(params["seed"]))
    train, test = embedded(DATASET)
    engine = Engine(dut, cfg, np.random.default_rng(0), idle=0.0, backpressure=0.0)
    await start_clock_and_reset(dut, ("commands_valid", "commands_payload", "clear_error", "abort", "weights_layer",
                                      "weights_addr", "weights_we", "weights_wdata", "probe_layer", "probe_addr",
                                      "lr_decay"))
    cocotb.start_soon(engine.clock_and_output())
    await engine.wait_idle()  # the memories write their initial weights after reset
    phases = ("integrate", "fire", "readout", "traces", "learn", "stall")
    samples = []
    for kind, data in (("train", train), ("infer", test)):
        for index in params[kind]:
            spikes = data.spikes[index].to(torch.int64)
            label = int(data.labels[index]) if kind == "train" else None
            state = model.new_state(1)
            before = {name: int(getattr(dut, f"counters_cycles_{name}").value) for name in phases}
            words_before, start = int(dut.counters_learn_words.value), engine.cycle
            if label is not None:
                await engine.send(encode(Opcode.LABEL, label))
            expected, steps = [], []
            for t in range(spikes.shape[0]):
                step_start = engine.cycle
                events = np.flatnonzero(spikes[t].numpy()).tolist()
                for j in events:
                    await engine.send(encode(Opcode.EVENT, j))
                await engine.send(encode(Opcode.TICK, t))
                model.step(state, spikes[t][None], label, t)
                expected.append(step_spikes(model))
                await engine.wait_idle()
                steps.append(engine.cycle - step_start)
            await engine.send(encode(Opcode.END, len(samples)))
            await engine.wait_idle()
            cycles = engine.cycle - start
            got_spikes, scores = engine.take_outputs(len(steps))
            assert got_spikes == expected, f"{kind} sample {index}: hidden spikes differ from the model"
            assert scores == list(enumerate(state.scores[0].tolist())), f"{kind} sample {index}: scores differ"
            samples.append({"kind": kind, "index": index, "label": label, "cycles": cycles, "step_cycles": steps,
                            "events": int(spikes.sum()), "spikes": sum(map(len, expected)),
                            "learn_words": int(dut.counters_learn_words.value) - words_before,
                            **{f"{name}_cycles": int(getattr(dut, f"counters_cycles_{name}").value) - value
                               for name, value in before.items()}})
            dut._log.info("%s sample %d: %d cycles, %d events", kind, index, cycles, samples[-1]["events"])
    await compare_weights(engine, model, "after the samples")
    assert int(dut.counters_learn_words.value) == model.learn_words, "RTL and model updated different numbers of words"
    with open(params["report"], "w") as f:
        json.dump({"samples": samples}, f)


def plot(results: dict, path: Path) -> None:
    from eligo.plots import new_figure, save_figure

    rows = results["rows"]
    names = [name for name in rows if name in results]
    fig, axis = new_figure(1, 1, figsize=(10, 4.5), layout="tight")
    x = np.arange(len(names))
    for offset, key, label in ((-0.2, "train_samples_per_s", "training"), (0.2, "infer_samples_per_s", "inference")):
        values = [results[name][key] for name in names]
        bars = axis.bar(x + offset, values, 0.4, label=label)
        axis.bar_label(bars, [f"{v:,.0f}" for v in values], fontsize=7)
    chip = results["chip"]
    axis.set(xticks=x, xticklabels=[rows[name].replace(", ", "\n") for name in names], yscale="log",
             ylabel="samples/s (batch 1)",
             title=f"{DATASET}, 512-128-10, S-TLLR: CPU one thread (load {results['load_average_1min']:.1f} on "
                   f"{results['cpus']} CPUs); chip = RTL cycles x {chip['build']} at {chip['clock_mhz']} MHz")
    top = max(results[name][key] for name in names for key in ("train_samples_per_s", "infer_samples_per_s"))
    axis.set_ylim(10, 2 * top)  # bars on a log scale: a fixed floor, so their heights compare
    axis.title.set_fontsize(8)
    axis.legend()
    save_figure(fig, path, dpi=120)


def main() -> None:
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="gestures samples the RTL trains on, and infers")
    parser.add_argument("--cpu-samples", type=int, default=100, help="samples per CPU timing (training, inference)")
    parser.add_argument("--repeats", type=int, default=3, help="CPU timings per row (the fastest is kept)")
    parser.add_argument("--banks", default="1,4", help="update banks of the chip rows (1 first: the built chip)")
    parser.add_argument("--build", type=Path, default=BUILD, help="summary.json of the build whose clock counts")
    parser.add_argument("--simulator", default="verilator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="folder for the RTL builds, kept (default temporary)")
    add_out_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = source_commit()
    banks = [int(b) for b in args.banks.split(",")]
    if banks[0] != 1:
        parser.error("--banks must start with 1, the configuration the build is of")
    rows = row_labels(banks)
    cfg = AcceleratorConfig()
    clock = build_clock(args.build)
    rtl = {}
    with tqdm(total=len(banks) + 3, desc="throughput") as progress:
        for count in banks:
            progress.set_postfix_str(f"RTL, {count} bank(s): {args.simulator} build and {2 * args.samples} samples")
            with tempfile.TemporaryDirectory() as temporary:
                work = (args.work or Path(temporary)) / f"banks{count}"
                rtl[count] = rtl_cycles(dataclasses.replace(cfg, banks=count), args.seed, args.samples,
                                        args.simulator, work)
            progress.update(1)
        progress.set_postfix_str("CPU rates")
        results = cpu_rates(cfg, args.seed, args.cpu_samples, args.repeats, progress)
    for count, run in rtl.items():
        cycles = {kind: [s["cycles"] for s in run["samples"] if s["kind"] == kind] for kind in ("train", "infer")}
        results[chip_row(count)] = {
            **chip_rates(cycles["train"], cycles["infer"], clock["clock_mhz"]), **clock, "banks": count,
            "method": f"RTL run ({args.simulator}) of the layer engine with {count} update bank(s) on "
                      f"{args.samples} + {args.samples} {DATASET} samples, bit-exact against the model"
                      + ("" if count == 1 else f"; the clock is {clock['build']}'s, which has one bank: "
                                                f"an assumption, not a build")}
        results[f"{chip_row(count)}_cycles_per_sample"] = {  # where the cycles go: learning walks, integration
            kind: {key: statistics.mean(s[key] for s in run["samples"] if s["kind"] == kind)
                   for key in ("cycles", "events", "spikes", "learn_words", "integrate_cycles", "fire_cycles",
                               "readout_cycles", "traces_cycles", "learn_cycles", "stall_cycles")}
            for kind in ("train", "infer")}
    reference = results["float_cpu_batch1"]
    results["ratios_to_float_cpu"] = {name: {kind: results[name][f"{kind}_samples_per_s"] /
                                             reference[f"{kind}_samples_per_s"] for kind in ("train", "infer")}
                                      for name in rows}
    print(f"{DATASET}, {'-'.join(map(str, cfg.network.layer_sizes))}, P={cfg.lanes}, rule {cfg.learning.rule}, "
          f"batch 1; CPU: one thread, load {machine_load()['load_average_1min']:.1f} on {machine_load()['cpus']} CPUs")
    print(f"{'':36s} {'train/s':>10s} {'ratio':>8s} {'infer/s':>10s} {'ratio':>8s}")
    for name, label in rows.items():
        ratio = results["ratios_to_float_cpu"][name]
        print(f"{label:36s} {results[name]['train_samples_per_s']:10.1f} {ratio['train']:7.2f}x "
              f"{results[name]['infer_samples_per_s']:10.1f} {ratio['infer']:7.2f}x")
    for count in banks:
        chip = results[chip_row(count)]
        print(f"chip, {count} bank(s): {chip['cycles_per_sample_train']:.0f} cycles per training sample, "
              f"{chip['cycles_per_sample_infer']:.0f} per inference sample")
    print(f"clock: {clock['build']} at {clock['clock_mhz']} MHz (Fmax {clock['fmax_mhz']} MHz, "
          f"{'met' if clock['timing_met'] else 'missed'} its {clock['constraint_mhz']} MHz)")
    results.update(rows=rows, rtl_samples={count: run["samples"] for count, run in rtl.items()},
                   rtl_simulator=args.simulator,
                   rtl_build_seconds={count: run["build_seconds"] for count, run in rtl.items()},
                   dataset=DATASET, network=list(cfg.network.layer_sizes), lanes=cfg.lanes, banks=banks,
                   rule=cfg.learning.rule, seed=args.seed, threads=1, source_commit=commit,
                   **machine_load(), command="python bench/throughput.py " + " ".join(
                       f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("work", "build")))
    write_results(args.out, "throughput", results, plot)


if __name__ == "__main__":
    main()

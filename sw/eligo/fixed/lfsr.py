"""Per-lane Galois LFSRs: the only source of randomness on the chip.

The RTL steps one register per lane; the model replaces the stepping by a
table of the whole maximal-length sequence and a step counter, so any state
of any lane is one lookup: lane l after c steps is ``seq[(l * stride + c) % period]``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from eligo.config import AcceleratorConfig, ConfigError, LfsrFormat


def lfsr_step(state: int, fmt: LfsrFormat) -> int:
    """One Galois step: shift right, XOR the taps in when the bit shifted out was 1."""
    return (state >> 1) ^ (fmt.taps if state & 1 else 0)


@lru_cache(maxsize=8)
def lfsr_sequence(fmt: LfsrFormat) -> torch.Tensor:
    """All ``period`` states from ``seed`` on; raises if the taps are not maximal-length."""
    states = []
    state = fmt.seed
    for _ in range(fmt.period):
        states.append(state)
        state = lfsr_step(state, fmt)
        if state == fmt.seed:
            break
    if len(states) != fmt.period:
        raise ConfigError(f"lfsr taps 0x{fmt.taps:x} repeat after {len(states)} steps, "
                          f"not the maximal {fmt.period}; pick a primitive polynomial")
    return torch.tensor(states, dtype=torch.int64)


def lane_offsets(fmt: LfsrFormat, lanes: int) -> torch.Tensor:
    """Sequence index of each lane's reset state (lanes spread evenly along the sequence)."""
    return torch.arange(lanes, dtype=torch.int64) * (fmt.period // lanes)


def lane_seeds(fmt: LfsrFormat, lanes: int) -> list[int]:
    """Reset value of each lane's register, as the RTL loads it."""
    return lfsr_sequence(fmt)[lane_offsets(fmt, lanes)].tolist()


def walk_registers(cfg: AcceleratorConfig, layer: int, bank: int) -> tuple[int, int]:
    """Which LFSRs the update walk of layer ``layer``'s bank ``bank`` steps: (the bank's index, the number of
    banks), each bank P lanes of one ``lane_seeds(lfsr, banks * P)``. Every layer and bank has its own, so
    the walks of all layers and banks can run at the same time and the noise still does not depend on timing."""
    return layer * cfg.banks + bank, (len(cfg.network.layer_sizes) - 1) * cfg.banks


def lane_states(fmt: LfsrFormat, lanes: int, steps: torch.Tensor) -> torch.Tensor:
    """States of all lanes after ``steps`` steps (any shape); result has shape ``steps.shape + (lanes,)``."""
    index = (steps.to(torch.int64)[..., None] + lane_offsets(fmt, lanes)) % fmt.period
    return lfsr_sequence(fmt)[index]


# Largest lane table (period x lanes entries) kept: 1 M for the default 16-bit, 16-lane bank.
LANE_TABLE_ENTRIES = 1 << 24


def lane_states_run(fmt: LfsrFormat, lanes: int, first: int, count: int, dtype=np.int64) -> np.ndarray:
    """States of all lanes after first, first + 1, ..., first + count - 1 steps: [count, lanes] (numpy, read-only).

    Same values as ``lane_states`` on a range, without a modulo: rows of a
    cached table of every lane's state after n steps, kept in ``dtype`` (the
    update datapath reads it as int32), so a run is a slice that lies in
    memory in the order the update reads it. Where that table would be too
    large, a strided view of the sequence repeated three times (lane l's
    states are a run of consecutive entries, lanes ``period // lanes`` apart).
    """
    period = fmt.period
    if count >= period:
        return lane_states(fmt, lanes, torch.arange(first, first + count)).numpy().astype(dtype)
    start = first % period
    if period * lanes <= LANE_TABLE_ENTRIES:
        table = _lane_table(fmt, lanes, dtype)
        if start + count <= period:
            return table[start:start + count]
        return np.concatenate((table[start:], table[:start + count - period]))
    table = _tripled_sequence(fmt, dtype)
    return np.ndarray((count, lanes), table.dtype, table, start * table.itemsize,
                      (table.itemsize, (period // lanes) * table.itemsize))


@lru_cache(maxsize=8)
def _lane_table(fmt: LfsrFormat, lanes: int, dtype) -> np.ndarray:
    """[period, lanes]: row n holds every lane's state after n steps."""
    table = lane_states(fmt, lanes, torch.arange(fmt.period)).numpy().astype(dtype)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=8)
def _tripled_sequence(fmt: LfsrFormat, dtype) -> np.ndarray:
    table = np.tile(lfsr_sequence(fmt).numpy().astype(dtype), 3)
    table.flags.writeable = False
    return table

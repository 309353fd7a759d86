"""Per-block functions of the datapath; each is the scoreboard of one RTL block.

Inputs are int64 torch tensors or numpy arrays, and a block answers in the
kind it was given, with explicit saturation where the hardware saturates.
The model runs them on numpy arrays (a small numpy operation costs a
fraction of a torch one, and a learning step is a hundred small
operations); the RTL benches call them with tensors.
``docs/fixed-point.md`` states the formats and the order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from eligo.config import AcceleratorConfig, LearningConfig, PsiTable, TraceFormat
from eligo.fixed.arith import clamp, saturate, shift_right
from eligo.fixed.lfsr import lane_states_run, walk_registers


def integrate_events(spikes, weights, accumulator_bits: int):
    """Input current of every neuron: the sum of the weight rows of the inputs that spiked.

    The accumulator is wide enough never to overflow, so the sum is
    order-independent. One sample (the learning path) sums the rows of its
    active inputs in int64, as the chip does; a batch uses a float matmul,
    which is exact because every partial sum is an integer below
    2**accumulator_bits <= 2**24 (float32) or 2**53 (float64).
    """
    if spikes.shape[0] == 1:
        return weights[spikes[0] != 0].sum(0)[None]
    dtype = torch.float32 if accumulator_bits <= 24 else torch.float64
    current = (torch.as_tensor(spikes).to(dtype) @ torch.as_tensor(weights).to(dtype)).to(torch.int64)
    return current.numpy() if isinstance(spikes, np.ndarray) else current


def decay_trace(trace, code: int, fmt: TraceFormat):
    """floor(lambda * trace): 'shift' as t - ceil(t / 2**k) (reaches 0), 'multiply' as (t * m) >> frac."""
    if fmt.decay == "shift":
        return trace - shift_right(trace + ((1 << code) - 1), code)
    return shift_right(trace * code, fmt.decay_frac_bits)


def update_pre_trace(trace, spikes, code: int, fmt: TraceFormat):
    """q <- min(floor(lambda q) + pre_increment * x, max): the trace includes this step's spike.

    ``code`` is the decay code: ``fmt.pre_decay`` for LIF layers, ``readout.pre_decay`` for the readout.
    """
    return clamp(decay_trace(trace, code, fmt) + fmt.pre_increment * spikes, hi=fmt.max_value)


def update_post_trace(trace, psi, fmt: TraceFormat):
    """h <- min(floor(lambda_post h) + Psi, max)."""
    return clamp(decay_trace(trace, fmt.post_decay, fmt) + psi, hi=fmt.max_value)


def psi_lookup(integrated, threshold: int, table: PsiTable):
    """Psi of the membrane before reset: values[|v - threshold| >> index_shift], 0 past the table."""
    return read_rom(table.values, shift_right(abs(integrated - threshold), table.index_shift))


def read_rom(values: tuple[int, ...], index):
    """values[index] for a non-negative index, 0 past the end: the ROM and its out-of-range read."""
    rom = _rom(values)
    index = clamp(index, hi=len(values))
    return rom[index] if isinstance(index, np.ndarray) else torch.from_numpy(rom)[index]


@lru_cache(maxsize=16)
def _rom(values: tuple[int, ...]) -> np.ndarray:
    """A lookup table with the 0 that every index past its end reads (built once per table)."""
    return np.array(values + (0,), dtype=np.int64)


def softmax_error(logits, label: int, shift: int, learning: LearningConfig):
    """Integer error_unit * (y - softmax(z)) for one sample's logits [C], with an exp table and one divider.

    d_k = (max z - z_k) >> shift; E_k = exp_values[d_k] (0 past the table);
    p_k = round(error_unit * E_k / sum E) (half up: (2 u E_k + S) // 2S);
    e_k = error_unit * y_k - p_k.
    """
    numerators = read_rom(learning.exp_values, shift_right(logits.max() - logits, shift))
    total = numerators.sum()
    error = -((2 * learning.error_unit * numerators + total) // (2 * total))
    error[label] += learning.error_unit
    return error


def square_wave(n_classes: int, n_neurons: int, learning: LearningConfig) -> torch.Tensor:
    """B[k, i] = +1 / -1 as bit 0 of (i // half_period_k): one counter per class, stepped per neuron."""
    neuron = torch.arange(n_neurons, dtype=torch.int64)
    half = torch.tensor([learning.square_half_period(k) for k in range(n_classes)], dtype=torch.int64)
    return 1 - 2 * ((neuron[None, :] // half[:, None]) & 1)


def project_signal(projection, error, learning: LearningConfig):
    """Hidden learning signal L_i = sat(sum_k B[k, i] e_k): additions only, saturated to signal_bits."""
    return saturate(error @ projection, learning.signal_bits)


def back_project(readout_weights, error, cfg: AcceleratorConfig):
    """S-TLLR's hidden signal L_i = sat((sum_k W_out[i, k] e_k + theta/2) >> log2(theta)): W_out^T e in error units.

    ``readout_weights`` is the readout's [n_hidden, C] memory before this
    step's readout update (the hidden layer updates first). Rounded half up,
    so a zero-mean error gives a zero-mean signal; saturated to signal_bits.
    """
    shift = cfg.bp_shift
    total = readout_weights @ error
    return saturate(shift_right(total + ((1 << shift) >> 1), shift), cfg.learning.signal_bits)


def rounding_noise(noise, shift: int, noise_bits: int):
    """The r added before a right shift by ``shift``: the low ``shift`` bits of the LFSR state, or, for a shift
    wider than the ``noise_bits``-bit register, the whole state shifted left into the top of the lost bits."""
    if shift <= noise_bits:
        return noise & ((1 << shift) - 1)
    return noise << (shift - noise_bits)


def stochastic_shift(product, noise, shift: int, noise_bits: int):
    """floor((product + r) / 2**shift), r = ``rounding_noise``: unbiased rounding (to 2**-noise_bits)."""
    return shift_right(product + rounding_noise(noise, shift, noise_bits), shift)


def update_word(word, causal, noncausal, pre_trace: int, pre_spike: int, noise, lr_shift: int, weight_bits: int,
                noise_bits: int):
    """New value of one memory word of P weights (one input j, P consecutive neurons).

    dW_l = (causal_l * q_j + noncausal_l * x_j + r_l) >> lr_shift, then saturate
    to weight_bits; ``causal`` is L*Psi (or L at the readout), ``noncausal`` is
    alpha_post*L*h[t-1], ``noise`` the lanes' LFSR states for this word.
    """
    product = causal * pre_trace + noncausal * pre_spike
    return saturate(word + stochastic_shift(product, noise, lr_shift, noise_bits), weight_bits)


def update_layer(words, causal, noncausal, pre_trace, pre_spikes, lr_shift: int, cfg: AcceleratorConfig,
                 layer: int, lfsr_steps: tuple[int, ...]) -> tuple[object, tuple[int, ...]]:
    """Update layer ``layer``'s weight memory in place, as the datapath does; returns (words, each bank's LFSR
    steps).

    ``words`` is [n_in, groups, lanes] (address = j * groups + g). A word is
    visited iff q_j != 0 and its group has a lane with a non-zero causal or
    non-causal factor. Word (j, g) belongs to bank (j mod R) * S + g mod S
    (``cfg.bank_classes``); each bank visits its words row j ascending, then
    group g ascending, and the layer's
    LFSRs of that bank (``bank_lanes``) step once per visit, before the state
    is used, so the result does not depend on how the walks of the banks (and
    of the layers) interleave. ``lfsr_steps`` holds each bank's steps so far.
    With stochastic rounding off the noise is 2**(lr_shift-1) (round half up).
    """
    memory = np.asarray(words)  # the same storage: written in place
    if not memory.flags.c_contiguous:
        raise ValueError("update_layer writes the weight memory through a flat view: words must be contiguous")
    if len(lfsr_steps) != cfg.banks:
        raise ValueError(f"lfsr_steps must hold one count per bank ({cfg.banks}), got {len(lfsr_steps)}")
    n_in, n_groups, lanes = memory.shape
    causal, noncausal, pre_trace = np.asarray(causal), np.asarray(noncausal), np.asarray(pre_trace)
    with_noncausal = bool(noncausal.any())
    # A lane whose factors are both 0 takes a zero product, and (0 + r) >> s = 0: only the other lanes (columns)
    # can change, so only they are computed. The skipping rule, which steps the LFSRs, still goes by whole words.
    columns = (causal | noncausal if with_noncausal else causal).nonzero()[0]
    column_groups = columns // lanes
    active = np.zeros(n_groups, dtype=bool)
    active[column_groups] = True
    all_rows = pre_trace.nonzero()[0]
    if not active.any() or len(all_rows) == 0:
        return words, tuple(lfsr_steps)
    # The product fits in int32 for all but the widest formats; int32 halves the memory traffic.
    dtype = np.int32 if cfg.update_product_bits < 32 else np.int64
    row_classes, group_classes = cfg.bank_classes(layer)
    flat = memory.reshape(-1)
    steps_after = []
    for bank, steps in enumerate(lfsr_steps):
        row_class, group_class = divmod(bank, group_classes)
        rows = all_rows[all_rows % row_classes == row_class]
        bank_active = active & (np.arange(n_groups) % group_classes == group_class)
        n_active = int(np.count_nonzero(bank_active))
        visits = len(rows) * n_active
        steps_after.append(steps + visits)
        if visits == 0:
            continue
        mine = bank_active[column_groups]
        bank_columns = columns[mine]
        # Row i's visit of its k-th active group is the bank's visit i * n_active + k: a column reads its lane.
        in_visit = (bank_active.cumsum() - 1)[column_groups[mine]] * lanes + bank_columns % lanes
        product = causal[bank_columns].astype(dtype) * pre_trace[rows, None].astype(dtype)
        if with_noncausal:
            product += noncausal[bank_columns].astype(dtype) * np.asarray(pre_spikes)[rows, None].astype(dtype)
        if cfg.learning.stochastic_rounding:
            states = bank_lanes(cfg, layer, bank, steps + 1, visits).reshape(len(rows), -1)
            change = stochastic_shift(product, states[:, in_visit], lr_shift, cfg.lfsr.bits)
        else:  # round half up
            change = shift_right(product + ((1 << lr_shift) >> 1), lr_shift)
        # Most changes are 0 (a weight in range plus 0 stays itself): only the others are read, added, saturated.
        change = change.ravel()
        changed = change.nonzero()[0]
        where = ((rows * (n_groups * lanes))[:, None] + bank_columns).ravel()[changed]
        flat[where] = saturate(flat[where] + change[changed], cfg.weight_bits)
    return words, tuple(steps_after)


def bank_lanes(cfg: AcceleratorConfig, layer: int, bank: int, first: int, count: int) -> np.ndarray:
    """The P lane states of layer ``layer``'s bank ``bank`` after first, ..., first + count - 1 of its steps:
    [count, lanes] (int32), lanes index * P to index * P + P - 1 of ``walk_registers``' bank count * P lanes."""
    lanes = cfg.lanes
    index, banks = walk_registers(cfg, layer, bank)
    return lane_states_run(cfg.lfsr, lanes * banks, first, count, np.int32)[:, index * lanes:(index + 1) * lanes]

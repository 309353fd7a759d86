"""Per-block functions of the datapath; each is the scoreboard of one RTL block.

Inputs and outputs are int64 torch tensors, with explicit saturation where
the hardware saturates (``update_layer`` computes in numpy inside, on the
weight memory's own storage). ``docs/fixed-point.md`` states the formats and the order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from eligo.config import AcceleratorConfig, LearningConfig, PsiTable, TraceFormat
from eligo.fixed.arith import saturate, shift_right
from eligo.fixed.lfsr import lane_states_run


def integrate_events(spikes: torch.Tensor, weights: torch.Tensor, accumulator_bits: int) -> torch.Tensor:
    """Input current of every neuron: the sum of the weight rows of the inputs that spiked.

    The accumulator is wide enough never to overflow, so the sum is
    order-independent. One sample (the learning path) sums the rows of its
    active inputs in int64, as the chip does; a batch uses a float matmul,
    which is exact because every partial sum is an integer below
    2**accumulator_bits <= 2**24 (float32) or 2**53 (float64).
    """
    if spikes.shape[0] == 1:
        return weights.index_select(0, spikes[0].nonzero().view(-1)).sum(dim=0, keepdim=True)
    dtype = torch.float32 if accumulator_bits <= 24 else torch.float64
    return (spikes.to(dtype) @ weights.to(dtype)).to(torch.int64)


def decay_trace(trace: torch.Tensor, code: int, fmt: TraceFormat) -> torch.Tensor:
    """floor(lambda * trace): 'shift' as t - ceil(t / 2**k) (reaches 0), 'multiply' as (t * m) >> frac."""
    if fmt.decay == "shift":
        return trace - shift_right(trace + ((1 << code) - 1), code)
    return shift_right(trace * code, fmt.decay_frac_bits)


def update_pre_trace(trace: torch.Tensor, spikes: torch.Tensor, code: int, fmt: TraceFormat) -> torch.Tensor:
    """q <- min(floor(lambda q) + pre_increment * x, max): the trace includes this step's spike.

    ``code`` is the decay code: ``fmt.pre_decay`` for LIF layers, ``readout.pre_decay`` for the readout.
    """
    return (decay_trace(trace, code, fmt) + fmt.pre_increment * spikes).clamp(max=fmt.max_value)


def update_post_trace(trace: torch.Tensor, psi: torch.Tensor, fmt: TraceFormat) -> torch.Tensor:
    """h <- min(floor(lambda_post h) + Psi, max)."""
    return (decay_trace(trace, fmt.post_decay, fmt) + psi).clamp(max=fmt.max_value)


def psi_lookup(integrated: torch.Tensor, threshold: int, table: PsiTable) -> torch.Tensor:
    """Psi of the membrane before reset: values[|v - threshold| >> index_shift], 0 past the table."""
    index = shift_right((integrated - threshold).abs(), table.index_shift)
    return _rom(table.values)[index.clamp(max=len(table.values))]


@lru_cache(maxsize=16)
def _rom(values: tuple[int, ...]) -> torch.Tensor:
    """A lookup table as a tensor, with the 0 that every index past its end reads (built once per table)."""
    return torch.tensor(values + (0,), dtype=torch.int64)


def softmax_error(logits: torch.Tensor, label: int, shift: int, learning: LearningConfig) -> torch.Tensor:
    """Integer error_unit * (y - softmax(z)) for one sample's logits [C], with an exp table and one divider.

    d_k = (max z - z_k) >> shift; E_k = exp_values[d_k] (0 past the table);
    p_k = round(error_unit * E_k / sum E) (half up: (2 u E_k + S) // 2S);
    e_k = error_unit * y_k - p_k.
    """
    index = shift_right(logits.max(dim=-1, keepdim=True).values - logits, shift)
    numerators = _rom(learning.exp_values)[index.clamp(max=len(learning.exp_values))]
    total = numerators.sum(dim=-1, keepdim=True)
    probabilities = torch.div(2 * learning.error_unit * numerators + total, 2 * total, rounding_mode="floor")
    target = torch.zeros_like(logits)
    target[..., label] = learning.error_unit
    return target - probabilities


def square_wave(n_classes: int, n_neurons: int, learning: LearningConfig) -> torch.Tensor:
    """B[k, i] = +1 / -1 as bit 0 of (i // half_period_k): one counter per class, stepped per neuron."""
    neuron = torch.arange(n_neurons, dtype=torch.int64)
    half = torch.tensor([learning.square_half_period(k) for k in range(n_classes)], dtype=torch.int64)
    return 1 - 2 * ((neuron[None, :] // half[:, None]) & 1)


def project_signal(projection: torch.Tensor, error: torch.Tensor, learning: LearningConfig) -> torch.Tensor:
    """Hidden learning signal L_i = sat(sum_k B[k, i] e_k): additions only, saturated to signal_bits."""
    return saturate(error @ projection, learning.signal_bits)


def stochastic_shift(product: torch.Tensor, noise: torch.Tensor, shift: int) -> torch.Tensor:
    """floor((product + r) / 2**shift), r = the low ``shift`` bits of the LFSR state: unbiased rounding."""
    return shift_right(product + (noise & ((1 << shift) - 1)), shift)


def update_word(word: torch.Tensor, causal: torch.Tensor, noncausal: torch.Tensor, pre_trace: int, pre_spike: int,
                noise: torch.Tensor, lr_shift: int, weight_bits: int) -> torch.Tensor:
    """New value of one memory word of P weights (one input j, P consecutive neurons).

    dW_l = (causal_l * q_j + noncausal_l * x_j + r_l) >> lr_shift, then saturate
    to weight_bits; ``causal`` is L*Psi (or L at the readout), ``noncausal`` is
    alpha_post*L*h[t-1], ``noise`` the lanes' LFSR states for this word.
    """
    product = causal * pre_trace + noncausal * pre_spike
    return saturate(word + stochastic_shift(product, noise, lr_shift), weight_bits)


def update_layer(words: torch.Tensor, causal: torch.Tensor, noncausal: torch.Tensor, pre_trace: torch.Tensor,
                 pre_spikes: torch.Tensor, lr_shift: int, cfg: AcceleratorConfig,
                 lfsr_steps: int) -> tuple[torch.Tensor, int]:
    """Update a layer's weight memory in place, as the datapath does; returns (words, LFSR steps so far).

    ``words`` is [n_in, groups, lanes] (address = j * groups + g). A word is
    visited iff q_j != 0 and its group has a lane with a non-zero causal or
    non-causal factor; visits go row j ascending, then group g ascending, and
    every lane's LFSR steps once per visit, before its state is used. With
    stochastic rounding off the noise is 2**(lr_shift-1) (round half up).
    """
    n_in, n_groups, lanes = words.shape
    memory = words.numpy()  # the same storage: written in place
    factors = np.zeros((2, n_groups * lanes), dtype=np.int64)
    factors[0, :causal.shape[-1]] = causal.numpy()
    factors[1, :noncausal.shape[-1]] = noncausal.numpy()
    factors = factors.reshape(2, n_groups, lanes)
    with_noncausal = bool(factors[1].any())
    rows = np.flatnonzero(pre_trace.numpy())
    groups = np.flatnonzero(factors.any(axis=(0, 2)) if with_noncausal else factors[0].any(axis=1))
    n_rows, n_active = len(rows), len(groups)
    visits = n_rows * n_active
    if visits == 0:
        return words, lfsr_steps
    # The products and the noise fit in int32 for all but the widest formats; int32 halves the memory traffic.
    dtype = np.int32 if cfg.update_product_bits < 32 and cfg.lfsr.bits < 32 else np.int64
    if cfg.learning.stochastic_rounding:
        noise = lane_states_run(cfg.lfsr, lanes, lfsr_steps + 1, visits).numpy().reshape(n_rows, n_active, lanes)
    else:
        noise = np.full((n_rows, n_active, lanes), (1 << lr_shift) >> 1, dtype=dtype)
    product = factors[0, groups].astype(dtype) * pre_trace.numpy()[rows].astype(dtype)[:, None, None]
    if with_noncausal:
        product += factors[1, groups].astype(dtype) * pre_spikes.numpy()[rows].astype(dtype)[:, None, None]
    change = stochastic_shift(product, noise.astype(dtype, copy=False), lr_shift)
    if n_active == n_groups:  # the common case: whole rows
        memory[rows] = saturate(memory[rows] + change, cfg.weight_bits)
    else:
        where = (rows[:, None], groups[None, :])
        memory[where] = saturate(memory[where] + change, cfg.weight_bits)
    return words, lfsr_steps + visits

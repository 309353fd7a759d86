"""Random learning steps for the update datapath: factors and pre traces in the ranges the chip produces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from eligo.config import AcceleratorConfig
from eligo.fixed.blocks import update_layer


@dataclass
class LearningStep:
    """One layer's inputs to the update: per-neuron factors [n_out] and per-input pre trace and spike [n_in]."""

    causal: torch.Tensor
    noncausal: torch.Tensor
    pre_trace: torch.Tensor
    pre_spikes: torch.Tensor
    decay: int
    """The run-time learning-rate decay the walk runs at (``CONTROL.lr_decay``)."""

    def padded_factors(self, cfg: AcceleratorConfig, groups: int) -> list[tuple[list[int], list[int]]]:
        """(causal, noncausal) lane values per group, zero past n_out, as the host writes them."""
        pad = groups * cfg.lanes - len(self.causal)
        causal = torch.nn.functional.pad(self.causal, (0, pad)).view(groups, cfg.lanes)
        noncausal = torch.nn.functional.pad(self.noncausal, (0, pad)).view(groups, cfg.lanes)
        return list(zip(causal.tolist(), noncausal.tolist()))

    def pre_words(self, cfg: AcceleratorConfig) -> list[list[dict[str, int]]]:
        """Pre traces and spikes P inputs per memory word, zero past n_in, as the pre-trace scan writes them."""
        pad = -len(self.pre_trace) % cfg.lanes
        traces = torch.nn.functional.pad(self.pre_trace, (0, pad)).view(-1, cfg.lanes).tolist()
        spikes = torch.nn.functional.pad(self.pre_spikes, (0, pad)).view(-1, cfg.lanes).tolist()
        return [[{"trace": trace, "spike": spike} for trace, spike in zip(*word)] for word in zip(traces, spikes)]


def learning_step(rng: np.random.Generator, cfg: AcceleratorConfig, layer: int) -> LearningStep:
    """Sparse random step: ~half the rows have q = 0, ~a third of the neurons a zero signal, some whole groups
    and some whole pre-trace words idle.

    Hidden factors are L*Psi and alpha_post*L*h over the full signal, Psi and
    trace ranges; the readout's are the error e alone.
    """
    n_in, n_out = cfg.network.layer_sizes[layer], cfg.network.layer_sizes[layer + 1]
    lo, hi = cfg.learning.signal_range
    signal = rng.integers(lo, hi + 1, n_out) * (rng.random(n_out) < 0.66)
    if cfg.groups[layer] > 1 and rng.random() < 0.5:  # silence a whole group so the sequencer must skip it
        group = rng.integers(0, cfg.groups[layer])
        signal[group * cfg.lanes:(group + 1) * cfg.lanes] = 0
    if layer == len(cfg.network.hidden):
        causal, noncausal = signal, np.zeros_like(signal)
    else:
        psi = rng.integers(0, 1 << cfg.psi.bits, n_out) * (rng.random(n_out) < 0.7)
        post = rng.integers(0, cfg.traces.max_value + 1, n_out)
        causal, noncausal = signal * psi, cfg.learning.alpha_post * signal * post
    pre_trace = rng.integers(0, cfg.traces.max_value + 1, n_in) * (rng.random(n_in) < 0.5)
    if n_in > cfg.lanes and rng.random() < 0.5:  # a word of P idle rows, which the sequencer must skip
        word = rng.integers(0, n_in // cfg.lanes)
        pre_trace[word * cfg.lanes:(word + 1) * cfg.lanes] = 0
    pre_spikes = (rng.random(n_in) < 0.5) & (pre_trace > 0)
    # Half the steps at the config's own rate, the others at a random decay (past the LFSR's width where it reaches).
    most = cfg.learning.max_lr_decay
    decay = int(rng.integers(1, most + 1)) if most and rng.random() < 0.5 else 0
    as_tensor = lambda a: torch.tensor(np.asarray(a, dtype=np.int64))  # noqa: E731
    return LearningStep(as_tensor(causal), as_tensor(noncausal), as_tensor(pre_trace), as_tensor(pre_spikes), decay)


def model_update(words: torch.Tensor, step: LearningStep, cfg: AcceleratorConfig, layer: int,
                 lfsr_steps: tuple[int, ...]) -> tuple[torch.Tensor, tuple[int, ...]]:
    """The scoreboard: ``update_layer`` with the layer's shift at the step's decay."""
    return update_layer(words, step.causal, step.noncausal, step.pre_trace, step.pre_spikes,
                        cfg.layer_shift(layer, step.decay), cfg, layer, lfsr_steps)

"""The whole chip, one time step at a time: the executable contract.

Order within a step (docs/fixed-point.md, "One time step"):
1. hidden layers in order: accumulate the current of this step's input
   events, saturate it to the neuron's input width, leak + integrate
   (saturating), take Psi of the integrated membrane, fire, reset; update the
   layer's pre trace q (with this step's input) and post trace h (with this
   Psi), keeping h[t-1] for the non-causal term. Spikes feed the next layer
   in the same step.
2. readout: accumulate, leak + integrate into the logits, update its pre
   trace, add the logits to the class scores (saturating).
3. if a label is present and t >= learn_start_step: readout error, learning
   signals, then every layer's weight update (each with LFSRs of its own, so
   the chip runs them at once), in the visit order of ``update_layer``. The
   next step sees the new weights.

The step runs on numpy views of the state and the weight memories: a time
step is about a hundred small operations, and a numpy one costs a fraction of
a torch one. The state and the memories stay torch tensors for the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from eligo.config import AcceleratorConfig, TraceFormat
from eligo.fixed.arith import saturate
from eligo.fixed.blocks import (back_project, integrate_events, project_signal, psi_lookup, softmax_error,
                                square_wave, update_layer, update_post_trace, update_pre_trace)
from eligo.fixed.lif import lif_fire, lif_integrate


def quantize_weights(weights: torch.Tensor, cfg: AcceleratorConfig) -> torch.Tensor:
    """Float weights in units of the float threshold (1.0) -> integer weights (membrane LSBs), saturated."""
    return saturate(torch.round(weights * cfg.neuron.threshold).to(torch.int64), cfg.weight_bits)


def initial_weights(cfg: AcceleratorConfig, seed: int, gain: float = 1.0) -> list[torch.Tensor]:
    """Uniform(+-gain*sqrt(3/fan_in)) float init per layer, [n_in, n_out], quantized; the host loads these."""
    generator = torch.Generator().manual_seed(seed)
    sizes = cfg.network.layer_sizes
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = gain * math.sqrt(3.0 / n_in)
        weights.append(quantize_weights((torch.rand(n_in, n_out, generator=generator) * 2 - 1) * bound, cfg))
    return weights


@dataclass
class ChipState:
    """Per-sample state ([batch, n] each), cleared at every END; the LFSRs and weights are not."""

    membranes: list[torch.Tensor]   # hidden layers, after reset
    logits: torch.Tensor            # readout integrator
    pre_traces: list[torch.Tensor]  # per layer (readout included), over that layer's inputs
    post_traces: list[torch.Tensor]  # hidden layers
    scores: torch.Tensor            # readout logits summed over the sample


@dataclass
class LayerStep:
    """What one layer's part of a step computed, as numpy arrays [batch, n]: the learning datapath's inputs."""

    inputs: np.ndarray               # the layer's input spikes
    pre_trace: np.ndarray            # q over those inputs, this step's spikes included
    integrated: np.ndarray           # membranes (logits for the readout) after leak and integration, before reset
    spikes: np.ndarray | None        # output spikes (hidden layers)
    psi: np.ndarray | None           # Psi of ``integrated`` (hidden layers)
    previous_post: np.ndarray | None  # h[t-1] (hidden layers)


class FixedModel:
    """Weight memories [n_in, groups, lanes] per layer (address = j * groups + g) and the LFSR step count.

    ``synaptic_ops`` counts weight reads of the integration (input events x fan-out), summed over the batch.
    ``lr_decay`` is the run-time learning-rate decay (``CONTROL.lr_decay``): every layer's update shifts
    that much further right.
    """

    def __init__(self, cfg: AcceleratorConfig, weights: list[torch.Tensor]):
        sizes = cfg.network.layer_sizes
        if len(weights) != len(sizes) - 1:
            raise ValueError(f"expected {len(sizes) - 1} weight matrices for layers {sizes}, got {len(weights)}")
        lo, hi = cfg.weight_range
        self.cfg = cfg
        self.words = []
        for layer, (w, n_in, n_out, groups) in enumerate(zip(weights, sizes[:-1], sizes[1:], cfg.groups)):
            if tuple(w.shape) != (n_in, n_out):
                raise ValueError(f"layer {layer}: weights must be [{n_in}, {n_out}], got {tuple(w.shape)}")
            if w.numel() and not lo <= int(w.min()) <= int(w.max()) <= hi:
                raise ValueError(f"layer {layer}: weights outside the {cfg.weight_bits}-bit range {lo}..{hi}")
            padded = torch.zeros(n_in, groups * cfg.lanes, dtype=torch.int64)
            padded[:, :n_out] = w.to(torch.int64)
            self.words.append(padded.view(n_in, groups, cfg.lanes))
        # Each layer's LFSR steps per bank: the weight words that bank of the layer visited.
        self.lfsr_steps = [(0,) * cfg.banks for _ in sizes[1:]]
        self.last_step: list[LayerStep] = []  # what each layer computed in the last ``step``
        self.synaptic_ops = 0
        self._lr_decay = 0
        self.projections = [square_wave(cfg.network.n_classes, n, cfg.learning).numpy()
                            for n in cfg.network.hidden]
        # Properties of the config, read at every step.
        self.accumulator_bits, self.readout_neuron = cfg.accumulator_bits, cfg.readout_neuron
        self._widths = [(groups * cfg.lanes, n_out) for groups, n_out in zip(cfg.groups, sizes[1:])]
        codes = [cfg.traces.pre_decay] * len(cfg.network.hidden) + [cfg.readout.pre_decay]
        self._pre_units = [trace_unit(lambda q, x, code=code: update_pre_trace(q, x, code, cfg.traces), 2, cfg.traces)
                           for code in codes]
        self._post_unit = trace_unit(lambda h, psi: update_post_trace(h, psi, cfg.traces), max(cfg.psi.values) + 1,
                                     cfg.traces)

    @property
    def lr_decay(self) -> int:
        return self._lr_decay

    @lr_decay.setter
    def lr_decay(self, decay: int) -> None:
        self.cfg.learning.check_lr_decay(decay)
        self._lr_decay = decay

    def weights(self, layer: int) -> torch.Tensor:
        """Layer's weights as a [n_in, n_out] view of its memory."""
        n_in, groups, lanes = self.words[layer].shape
        return self.words[layer].view(n_in, groups * lanes)[:, :self.cfg.network.layer_sizes[layer + 1]]

    def new_state(self, batch: int = 1) -> ChipState:
        sizes = self.cfg.network.layer_sizes
        zeros = lambda n: torch.zeros(batch, n, dtype=torch.int64)  # noqa: E731
        hidden = sizes[1:-1]
        return ChipState([zeros(n) for n in hidden], zeros(sizes[-1]), [zeros(n) for n in sizes[:-1]],
                         [zeros(n) for n in hidden], zeros(sizes[-1]))

    def _memory(self, layer: int) -> np.ndarray:
        """Layer's weights [n_in, n_out] as a numpy view of its memory."""
        width, n_out = self._widths[layer]
        return self.words[layer].numpy().reshape(-1, width)[:, :n_out]

    def _current(self, layer: int, x: torch.Tensor) -> np.ndarray:
        """Saturated input current of a layer for its 0/1 input spikes x (a tensor: subclasses observe it here)."""
        weights = self._memory(layer)
        spikes = x.numpy()
        self.synaptic_ops += int(np.count_nonzero(spikes)) * weights.shape[1]
        current = integrate_events(spikes, weights, self.accumulator_bits[layer])
        if self.accumulator_bits[layer] <= self.cfg.neuron.input_bits:  # the sum cannot leave the input's range
            return current
        return saturate(current, self.cfg.neuron.input_bits)

    def layer_step(self, state: ChipState, layer: int, x: np.ndarray) -> LayerStep:
        """Layer ``layer``'s part of a step for its [batch, n_in] 0/1 input spikes: accumulate, saturate, leak and
        integrate; a hidden layer then takes Psi, fires, resets and updates its post trace, the readout adds its
        logits to the scores; either updates its pre trace. The RTL benches of every layer check against this."""
        cfg = self.cfg
        pre = self._pre_units[layer](state.pre_traces[layer].numpy(), x)
        state.pre_traces[layer] = torch.from_numpy(pre)
        current = self._current(layer, torch.from_numpy(x))
        if layer == len(cfg.network.hidden):
            logits = lif_integrate(state.logits.numpy(), current, self.readout_neuron)
            state.logits = torch.from_numpy(logits)
            state.scores = torch.from_numpy(saturate(state.scores.numpy() + logits, cfg.readout.score_bits))
            return LayerStep(x, pre, logits, None, None, None)
        integrated = lif_integrate(state.membranes[layer].numpy(), current, cfg.neuron)
        membrane, spikes = lif_fire(integrated, cfg.neuron)
        psi = psi_lookup(integrated, cfg.neuron.threshold, cfg.psi)
        previous_post = state.post_traces[layer].numpy()
        state.membranes[layer] = torch.from_numpy(membrane)
        state.post_traces[layer] = torch.from_numpy(self._post_unit(previous_post, psi))
        return LayerStep(x, pre, integrated, spikes, psi, previous_post)

    def step(self, state: ChipState, spikes: torch.Tensor, label: int | None = None, t: int = 0) -> torch.Tensor:
        """Advance one time step for [batch, n_inputs] 0/1 inputs (a tensor or an array); returns the logits.

        Learns (batch 1 only) when given a label and t >= learn_start_step. ``last_step`` keeps what each
        layer computed (``LayerStep``).
        """
        learn = label is not None and t >= self.cfg.learning.learn_start_step
        if learn and spikes.shape[0] != 1:
            raise ValueError(f"on-chip learning runs at batch size 1, got a batch of {spikes.shape[0]}")
        x = np.asarray(spikes, dtype=np.int64)
        layers = []
        for layer in range(len(self.cfg.network.hidden) + 1):
            layers.append(self.layer_step(state, layer, x))
            x = layers[-1].spikes
        self.last_step = layers
        if learn:
            self._learn(layers, layers[-1].integrated[0], label)
        return state.logits

    def _learn(self, layers: list[LayerStep], logits: np.ndarray, label: int) -> None:
        cfg, learning = self.cfg, self.cfg.learning
        error = softmax_error(logits, label, learning.readout_softmax_shift, learning)
        readout = len(cfg.network.hidden)
        factors = []
        for layer, projection in enumerate(self.projections):
            if learning.rule == "tess":
                layer_logits = projection @ layers[layer].spikes[0]
                signal = project_signal(projection, softmax_error(layer_logits, label, learning.tess_softmax_shift,
                                                                  learning), learning)
            elif learning.rule == "stllr":  # the readout's weights before this step's readout update
                signal = back_project(self._memory(readout), error, cfg)
            else:
                signal = project_signal(projection, error, learning)
            hidden = layers[layer]
            factors.append((signal * hidden.psi[0], learning.alpha_post * signal * hidden.previous_post[0]))
        factors.append((error, np.zeros_like(error)))
        for layer, (causal, noncausal) in enumerate(factors):
            _, self.lfsr_steps[layer] = update_layer(
                self.words[layer].numpy(), causal, noncausal, layers[layer].pre_trace[0], layers[layer].inputs[0],
                cfg.layer_shift(layer, self._lr_decay), cfg, layer, self.lfsr_steps[layer])

    @property
    def learn_words(self) -> int:
        """Weight words the learning walks visited (and wrote back) since the model was built."""
        return sum(map(sum, self.lfsr_steps))

    def run_sample(self, spikes: torch.Tensor, label: int | None = None) -> torch.Tensor:
        """One sample [T, n_inputs] through the chip (learning when labelled); returns its class scores [C]."""
        state = self.new_state(1)
        samples = _spike_array(spikes).astype(np.int64)  # converted once, not at every step
        for t in range(len(samples)):
            self.step(state, samples[t:t + 1], label, t)
        return state.scores[0]

    def scores(self, spikes: torch.Tensor) -> torch.Tensor:
        """Inference on a batch [N, T, n_inputs] (no learning): class scores [N, C]."""
        samples = _spike_array(spikes)
        state = self.new_state(samples.shape[0])
        for t in range(samples.shape[1]):
            self.step(state, samples[:, t])
        return state.scores


# Largest trace table kept (entries): 512 for the default pre trace, 19 x 256 for the post trace.
TRACE_TABLE_ENTRIES = 1 << 16


def trace_unit(update, inputs: int, fmt: TraceFormat):
    """``update(trace, k)`` for inputs k < ``inputs`` (a spike, or Psi), as a lookup in a table of all its results.

    The table is the block evaluated once on every (k, trace) pair, entry
    (k << fmt.bits) + trace: one operation per step instead of six. Where it
    would pass ``TRACE_TABLE_ENTRIES``, the unit is ``update`` itself.
    """
    if inputs << fmt.bits > TRACE_TABLE_ENTRIES:
        return update
    table = update(np.arange(1 << fmt.bits)[None, :], np.arange(inputs)[:, None]).ravel()
    return lambda trace, k: table[(k << fmt.bits) + trace]


def _spike_array(spikes) -> np.ndarray:
    """Spikes as a numpy array, checked to be 0/1 (the trace tables have a row for each of the two)."""
    samples = np.asarray(spikes)
    if samples.size and (samples.min() < 0 or samples.max() > 1):
        raise ValueError(f"spikes must be 0 or 1, got values from {samples.min()} to {samples.max()}")
    return samples


def predict_from_scores(scores: torch.Tensor) -> torch.Tensor:
    """The chip's answer: the class with the largest summed logit, the lowest index on ties."""
    return scores.argmax(dim=-1)

"""On-chip online training in the integer model, and its float twin for the comparison.

The chip learns one sample at a time (batch 1), updating weights in place at
every learning step. The online protocol is plain SGD whose rate halves every
``lr_decay_every`` epochs: the driver raises ``CONTROL.lr_decay`` by one, so
every update shifts one bit further (docs/fixed-point.md, "Online protocol").
``float_twin`` builds the float reference rule that the integer arithmetic
stands for (same network, same initial weights, same learning signal, plain
SGD at ``cfg.float_learning_rate`` with the same decay, per-step updates), so
the two runs differ only by the integer formats.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from eligo.config import LR_DECAY_EVERY, AcceleratorConfig, ConfigError, NetworkShape, NeuronFormat, ReadoutFormat
from eligo.data import SpikeDataset
from eligo.fixed.blocks import square_wave
from eligo.fixed.model import FixedModel, initial_weights, predict_from_scores, quantize_weights


def float_logits(scores: torch.Tensor, cfg: AcceleratorConfig, time_steps: int) -> torch.Tensor:
    """Time-averaged logits in float units (what the float reference's evaluation uses)."""
    return scores.to(torch.float32) / (cfg.neuron.threshold * time_steps)


@torch.no_grad()
def evaluate_model(model: FixedModel, data: SpikeDataset, batch_size: int = 300) -> dict[str, float]:
    """Accuracy of the chip's answer, and the cross-entropy of its time-averaged logits."""
    correct, loss = 0, 0.0
    for start in range(0, len(data), batch_size):
        spikes, labels = data.spikes[start:start + batch_size], data.labels[start:start + batch_size]
        scores = model.scores(spikes)
        correct += int((predict_from_scores(scores) == labels).sum())
        loss += float(F.cross_entropy(float_logits(scores, model.cfg, data.time_steps), labels, reduction="sum"))
    return {"accuracy": correct / len(data), "loss": loss / len(data)}


def lr_decay_schedule(cfg: AcceleratorConfig, epochs: int, decay_every: int = LR_DECAY_EVERY) -> list[int]:
    """CONTROL.lr_decay for each epoch: one more every ``decay_every`` epochs (0: a constant rate).

    Refused where the decay would pass what the chip's field holds (``learning.max_lr_decay``).
    """
    if decay_every < 0:
        raise ValueError(f"lr_decay_every must be >= 0 epochs, got {decay_every}")
    schedule = [epoch // decay_every if decay_every else 0 for epoch in range(epochs)]
    if schedule and schedule[-1] > cfg.learning.max_lr_decay:
        raise ValueError(f"a learning-rate decay every {decay_every} epochs reaches {schedule[-1]} at epoch "
                         f"{epochs}; the chip's CONTROL.lr_decay holds 0..{cfg.learning.max_lr_decay} "
                         "(learning.max_lr_decay): decay less often or train fewer epochs")
    return schedule


def train_fixed(model, train: SpikeDataset, test: SpikeDataset, *, epochs: int, seed: int,
                lr_decay_every: int = LR_DECAY_EVERY, progress=None, progress_every: int = 1) -> dict:
    """Online training, one sample at a time in a seeded order (the float ``fit`` order at batch size 1).

    ``model`` is a ``FixedModel``, a driver's ``DeviceModel`` or a ``FloatTwin``: anything with
    ``run_sample``, ``scores``, a settable ``lr_decay`` and its ``cfg``. Returns the history of
    ``eligo.rules.fit.fit`` plus the decay of each epoch; ``progress`` advances once per ``progress_every`` samples.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    schedule = lr_decay_schedule(model.cfg, epochs, lr_decay_every)
    generator = torch.Generator().manual_seed(seed)
    before = evaluate_model(model, test)
    history = {"initial": {"test_loss": before["loss"], "test_accuracy": before["accuracy"]}, "epochs": []}
    for epoch, decay in enumerate(schedule, start=1):
        model.lr_decay = decay
        order = torch.randperm(len(train), generator=generator)
        loss = 0.0
        for n, index in enumerate(order.tolist(), start=1):
            label = int(train.labels[index])
            scores = model.run_sample(train.spikes[index], label)
            loss += float(F.cross_entropy(float_logits(scores, model.cfg, train.time_steps)[None],
                                          train.labels[index:index + 1]))
            if progress is not None and (n % progress_every == 0 or n == len(order)):
                progress.update(1)
        result = evaluate_model(model, test)
        history["epochs"].append({"epoch": epoch, "lr_decay": decay, "train_loss": loss / len(order),
                                  "test_loss": result["loss"], "test_accuracy": result["accuracy"]})
    history["lr_decay_every"] = lr_decay_every
    if hasattr(model, "learn_words"):
        history["learn_words"] = model.learn_words
    return history


class FloatTwin:
    """A float rule seen as a ``FixedModel`` by ``train_fixed``: batch 1, the same sample order and rate decay.

    Scores are the summed float logits in the chip's units (times the threshold), so ``evaluate_model``
    reads both the same way; ``lr_decay`` divides every parameter group's rate by 2**decay.
    """

    def __init__(self, cfg: AcceleratorConfig, rule):
        self.cfg, self.rule = cfg, rule
        self._base_rates = [group["lr"] for group in rule.optimizer.param_groups]
        self._lr_decay = 0

    @property
    def lr_decay(self) -> int:
        return self._lr_decay

    @lr_decay.setter
    def lr_decay(self, decay: int) -> None:
        self.cfg.learning.check_lr_decay(decay)
        for group, rate in zip(self.rule.optimizer.param_groups, self._base_rates):
            group["lr"] = rate / 2 ** decay
        self._lr_decay = decay

    def run_sample(self, spikes: torch.Tensor, label: int) -> torch.Tensor:
        rule, labels = self.rule, torch.tensor([label])
        rule.begin_sample(1, spikes.shape[0])
        total = sum(rule.step(spikes[t][None], labels) for t in range(spikes.shape[0]))
        rule.end_sample()
        return total[0] * self.cfg.neuron.threshold

    @torch.no_grad()
    def scores(self, spikes: torch.Tensor) -> torch.Tensor:
        return self.rule.predict(spikes) * self.cfg.neuron.threshold


def float_network(cfg: AcceleratorConfig, seed: int, input_shape=None):
    """The float network the config describes, with the float reference's seeded initial weights."""
    from eligo.snn import LIFParams, Surrogate, build_network

    lif = LIFParams(beta=cfg.neuron.beta, threshold=1.0, reset=cfg.neuron.reset,
                    surrogate=Surrogate("triangle", psi_scale(cfg)))
    readout_beta = 1.0 - 2.0 ** -cfg.readout.leak_shift if cfg.readout.leak_shift else 0.0
    return build_network(cfg.network.n_inputs, cfg.network.hidden, cfg.network.n_classes, lif=lif,
                         readout_beta=readout_beta, input_shape=input_shape, seed=seed)


def psi_scale(cfg: AcceleratorConfig) -> float:
    """Peak of the float triangle the Psi table samples (its first bin, extrapolated to the centre)."""
    entries = len(cfg.psi.values)
    return cfg.psi.values[0] / (1 << cfg.psi.frac_bits) / (1.0 - 0.5 / entries)


def float_twin(cfg: AcceleratorConfig, seed: int):
    """The float rule the integer model implements: S-TLLR with the BP signal ('stllr') or with DFA by the same
    square wave ('stllr_dfa'), or TESS by that wave; the wave is the config's, so the twin follows its fields."""
    from eligo.rules import STLLR, TESS

    network = float_network(cfg, seed)
    learning = cfg.learning
    common = dict(lambda_pre=cfg.traces.pre_lambda, lambda_post=cfg.traces.post_lambda,
                  alpha_post=float(learning.alpha_post), alpha_pre=1.0, lr=cfg.float_learning_rate,
                  optimizer="sgd", update_every="step", learn_from=learning.learn_start_step)
    if learning.rule == "stllr":
        return STLLR(network, signal="bp", **common)
    waves = [square_wave(cfg.network.n_classes, layer.n_out, learning) for layer in network.layers]
    if learning.rule == "stllr_dfa":
        return STLLR(network, signal="dfa", feedback=waves, **common)
    # The float TESS scales its hidden signal by 1/n_l twice over (B = wave / n_l); the chip's L has no
    # such scale, so the twin's hidden layers learn n_l times faster.
    return TESS(network, projection=waves, layer_lr_scale=[layer.n_out for layer in network.layers], **common)


def model_from_float(cfg: AcceleratorConfig, network) -> FixedModel:
    """The chip loaded with the float network's weights, quantized."""
    layers = [*network.layers, network.readout]
    return FixedModel(cfg, [quantize_weights(layer.weight.detach().T, cfg) for layer in layers])


def config_from_args(args, train: SpikeDataset) -> AcceleratorConfig:
    """The accelerator config the ``eligo train`` options describe (fully connected layers only)."""
    try:
        hidden = tuple(int(n) for n in args.hidden.split(","))
    except ValueError:
        raise ValueError(f"the model backend takes fully connected layers like 128 or 128,64, got {args.hidden!r}")
    if args.rule not in ("stllr", "tess"):
        raise ValueError(f"the model backend implements stllr and tess, not {args.rule!r}")
    if args.rule == "stllr" and args.signal not in ("bp", "dfa"):
        raise ValueError(f"the chip's S-TLLR signal is bp (W_out^T e) or dfa (by the square wave), not {args.signal!r}")
    rule = "tess" if args.rule == "tess" else {"bp": "stllr", "dfa": "stllr_dfa"}[args.signal]
    if args.threshold != 1.0 or args.surrogate != "triangle":
        raise ValueError("the model backend's float units put the threshold at 1.0 with the triangle Psi table; "
                         f"got --threshold {args.threshold} --surrogate {args.surrogate}")
    base = AcceleratorConfig()
    leak_shift = _shift_for(1.0 - args.beta, "--beta must be 1 - 2**-k for the chip's shift leak")
    lr_shift = base.learning.lr_shift if args.lr is None else round(math.log2(
        base.learning.error_unit * base.traces.pre_increment / (base.neuron.threshold * args.lr)))
    learning = dataclasses.replace(base.learning, rule=rule, learn_start_step=args.learn_from,
                                   lr_shift=max(lr_shift, 0))
    if args.factors:
        _, _, alpha_post, _ = args.factors
        learning = dataclasses.replace(learning, alpha_post=int(alpha_post))
    readout_shift = _shift_for(1.0 - args.readout_beta, "--readout-beta must be 0 or 1 - 2**-k") \
        if args.readout_beta else 0
    try:
        return dataclasses.replace(
            base, network=NetworkShape(train.n_inputs, hidden, train.n_classes),
            neuron=NeuronFormat(leak_shift=leak_shift, reset=args.reset),
            readout=ReadoutFormat(leak_shift=readout_shift, pre_decay=readout_shift), learning=learning)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _shift_for(fraction: float, message: str) -> int:
    shift = round(-math.log2(fraction)) if fraction > 0 else 0
    if fraction <= 0 or abs(2.0 ** -shift - fraction) > 1e-9:
        raise ValueError(f"{message}, got a decay of {1 - fraction}")
    return shift


def train_model(args, dataset_train: SpikeDataset, dataset_test: SpikeDataset, progress) -> dict:
    """The integer model learning on chip, batch size 1, called directly (``eligo train --backend model`` runs
    the same through the driver: ``eligo.driver.train``).

    The float options map onto the chip's encodings (an error if they do not
    fit); ``--lr`` is rounded to the nearest power-of-two shift (the starting
    rate), and the history records the rate actually used. The chip's update
    is always plain SGD, per learning step, halving its rate every
    ``--lr-decay-every`` epochs (``--optimizer``, ``--update-every`` and
    ``--basis`` do not apply; ``--signal`` picks bp or dfa for stllr), and
    ``--batch-size`` only paces the progress bar: it learns one sample at a time.
    """
    cfg = config_from_args(args, dataset_train)
    model = FixedModel(cfg, initial_weights(cfg, args.seed))
    history = train_fixed(model, dataset_train, dataset_test, epochs=args.epochs, seed=args.seed,
                          lr_decay_every=args.lr_decay_every, progress=progress,
                          progress_every=max(args.batch_size, 1))
    history["config"] = cfg.to_dict()
    history["float_learning_rate"] = cfg.float_learning_rate
    return history

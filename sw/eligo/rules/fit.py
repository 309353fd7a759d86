"""Epoch loop shared by the CLI, the tests and the benches: seeded shuffling, evaluation, learning-rate schedule."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from eligo.data import SpikeDataset
from eligo.rules.base import LearningRule


@torch.no_grad()
def evaluate(rule: LearningRule, data: SpikeDataset, batch_size: int = 256) -> dict[str, float]:
    """Accuracy and cross-entropy of the time-averaged logits (the same readout for every rule)."""
    correct, loss = 0, 0.0
    for start in range(0, len(data), batch_size):
        spikes, labels = data.spikes[start:start + batch_size], data.labels[start:start + batch_size]
        mean_logits = rule.predict(spikes) / data.time_steps
        correct += int((mean_logits.argmax(1) == labels).sum())
        loss += float(F.cross_entropy(mean_logits, labels, reduction="sum"))
    return {"accuracy": correct / len(data), "loss": loss / len(data)}


SCHEDULES = ("constant", "cosine")


def schedule_factor(schedule: str, done: int, total: int) -> float:
    """The learning rate's multiplier after ``done`` of ``total`` batches: 1, or a cosine from 1 to 0."""
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * done / total))


def fit(rule: LearningRule, train: SpikeDataset, test: SpikeDataset, *, epochs: int, batch_size: int, seed: int,
        progress=None, schedule: str = "constant") -> dict:
    """Train for ``epochs``; returns the history: per epoch train loss and test loss/accuracy.

    ``schedule`` 'cosine' anneals every parameter group's learning rate from its own value to 0 over
    the run, once per batch (the final epochs then stop oscillating); 'constant' keeps it.
    ``progress``, if given, is a tqdm-like object advanced once per batch.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    groups = rule.optimizer.param_groups
    base_lrs = [group["lr"] for group in groups]
    total, done = epochs * -(-len(train) // batch_size), 0
    generator = torch.Generator().manual_seed(seed)
    before = evaluate(rule, test)
    history = {"initial": {"test_loss": before["loss"], "test_accuracy": before["accuracy"]}, "epochs": []}
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(train), generator=generator)
        losses = []
        for start in range(0, len(train), batch_size):
            index = order[start:start + batch_size]
            for group, base in zip(groups, base_lrs):
                group["lr"] = base * schedule_factor(schedule, done, total)
            done += 1
            losses.append(rule.train_sample(train.spikes[index], train.labels[index]))
            if progress is not None:
                progress.update(1)
                progress.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3f}")
        result = evaluate(rule, test)
        history["epochs"].append({"epoch": epoch, "train_loss": sum(losses) / len(losses),
                                  "test_loss": result["loss"], "test_accuracy": result["accuracy"]})
    for group, base in zip(groups, base_lrs):
        group["lr"] = base
    return history

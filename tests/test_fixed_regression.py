"""Frozen results of the integer model: a faster model must stay bit-exact with the one the RTL was checked against.

The configs are written out in full (not taken from the defaults), so tuning a
default never moves these digests; only a change of the model's arithmetic does.
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from eligo.config import AcceleratorConfig
from eligo.data import load_dataset
from eligo.fixed.model import FixedModel, initial_weights

FROZEN_CONFIG = {
    "neuron": {"membrane_bits": 16, "input_bits": 16, "leak_shift": 3, "threshold": 128, "reset": "subtract"},
    "lanes": 16, "weight_bits": 8,
    "traces": {"bits": 8, "decay": "shift", "pre_decay": 2, "post_decay": 1, "decay_frac_bits": 8,
               "pre_increment": 32},
    "psi": {"index_shift": 4, "values": [18, 16, 13, 11, 8, 6, 4, 1], "bits": 5, "frac_bits": 6},
    "readout": {"leak_shift": 0, "pre_decay": 0, "score_bits": 24},
    "learning": {"rule": "stllr_dfa", "signal_bits": 8, "error_unit": 64, "alpha_post": 0, "lr_shift": 9,
                 "learn_start_step": 0, "square_half_period_base": 1, "square_half_period_step": 1,
                 "exp_values": [256, 226, 199, 176, 155, 137, 121, 107, 94, 83, 73, 65, 57, 50, 44, 39, 35, 31,
                                27, 24, 21, 19, 16, 14, 13, 11, 10, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3, 3, 2, 2],
                 "readout_softmax_shift": 4, "tess_softmax_shift": 4, "stochastic_rounding": True},
    "lfsr": {"bits": 16, "taps": 0xB400, "seed": 0xACE1},
}

# name -> (network, changes to FROZEN_CONFIG's learning / top level, digest of the run[, CONTROL.lr_decay]).
# The digests of the stochastically rounded runs changed once, when every layer got LFSRs of its own (so the
# layers' update walks run at once); round-half-up's did not.
CASES = {
    "stllr_bp_decayed_past_the_lfsr": ({"n_inputs": 512, "hidden": [128], "n_classes": 10}, {"rule": "stllr"}, {},
                                       "0e78e3d7e90dd0ee", 3),
    "stllr_512_128_10": ({"n_inputs": 512, "hidden": [128], "n_classes": 10}, {}, {}, "fa8f95153b818866"),
    "stllr_alpha_post_two_layers": ({"n_inputs": 512, "hidden": [64, 32], "n_classes": 10},
                                    {"alpha_post": 1, "lr_shift": 6, "learn_start_step": 3},
                                    {"lanes": 32}, "b1c97c07617014f9"),
    "stllr_bp_four_banks": ({"n_inputs": 512, "hidden": [128], "n_classes": 10}, {"rule": "stllr"},
                            {"banks": 4}, "a8f4c40111568289"),
    "tess_round_half_up": ({"n_inputs": 512, "hidden": [48], "n_classes": 10},
                           {"rule": "tess", "alpha_post": -1, "stochastic_rounding": False, "lr_shift": 7},
                           {"weight_bits": 6}, "455295b7eb152197"),
}


def frozen_config(network: dict, learning: dict, top: dict) -> AcceleratorConfig:
    data = {**FROZEN_CONFIG, **top, "network": network,
            "learning": {**FROZEN_CONFIG["learning"], **learning}}
    return AcceleratorConfig.from_dict(data)


def run_digest(cfg: AcceleratorConfig, samples: int = 12, lr_decay: int = 0) -> str:
    """Train online on the first digits samples, then score a few test samples; hash everything the chip exposes."""
    train = load_dataset("digits", "train", seed=0)
    test = load_dataset("digits", "test", seed=0)
    model = FixedModel(cfg, initial_weights(cfg, seed=3))
    model.lr_decay = lr_decay
    digest = hashlib.sha256()
    for index in range(samples):
        digest.update(model.run_sample(train.spikes[index], int(train.labels[index])).numpy().tobytes())
    digest.update(model.scores(test.spikes[:20]).numpy().tobytes())
    for words in model.words:
        digest.update(words.numpy().tobytes())
    digest.update(f"{model.learn_words} {model.synaptic_ops}".encode())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("name", list(CASES))
def test_model_results_are_frozen(name):
    network, learning, top, expected, *decay = CASES[name]
    assert run_digest(frozen_config(network, learning, top), lr_decay=decay[0] if decay else 0) == expected

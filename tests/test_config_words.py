"""The shared configuration object and the event word format."""

from __future__ import annotations

import numpy as np
import pytest

from eligo.config import AcceleratorConfig, ConfigError, LearningConfig, NetworkShape, NeuronFormat
from eligo.words import Opcode, WordError, decode_array, encode, encode_array


def test_config_json_round_trip():
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=64, hidden=(32, 16), n_classes=4), lanes=8,
                           learning=LearningConfig(rule="stllr_dfa"))
    assert AcceleratorConfig.from_json(cfg.to_json()) == cfg


def test_config_rejects_unknown_keys_and_bad_values():
    data = AcceleratorConfig().to_dict()
    data["neuron"]["threshhold"] = 3
    with pytest.raises(ConfigError, match="threshhold"):
        AcceleratorConfig.from_dict(data)
    with pytest.raises(ConfigError, match="power of two"):
        AcceleratorConfig(lanes=12)
    with pytest.raises(ConfigError, match="threshold"):
        NeuronFormat(membrane_bits=8, threshold=200)
    with pytest.raises(ConfigError, match="multiple of lanes"):
        AcceleratorConfig(network=NetworkShape(hidden=(100,)), lanes=16)


def test_banks_are_a_power_of_two_within_the_lanes_and_need_power_of_two_groups():
    for banks in (3, 8):
        with pytest.raises(ConfigError, match="banks must be a power of two from 1 to lanes=4"):
            AcceleratorConfig(network=NetworkShape(n_inputs=8, hidden=(8,), n_classes=2), lanes=4, banks=banks)
    with pytest.raises(ConfigError, match=r"power of two, got \[3, 1\]"):
        AcceleratorConfig(network=NetworkShape(n_inputs=8, hidden=(12,), n_classes=2), lanes=4, banks=2)


def test_words_round_trip_and_reject_reserved_opcodes():
    ops = np.array([Opcode.LABEL, Opcode.EVENT, Opcode.EVENT, Opcode.TICK, Opcode.END])
    payloads = np.array([3, 0, 511, 0, 7])
    words = encode_array(ops, payloads)
    assert words.dtype == np.uint32
    assert int(words[0]) == encode(Opcode.LABEL, 3) == 0x3000_0003
    got_ops, got_payloads = decode_array(words)
    assert got_ops.tolist() == ops.tolist() and got_payloads.tolist() == payloads.tolist()
    with pytest.raises(WordError, match="word 1 .*reserved opcode 0x0"):
        decode_array(np.array([0x1000_0000, 0x0000_0005], dtype=np.uint32))
    with pytest.raises(WordError, match="does not fit"):
        encode(Opcode.EVENT, 1 << 28)

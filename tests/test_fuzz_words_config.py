"""Fuzzing the word decoder, the stream grammar and the configuration loader.

Arbitrary words give either a decoded stream or ``WordError``; arbitrary
JSON-like dicts give either a valid ``AcceleratorConfig`` or ``ConfigError``
— never another exception. Deterministic (``derandomize``);
``--hypothesis-show-statistics`` prints the example counts.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from eligo.config import AcceleratorConfig, ConfigError
from eligo.data.stream import decode_stream, sample_words
from eligo.words import OPCODE_SHIFT, PAYLOAD_MASK, Opcode, WordError, check_stream, decode_array

FUZZ = settings(max_examples=100, derandomize=True, deadline=None, database=None)
N_INPUTS = 6

opcodes = st.sampled_from([0, *map(int, Opcode), 5, 15])
words = st.lists(st.tuples(opcodes, st.integers(0, 8)).map(lambda w: (w[0] << OPCODE_SHIFT) | w[1]), max_size=40)


@FUZZ
@given(raw=st.lists(st.integers(0, (1 << 32) - 1), max_size=40))
def test_decode_array_splits_or_names_the_reserved_word(raw):
    array = np.array(raw, dtype=np.uint32)
    try:
        ops, payloads = decode_array(array)
    except WordError as error:
        bad = [i for i, w in enumerate(raw) if (w >> OPCODE_SHIFT) not in set(map(int, Opcode))]
        assert f"word {bad[0]} " in str(error)
        return
    assert ((ops << OPCODE_SHIFT) | payloads).tolist() == raw
    assert (payloads <= PAYLOAD_MASK).all()


@FUZZ
@given(stream=words)
def test_grammar_check_and_decode_agree(stream):
    """A stream the checker accepts decodes, and re-encodes to the very same words; anything else is WordError."""
    array = np.array(stream, dtype=np.uint32)
    try:
        check_stream(array, N_INPUTS)
    except WordError:
        try:
            decode_stream(array, N_INPUTS)
        except WordError:
            return
        raise AssertionError("decode_stream accepted a stream check_stream rejects")
    samples = decode_stream(array, N_INPUTS)
    rebuilt = [sample_words(s.spikes, s.label, s.index) for s in samples]
    assert (np.concatenate(rebuilt).tolist() if rebuilt else []) == stream


def config_values():
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.floats(allow_nan=True),
                       st.text(max_size=6), st.sampled_from(["shift", "multiply", "stllr", "tess", "zero"]))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=8)


def known_keys(cls):
    return [f.name for f in dataclasses.fields(cls)]


def nested_dicts():
    """Dicts keyed mostly by real field names, so the fuzz reaches every validator, not just the unknown-key check."""
    default = AcceleratorConfig().to_dict()
    section = st.sampled_from(sorted(default))

    def mutate(draw_section, key_choice, value):
        data = AcceleratorConfig().to_dict()
        target = data[draw_section]
        if isinstance(target, dict):
            keys = sorted(target)
            target[keys[key_choice % len(keys)]] = value
        else:
            data[draw_section] = value
        return data

    return st.builds(mutate, section, st.integers(0, 20), config_values())


def assert_valid_or_config_error(data):
    try:
        config = AcceleratorConfig.from_dict(data)
    except ConfigError as error:
        assert str(error)
        return
    assert AcceleratorConfig.from_json(config.to_json()) == config


@FUZZ
@given(data=config_values())
def test_config_from_arbitrary_json_is_valid_or_config_error(data):
    assert_valid_or_config_error(data)


@settings(FUZZ, max_examples=30, phases=[Phase.generate])
@given(data=nested_dicts())
def test_config_with_wrong_typed_fields_is_config_error(data):
    assert_valid_or_config_error(data)

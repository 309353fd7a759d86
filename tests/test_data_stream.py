"""Samples -> chip word stream -> samples, and the stream grammar's checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eligo.data import load_dataset
from eligo.data.stream import dataset_words, decode_stream, sample_words
from eligo.words import Opcode, WordError, check_stream, encode, encode_array


def test_sample_words_layout():
    spikes = np.zeros((3, 8), np.uint8)
    spikes[0, [5, 1]] = 1
    spikes[2, 7] = 1
    words = sample_words(spikes, label=2, index=9)
    expected = [(Opcode.LABEL, 2), (Opcode.EVENT, 1), (Opcode.EVENT, 5), (Opcode.TICK, 0), (Opcode.TICK, 1),
                (Opcode.EVENT, 7), (Opcode.TICK, 2), (Opcode.END, 9)]
    assert words.tolist() == [encode(op, value) for op, value in expected]


def test_dataset_round_trips_through_words():
    dataset = load_dataset("patterns", "test", n_samples=12, n_inputs=40, time_steps=6)
    words = np.concatenate(list(dataset_words(dataset, first_index=100)))
    samples = decode_stream(words, dataset.n_inputs)
    assert len(samples) == len(dataset)
    assert torch.equal(torch.from_numpy(np.stack([s.spikes for s in samples])), dataset.spikes)
    assert [s.label for s in samples] == dataset.labels.tolist()
    assert [s.index for s in samples] == list(range(100, 112))
    unlabelled = decode_stream(np.concatenate(list(dataset_words(dataset, learn=False))), dataset.n_inputs)
    assert all(s.label is None for s in unlabelled)


def words_of(*pairs) -> np.ndarray:
    return encode_array([op for op, _ in pairs], [value for _, value in pairs])


@pytest.mark.parametrize("pairs, where, reason", [
    (((Opcode.EVENT, 16), (Opcode.TICK, 0), (Opcode.END, 0)), 0, "address outside"),
    (((Opcode.EVENT, 1), (Opcode.LABEL, 1), (Opcode.TICK, 0), (Opcode.END, 0)), 1, "LABEL inside"),
    (((Opcode.TICK, 0), (Opcode.EVENT, 3), (Opcode.END, 0)), 2, "END must follow a TICK"),
    (((Opcode.LABEL, 1), (Opcode.END, 0)), 1, "END must follow a TICK"),
    (((Opcode.TICK, 0), (Opcode.TICK, 2), (Opcode.END, 0)), 1, "TICK out of order"),
    (((Opcode.TICK, 0), (Opcode.END, 0), (Opcode.TICK, 1), (Opcode.END, 1)), 2, "TICK out of order"),
    (((Opcode.TICK, 0), (Opcode.END, 4), (Opcode.TICK, 0), (Opcode.END, 6)), 3, "END index"),
    (((Opcode.LABEL, 12), (Opcode.TICK, 0), (Opcode.END, 0)), 0, "LABEL outside"),
    (((Opcode.EVENT, 3), (Opcode.EVENT, 5), (Opcode.EVENT, 3), (Opcode.TICK, 0), (Opcode.END, 0)), 2, "repeats"),
])
def test_grammar_violations_name_the_word(pairs, where, reason):
    with pytest.raises(WordError, match=f"word {where} .*{reason}"):
        check_stream(words_of(*pairs), n_inputs=16, n_classes=10)


def test_a_stream_cut_inside_a_sample_is_rejected():
    words = sample_words(np.ones((2, 4), np.uint8), label=1)
    check_stream(words, 4)
    with pytest.raises(WordError, match="stops inside a sample"):
        check_stream(words[:-1], 4)

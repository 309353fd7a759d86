"""Hand-computed single-step cases for every block of the fixed-point datapath."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eligo.config import (AcceleratorConfig, ConfigError, LearningConfig, LfsrFormat, NetworkShape, NeuronFormat,
                          PsiTable, TraceFormat)
from eligo.fixed.blocks import (back_project, decay_trace, integrate_events, project_signal, psi_lookup,
                                rounding_noise, softmax_error, square_wave, stochastic_shift, update_layer,
                                update_post_trace, update_pre_trace, update_word)
from eligo.fixed import lfsr
from eligo.fixed.lfsr import lane_seeds, lane_states, lane_states_run, lfsr_sequence, lfsr_step

T = torch.tensor


def test_derived_widths():
    cfg = AcceleratorConfig()
    assert cfg.accumulator_bits == (8 + 9 + 1, 8 + 7 + 1)  # 512 inputs, then 128 hidden
    assert cfg.groups == (8, 1)  # 128 neurons in 16 lanes; 10 classes in one word
    assert cfg.update_product_bits == 8 + 5 + 8 + 1
    assert cfg.lr_shift_hidden == cfg.learning.lr_shift + cfg.psi.frac_bits
    assert AcceleratorConfig.from_json(cfg.to_json()) == cfg


def test_config_rejects_bad_learning_values():
    with pytest.raises(ConfigError, match="alpha_post"):
        LearningConfig(alpha_post=2)
    with pytest.raises(ConfigError, match="psi values"):
        PsiTable(values=(40,), bits=5)
    with pytest.raises(ConfigError, match="pre_decay"):
        TraceFormat(decay="shift", pre_decay=9)
    with pytest.raises(ConfigError, match="max_lr_decay"):
        LearningConfig(max_lr_decay=16)
    with pytest.raises(ConfigError, match="one hidden layer under the readout"):
        AcceleratorConfig(network=NetworkShape(64, (16, 16), 4), lanes=4)
    with pytest.raises(ConfigError, match="power of two"):
        AcceleratorConfig(neuron=NeuronFormat(threshold=100))
    for decay in (-1, 8, 1.0, True):
        with pytest.raises(ValueError, match=r"0\.\.7"):
            LearningConfig().check_lr_decay(decay)


def test_integrate_events_sums_rows_of_spiking_inputs():
    weights = T([[1, -2], [10, 20], [-128, 127]])
    assert integrate_events(T([[1, 0, 1]]), weights, 10).tolist() == [[-127, 125]]
    assert integrate_events(T([[0, 0, 0]]), weights, 10).tolist() == [[0, 0]]


def test_trace_decay_shift_and_multiply():
    fmt = TraceFormat(decay="shift", pre_decay=2, post_decay=0)
    # floor(0.75 t): 3 -> 2, 1 -> 0 (reaches zero), 255 -> 191; k = 0 means lambda = 0.
    assert decay_trace(T([0, 1, 3, 4, 255]), 2, fmt).tolist() == [0, 0, 2, 3, 191]
    assert decay_trace(T([7, 255]), 0, fmt).tolist() == [0, 0]
    mult = TraceFormat(decay="multiply", pre_decay=192, post_decay=51, decay_frac_bits=8)
    assert decay_trace(T([255, 1, 100]), 192, mult).tolist() == [191, 0, 75]


def test_traces_saturate_at_the_top_rail():
    fmt = TraceFormat(decay="shift", pre_decay=8, post_decay=1, pre_increment=32)
    # 255 decays by ceil(255 / 256) = 1 to 254, + 32 saturates to 255.
    assert update_pre_trace(T([255, 100, 0]), T([1, 1, 0]), 8, fmt).tolist() == [255, 131, 0]
    assert update_post_trace(T([250, 10]), T([200, 3]), fmt).tolist() == [255, 8]


def test_psi_table_edges():
    table = PsiTable(index_shift=4, values=(18, 16, 13, 11, 8, 6, 4, 1), bits=5)
    theta = 128
    v = T([128, 143, 144, 112, 113, 255, 256, 0, 1, -32768, 32767])
    # |v - 128| >> 4:    0    0    1    1    0    7   8->0  8->0  7   past   past
    assert psi_lookup(v, theta, table).tolist() == [18, 18, 16, 16, 18, 1, 0, 0, 1, 0, 0]


def test_softmax_error_hand_computed():
    learning = LearningConfig(error_unit=64, exp_values=(256, 128, 64), readout_softmax_shift=2)
    # max = 10; d = (10 - z) >> 2 = [0, 1, 2, 3 -> past the table]; E = [256, 128, 64, 0]; S = 448.
    # p = (2*64*E + S) // (2*S) = [73216 // 896, 16832 // 896, 8640 // 896, 448 // 896] = [81, 18, 9, 0]
    # -> round(36.57) = 37, round(18.29) = 18, round(9.14) = 9, 0.
    e = softmax_error(T([10, 6, 2, -3]), 1, 2, learning)
    assert e.tolist() == [-37, 64 - 18, -9, 0]
    # All logits equal: p = round(64 / 4) = 16 each.
    assert softmax_error(T([5, 5, 5, 5]), 0, 2, learning).tolist() == [48, -16, -16, -16]


def test_square_wave_from_counters():
    learning = LearningConfig(square_half_period_base=1, square_half_period_step=1)
    b = square_wave(3, 8, learning)
    assert b.tolist() == [[1, -1, 1, -1, 1, -1, 1, -1],
                          [1, 1, -1, -1, 1, 1, -1, -1],
                          [1, 1, 1, -1, -1, -1, 1, 1]]


def test_project_signal_saturates_at_both_rails():
    learning = LearningConfig(signal_bits=8)
    b = T([[1, -1], [1, -1], [1, 1]])
    assert project_signal(b, T([60, 60, 10]), learning).tolist() == [127, -110]
    assert project_signal(b, T([-64, -64, -64]), learning).tolist() == [-128, 64]


def test_stochastic_rounding_ties_and_exact_zero():
    # P = 2, s = 2: 0.5 rounds down for r in {0, 1} and up for r in {2, 3}: a tie goes each way half the time.
    assert stochastic_shift(T([2, 2, 2, 2]), T([0, 1, 2, 3]), 2, 16).tolist() == [0, 0, 1, 1]
    # -2 / 4 = -0.5: -1 for r in {0, 1}, 0 for r in {2, 3}.
    assert stochastic_shift(T([-2, -2, -2, -2]), T([0, 1, 2, 3]), 2, 16).tolist() == [-1, -1, 0, 0]
    # Only the low s bits of the state count; zero stays zero; s = 0 is exact.
    assert stochastic_shift(T([0, 0, 5]), T([0xFFFF, 0x0003, 0xFFFF]), 0, 16).tolist() == [0, 0, 5]
    assert stochastic_shift(T([0, 4]), T([0xFFFF, 0xFFFC]), 2, 16).tolist() == [0, 1]


def test_rounding_noise_wider_than_the_lfsr_fills_the_top_of_the_lost_bits():
    # A 4-bit register under a 6-bit shift: r = state << 2, so 2**6 - 4 = 60 is the largest r and 0.5 (32)
    # rounds up for states 8..15, half of the non-zero ones and the zero state the register never holds.
    states = T(list(range(1, 16)))
    assert rounding_noise(states, 6, 4).tolist() == [4 * s for s in range(1, 16)]
    assert stochastic_shift(T([32] * 15), states, 6, 4).tolist() == [0] * 7 + [1] * 8
    assert rounding_noise(T([0b1011]), 3, 4).tolist() == [0b011]


def test_back_projection_is_w_out_transposed_times_error_rounded_and_saturated():
    cfg = AcceleratorConfig(network=NetworkShape(8, (4,), 2), lanes=4)  # threshold 128: a shift of 7
    weights = T([[64, -64], [127, 127], [1, 0], [-128, 0]])
    signal = back_project(weights, T([10, -3]), cfg)
    # (640 + 192) / 128 = 6.5 -> 7 (half up); (1270 - 381) / 128 = 6.9 -> 7; 10 / 128 -> 0; -1280/128 = -10.
    assert signal.tolist() == [7, 7, 0, -10]
    assert back_project(T([[127, 127]]), T([127, 127]), cfg).tolist() == [127]  # 252.0 saturates to int8


def test_update_word_saturates_at_both_rails():
    word = T([120, -120, 5, 0])
    causal = T([100, -100, 3, 0])
    new = update_word(word, causal, T([0, 0, -4, 7]), pre_trace=32, pre_spike=1, noise=T([0, 0, 0, 0]),
                      lr_shift=4, weight_bits=8, noise_bits=16)
    # 120 + 3200 // 16 -> 127; -120 - 200 -> -128; 5 + (96 - 4) >> 4 = 5 + 5; 0 + 7 >> 4 = 0.
    assert new.tolist() == [127, -128, 10, 0]


def test_lfsr_hand_computed_sequence_and_period():
    fmt = LfsrFormat(bits=16, taps=0xB400, seed=0xACE1)
    states = [fmt.seed]
    for _ in range(5):
        states.append(lfsr_step(states[-1], fmt))
    # 0xACE1 is odd: (0xACE1 >> 1) ^ 0xB400 = 0x5670 ^ 0xB400 = 0xE270; then plain shifts until an odd state.
    assert states == [0xACE1, 0xE270, 0x7138, 0x389C, 0x1C4E, 0x0E27]
    assert lfsr_step(0x0E27, fmt) == 0x0713 ^ 0xB400
    seq = lfsr_sequence(fmt)
    assert len(seq) == 65535 and len(set(seq.tolist())) == 65535 and seq[:6].tolist() == states


def test_lfsr_rejects_non_maximal_taps():
    with pytest.raises(ConfigError, match="maximal"):
        lfsr_sequence(LfsrFormat(bits=4, taps=0x8, seed=1))


def test_lane_states_match_stepping_each_register(monkeypatch):
    fmt = LfsrFormat(bits=8, taps=0xB8, seed=0x5A)
    seeds = lane_seeds(fmt, 4)
    assert seeds[0] == 0x5A and len(set(seeds)) == 4
    registers = list(seeds)
    for n in range(1, 40):
        registers = [lfsr_step(r, fmt) for r in registers]
        assert lane_states(fmt, 4, T(n)).tolist() == registers
    # The table walk across the end of the period equals the modulo form.
    period = fmt.period
    runs = [(period - 3, 10), (5, 2 * period), (period + 7, 30)]
    expected = [lane_states(fmt, 4, torch.arange(first, first + count)).tolist() for first, count in runs]
    for dtype in (np.int64, np.int32):
        assert [lane_states_run(fmt, 4, first, count, dtype).tolist() for first, count in runs] == expected
    # A bank too large for the lane table reads a strided view of the sequence instead: the same states.
    monkeypatch.setattr(lfsr, "LANE_TABLE_ENTRIES", 0)
    assert [lane_states_run(fmt, 4, first, count).tolist() for first, count in runs] == expected


def test_update_layer_equals_update_word_in_visit_order():
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=6, hidden=(8,), n_classes=4), lanes=4,
                            learning=LearningConfig(lr_shift=3))
    gen = torch.Generator().manual_seed(3)
    words = torch.randint(-128, 128, (6, 2, 4), generator=gen)
    causal = T([0, 0, 0, 0, 50, -70, 0, 3])  # group 0 all zero: skipped
    noncausal = T([0, 0, 0, 0, 0, 9, 0, 0])
    q = T([0, 40, 255, 0, 7, 32])
    x = T([0, 1, 0, 0, 0, 1])
    got, steps = update_layer(words.clone(), causal, noncausal, q, x, 9, cfg, 0, lfsr_steps=(5,))
    expected = words.clone()
    # Layer 0's registers: the first 4 of the 8 lanes of two layers (each layer has LFSRs of its own).
    registers = lane_states(cfg.lfsr, 8, T(5)).tolist()[:4]
    visits = 0
    for j in range(6):
        if q[j] == 0:
            continue
        registers = [lfsr_step(r, cfg.lfsr) for r in registers]
        visits += 1
        expected[j, 1] = update_word(expected[j, 1], causal[4:], noncausal[4:], int(q[j]), int(x[j]),
                                     T(registers), 9, 8, 16)
    assert steps == (5 + visits,) == (5 + 4,)
    assert torch.equal(got, expected)
    assert torch.equal(got[:, 0], words[:, 0]) and torch.equal(got[[0, 3]], words[[0, 3]])


def test_update_layer_whole_rows_equal_update_word():
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=5, hidden=(8,), n_classes=4), lanes=4)
    gen = torch.Generator().manual_seed(4)
    words = torch.randint(-128, 128, (5, 2, 4), generator=gen)
    causal = torch.randint(-3000, 3000, (8,), generator=gen)
    q = T([3, 0, 200, 1, 90])
    got, steps = update_layer(words.clone(), causal, torch.zeros(8, dtype=torch.int64), q, T([1, 0, 0, 1, 0]),
                              6, cfg, 1, lfsr_steps=(65530,))
    registers = lane_states(cfg.lfsr, 8, T(65530)).tolist()[4:]  # layer 1's: the readout's own LFSRs
    expected = words.clone()
    for j in (0, 2, 3, 4):
        for g in range(2):
            registers = [lfsr_step(r, cfg.lfsr) for r in registers]
            expected[j, g] = update_word(expected[j, g], causal[4 * g:4 * g + 4], torch.zeros(4, dtype=torch.int64),
                                         int(q[j]), 0, T(registers), 6, 8, 16)
    assert steps == (65530 + 8,) and torch.equal(got, expected)


@pytest.mark.parametrize("hidden, banks, layer", [(8, 2, 0), (16, 2, 0), (8, 4, 0), (8, 4, 1)],
                         ids=["groups-split", "groups-split-two-each", "rows-and-groups-split", "readout-rows-split"])
def test_update_layer_in_banks_steps_each_banks_own_lfsrs_in_its_own_order(hidden, banks, layer):
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=7, hidden=(hidden,), n_classes=4), lanes=4, banks=banks,
                            learning=LearningConfig(lr_shift=3))
    n_in = cfg.network.layer_sizes[layer]
    groups = cfg.groups[layer]
    gen = torch.Generator().manual_seed(5 + hidden + banks)
    words = torch.randint(-128, 128, (n_in, groups, 4), generator=gen)
    causal = torch.randint(-3000, 3000, (groups * 4,), generator=gen)
    causal[8:12] = 0  # group 2 (if any) learns nothing: skipped by its bank
    noncausal = torch.zeros(groups * 4, dtype=torch.int64)
    noncausal[0] = 5
    q = torch.randint(0, 3, (n_in,), generator=gen) * 40
    x = (q > 0).long()
    before = tuple(range(10, 10 + banks))
    got, steps = update_layer(words.clone(), causal, noncausal, q, x, 6, cfg, layer, lfsr_steps=before)
    # Word (j, g) is bank (j mod R) * S + g mod S's; bank b of layer l steps lanes 4k..4k+3 (k = l * B + b) of the
    # 2 * B * 4 lanes of two layers, once per visit of its own words, rows ascending, then groups.
    rows_split, groups_split = cfg.bank_classes(layer)
    registers = [lane_states(cfg.lfsr, 8 * banks, T(first)).tolist()[4 * (layer * banks + b):4 * (layer * banks + b) + 4]
                 for b, first in enumerate(before)]
    expected, visits = words.clone(), [0] * banks
    for j in range(n_in):
        for g in range(groups):
            if q[j] == 0 or not causal[4 * g:4 * g + 4].any() | noncausal[4 * g:4 * g + 4].any():
                continue
            bank = (j % rows_split) * groups_split + g % groups_split
            registers[bank] = [lfsr_step(r, cfg.lfsr) for r in registers[bank]]
            visits[bank] += 1
            expected[j, g] = update_word(expected[j, g], causal[4 * g:4 * g + 4], noncausal[4 * g:4 * g + 4],
                                         int(q[j]), int(x[j]), T(registers[bank]), 6, 8, 16)
    assert steps == tuple(first + v for first, v in zip(before, visits)) and torch.equal(got, expected)
    assert sum(visits) > 0 and sum(v > 0 for v in visits) >= 2, "at least two banks must walk"
    with pytest.raises(ValueError, match="one count per bank"):
        update_layer(words.clone(), causal, noncausal, q, x, 6, cfg, layer, lfsr_steps=(0,))


def test_update_layer_takes_numpy_and_refuses_a_strided_memory():
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=3, hidden=(4,), n_classes=2), lanes=4,
                            learning=LearningConfig(lr_shift=0))
    words = np.zeros((3, 1, 4), dtype=np.int64)
    # lr_shift 0 is exact: dW = causal * q (+ noncausal * x), here 2 * 5 and -1 * 5 + 3 * 1 on row 1 only.
    _, steps = update_layer(words, np.array([2, 0, 0, -1]), np.array([0, 0, 0, 3]), np.array([0, 5, 0]),
                            np.array([0, 1, 0]), 0, cfg, 0, lfsr_steps=(0,))
    assert steps == (1,) and words[:, 0].tolist() == [[0, 0, 0, 0], [10, 0, 0, -2], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match="contiguous"):
        update_layer(np.zeros((3, 2, 4), dtype=np.int64)[:, :1], np.ones(4, dtype=np.int64),
                     np.zeros(4, dtype=np.int64), np.ones(3, dtype=np.int64), np.ones(3, dtype=np.int64), 0, cfg, 0, (0,))

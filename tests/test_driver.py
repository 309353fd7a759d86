"""The driver over the ``model`` transport: identity, weights, streams, errors, and equality with the model."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eligo.cli import build_parser
from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape, ReadoutFormat
from eligo.data import load_dataset
from eligo.data.stream import sample_words
from eligo.driver import (Accelerator, DeviceError, DriverError, PairingError, StreamLengthError, TransportTimeout,
                          WeightLayout, output_length)
from eligo.driver.model import ModelTransport
from eligo.fixed.model import FixedModel, initial_weights
from eligo.layout import PacketError, PacketLengthError, decode_output, encode_output, weights_per_slice
from eligo.regmap import build_register_map
from eligo.words import Opcode, encode

CFG = AcceleratorConfig(network=NetworkShape(n_inputs=32, hidden=(16,), n_classes=4), lanes=4)


def open_model(cfg: AcceleratorConfig = CFG, seed: int = 1) -> Accelerator:
    accelerator = Accelerator(ModelTransport(cfg), cfg)
    accelerator.load_weights(initial_weights(cfg, seed))
    return accelerator


def data(n: int, seed: int = 0, n_inputs: int = 32):
    dataset = load_dataset("patterns", "train", seed=seed, n_samples=n, n_inputs=n_inputs, time_steps=6)
    return dataset.spikes.numpy(), dataset.labels.tolist()


def test_identity_is_checked_on_open():
    other = dataclasses.replace(CFG, lanes=8)
    with pytest.raises(PairingError, match="configuration hash.*GEOMETRY.lanes is 8 on the device, 4 here$"):
        Accelerator(ModelTransport(other), CFG)
    same_sizes = dataclasses.replace(CFG, neuron=dataclasses.replace(CFG.neuron, threshold=64))
    with pytest.raises(PairingError, match=r"0x[0-9a-f]{8}$"):  # only the hash tells these apart
        Accelerator(ModelTransport(same_sizes), CFG)


@pytest.mark.parametrize("weight_bits, lanes, per_slice", [(8, 4, 4), (3, 16, 8), (16, 4, 2), (6, 1, 1)])
def test_weights_round_trip_through_the_slices(weight_bits, lanes, per_slice):
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=5, hidden=(lanes * 2, 3), n_classes=3), lanes=lanes,
                            weight_bits=weight_bits, learning=LearningConfig(rule="stllr_dfa"))
    assert weights_per_slice(cfg) == per_slice
    lo, hi = cfg.weight_range
    generator = np.random.default_rng(weight_bits)
    sizes = cfg.network.layer_sizes
    weights = [generator.integers(lo, hi + 1, (n_in, n_out)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    weights[0][0, :2] = lo, hi
    accelerator = Accelerator(ModelTransport(cfg), cfg)
    accelerator.load_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(accelerator.read_weights(), weights))
    model = accelerator.transport.model
    assert all(np.array_equal(model.weights(k).numpy(), w) for k, w in enumerate(weights))


def test_bad_weights_are_refused_before_the_bus():
    accelerator = Accelerator(ModelTransport(CFG), CFG)
    good = [w.numpy() for w in initial_weights(CFG, 0)]
    with pytest.raises(DriverError, match="expected 2 weight matrices"):
        accelerator.load_weights(good[:1])
    with pytest.raises(DriverError, match=r"layer 1: weights must be \[16, 4\]"):
        accelerator.load_weights([good[0], good[1].T])
    with pytest.raises(DriverError, match="outside the 8-bit range"):
        accelerator.load_weights([good[0], good[1] * 0 + 128])
    with pytest.raises(DriverError, match="must be integers"):
        accelerator.load_weights([good[0], good[1].astype(float)])
    assert accelerator.counters().updates_applied == 0


def test_weight_address_outside_the_memory_is_a_device_error():
    accelerator = Accelerator(ModelTransport(CFG), CFG)
    accelerator.write("WEIGHT_ADDR", 7 << 24)
    assert accelerator.read("WEIGHT_RDATA") == 0
    with pytest.raises(DeviceError) as caught:
        accelerator.check_errors("reading a weight")
    assert caught.value.causes == ("bad_weight_address",)


def test_driver_run_equals_the_model_called_directly():
    """Several samples learning, then inference: same scores, weights, spikes; counters agree with the model."""
    spikes, labels = data(6)
    accelerator = open_model()
    reference = FixedModel(CFG, initial_weights(CFG, 1))
    results = accelerator.train(spikes[:4], labels[:4]) + accelerator.infer(spikes[4:])
    expected = [reference.run_sample(torch.from_numpy(s), label) for s, label in zip(spikes[:4], labels[:4])]
    ops_learning = reference.synaptic_ops
    expected += list(reference.scores(torch.from_numpy(spikes[4:])))
    assert [r.index for r in results] == list(range(6))
    for result, scores in zip(results, expected):
        assert np.array_equal(result.scores, scores.numpy())
        assert result.prediction == int(torch.argmax(scores))
    assert all(np.array_equal(a, reference.weights(k).numpy()) for k, a in enumerate(accelerator.read_weights()))
    events = int(spikes.sum())
    hidden_spikes = sum(r.spike_counts[0] for r in results)
    assert reference.synaptic_ops == events * 16 + hidden_spikes * 4  # inputs x fan-out, layer by layer
    counters = accelerator.counters()
    assert counters.events_in == events and counters.samples == 6
    assert counters.updates_applied == counters.cycles_learn == reference.learn_words > 0
    assert counters.events_dropped == counters.bad_words == 0
    assert counters.cycles_fire == 6 * 6 * sum(CFG.groups)
    assert counters.cycles_integrate == events * CFG.groups[0] + hidden_spikes * CFG.groups[1]
    assert ops_learning < reference.synaptic_ops


def test_train_command_through_the_driver_equals_the_direct_model():
    from eligo.driver.train import train_on_device
    from eligo.fixed.train import train_model

    args = build_parser().parse_args(["train", "--backend", "model", "--hidden", "16", "--lr", "0.06", "--seed", "2",
                                      "--epochs", "1", "--batch-size", "4"])
    train = load_dataset("patterns", "train", seed=2, n_samples=24, n_inputs=32, time_steps=5)
    test = load_dataset("patterns", "test", seed=2, n_samples=16, n_inputs=32, time_steps=5)
    direct = train_model(args, train, test, None)
    through_driver = train_on_device(args, train, test, None)
    counters = through_driver.pop("counters")
    assert through_driver == direct
    assert counters["samples"] == 24 + 2 * 16 and counters["updates_applied"] == direct["learn_words"]


def test_training_loop_through_the_driver_ends_with_the_same_weights():
    from eligo.driver.train import DeviceModel
    from eligo.fixed.train import train_fixed

    train = load_dataset("patterns", "train", seed=3, n_samples=12, n_inputs=32, time_steps=5)
    test = load_dataset("patterns", "test", seed=3, n_samples=8, n_inputs=32, time_steps=5)
    direct = FixedModel(CFG, initial_weights(CFG, 4))
    accelerator = open_model(seed=4)
    histories = [train_fixed(model, train, test, epochs=2, seed=5) for model in (direct, DeviceModel(accelerator))]
    assert histories[0] == histories[1]
    assert all(np.array_equal(a, direct.weights(k).numpy()) for k, a in enumerate(accelerator.read_weights()))


def test_register_bus_rules():
    transport = ModelTransport(CFG)
    accelerator = Accelerator(transport, CFG)
    regmap = build_register_map(CFG)
    accelerator.write("SCRATCH", 0xDEAD_BEEF)
    assert accelerator.read("SCRATCH") == 0xDEAD_BEEF
    assert transport.read_register(regmap["SCRATCH"].offset + 3) == 0xDEAD_BEEF  # low address bits ignored
    accelerator.write("CONTROL", 0xFFFF_FFFF)
    assert accelerator.read("CONTROL") == regmap["CONTROL"].mask == 0b1111  # only the defined bits are kept
    assert accelerator.read("COMMAND") == 0
    for illegal in (lambda: transport.write_register(regmap["ID"].offset, 1),
                    lambda: transport.write_register(0x7FC, 1),
                    lambda: transport.read_register(0x7FC)):
        with pytest.raises(DeviceError, match="SLVERR") as caught:
            illegal()
        assert caught.value.causes == ("bus_error",)
    assert accelerator.read("ID") == regmap["ID"].reset
    assert accelerator.errors() == ("bus_error",)
    assert accelerator.read("STATUS") == regmap["STATUS"].field("error").mask
    accelerator.clear_errors()
    assert accelerator.errors() == () and accelerator.read("STATUS") == 0
    with pytest.raises(DriverError, match="outside the 0x1000-byte window"):
        transport.read_register(0x1000)
    with pytest.raises(DriverError, match="does not fit in 32 bits"):
        transport.write_register(regmap["SCRATCH"].offset, 1 << 32)


def run_with_error(accelerator: Accelerator, words) -> DeviceError:
    with pytest.raises(DeviceError) as caught:
        accelerator.run_stream(words)
    return caught.value


def test_malformed_words_are_counted_flagged_and_dropped():
    spikes, labels = data(2)
    clean = open_model()
    expected = clean.infer(spikes[:1])[0]
    accelerator = open_model()
    words = sample_words(spikes[0], None, 0)
    reserved = np.r_[words[:3], np.uint32(0x7000_0001), words[3:]]
    assert run_with_error(accelerator, reserved).causes == ("bad_opcode",)
    assert accelerator.counters().samples == 1 and accelerator.counters().bad_words == 1
    accelerator.clear_errors()
    far = np.r_[np.uint32(encode(Opcode.EVENT, 32)), sample_words(spikes[0], None, 1)]
    assert run_with_error(accelerator, far).causes == ("bad_address",)
    counters = accelerator.counters()
    assert counters.bad_words == 2 and counters.samples == 2 and counters.events_in == 2 * int(spikes[0].sum())
    accelerator.clear_errors()
    assert np.array_equal(accelerator.infer(spikes[:1])[0].scores, expected.scores)


@pytest.mark.parametrize("broken", ["tick_out_of_order", "end_without_tick", "late_label", "repeated_event"])
def test_grammar_errors_raise_bad_sequence_not_a_hang(broken):
    spikes, _ = data(1)
    accelerator = open_model()
    words = sample_words(spikes[0], 1, 0)
    tick = int(np.flatnonzero(words >> 28 == Opcode.TICK)[0])
    event = int(np.flatnonzero(words >> 28 == Opcode.EVENT)[0])
    broken_words = {
        "tick_out_of_order": np.r_[words[:tick], np.uint32(encode(Opcode.TICK, 5)), words[tick:]],
        "end_without_tick": np.r_[encode(Opcode.LABEL, 1), encode(Opcode.END, 0)].astype(np.uint32),
        "late_label": np.r_[words[:tick], np.uint32(encode(Opcode.LABEL, 2)), words[tick:]],
        "repeated_event": np.r_[words[:event + 1], words[event:]],
    }[broken]
    error = run_with_error(accelerator, broken_words)
    assert error.causes == ("bad_sequence",)
    assert accelerator.counters().bad_words == 1


def test_stream_waits_for_start_and_timeouts_do_not_hang():
    transport = ModelTransport(CFG)
    spikes, _ = data(1)
    transport.send_words(sample_words(spikes[0]))
    with pytest.raises(TransportTimeout):
        transport.receive_words(output_length(CFG), timeout=0.01)
    accelerator = Accelerator(transport, CFG)  # opening pulses start: the waiting sample runs
    assert len(transport.outputs) == 1
    with pytest.raises(StreamLengthError, match="expected 7"):
        transport.receive_words(output_length(CFG) + 1, timeout=0.01)
    transport.send_words(np.r_[encode(Opcode.TICK, 0)].astype(np.uint32))  # a sample left open: no packet
    with pytest.raises(TransportTimeout):
        accelerator._receive(0, "a test")
    assert accelerator.read("STATUS") == build_register_map(CFG)["STATUS"].field("busy").mask


def test_output_packets_are_checked():
    accelerator = open_model()
    spikes, _ = data(1)
    accelerator._next_index = 9
    transport = accelerator.transport
    transport.send_words(sample_words(spikes[0], None, 3))
    with pytest.raises(DriverError, match="for sample 3 arrived while waiting for sample 9"):
        accelerator._receive(9, "a test")
    with pytest.raises(PacketLengthError, match="has 2 words, expected 6"):
        decode_output(CFG, np.zeros(2, dtype=np.uint32))
    with pytest.raises(PacketError, match="not an END word"):
        decode_output(CFG, np.zeros(output_length(CFG), dtype=np.uint32))


def test_wide_scores_take_two_words():
    cfg = dataclasses.replace(CFG, readout=ReadoutFormat(score_bits=40))
    scores = [-(1 << 39), (1 << 39) - 1, -1, 0]
    packet = encode_output(cfg, 5, scores, [7])
    assert len(packet) == output_length(cfg) == 1 + 4 * 2 + 1
    result = decode_output(cfg, packet)
    assert result.scores.tolist() == scores and result.spike_counts == (7,) and result.index == 5
    assert result.prediction == 1


def test_samples_are_checked():
    accelerator = open_model()
    spikes, labels = data(2)
    with pytest.raises(DriverError, match=r"samples must be \[N, T >= 1, 32\]"):
        accelerator.infer(spikes[0])
    with pytest.raises(DriverError, match="2 samples but 1 labels"):
        accelerator.train(spikes, labels[:1])
    with pytest.raises(DriverError, match="label 4 outside 0..3"):
        accelerator.train(spikes[:1], [4])
    with pytest.raises(DriverError, match="0 or 1"):
        accelerator.infer(spikes * 2)
    layout = WeightLayout(CFG)
    assert layout.n_slices(0) == 32 * 4 * 1


@settings(max_examples=40, deadline=None)
@given(weight_bits=st.integers(2, 16), lanes_log2=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_slice_packing_round_trips(weight_bits, lanes_log2, seed):
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=3, hidden=(1 << lanes_log2,), n_classes=2),
                            lanes=1 << lanes_log2, weight_bits=weight_bits)
    layout = WeightLayout(cfg)
    assert layout.per_slice * weight_bits <= 32 and cfg.lanes % layout.per_slice == 0
    lo, hi = cfg.weight_range
    lanes = np.random.default_rng(seed).integers(lo, hi + 1, (5, layout.per_slice))
    slices = layout.pack(lanes)
    assert slices.dtype == np.uint32 and np.array_equal(layout.unpack(slices), lanes)


def test_train_command_device_backends_name_what_is_missing(tmp_path, capsys):
    from eligo.cli import main

    command = ["train", "--dataset", "patterns", "--samples", "8", "--epochs", "1", "--hidden", "16", "--lr", "0.06",
               "--out", str(tmp_path)]
    assert main(command + ["--backend", "serial"]) == 2
    assert "--backend serial needs --device" in capsys.readouterr().err
    assert main(command + ["--backend", "serial", "--device", str(tmp_path / "tty")]) == 1
    assert "serial device: cannot open serial port" in capsys.readouterr().err


def test_driver_imports_without_torch():
    """A board image may have numpy and pynq but no torch: opening a device must not need it."""
    code = ("import sys; import eligo.driver, eligo.driver.pynq, eligo.driver.serial; "
            "assert 'torch' not in sys.modules, 'eligo.driver pulled in torch'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_learning_rate_decay_reaches_the_chip_and_what_it_cannot_hold_is_refused():
    transport = ModelTransport(CFG)
    accelerator = Accelerator(transport, CFG)
    field = accelerator.regmap["CONTROL"].field("lr_decay")
    accelerator.set_learning(True)
    accelerator.set_lr_decay(3)
    control = accelerator.read("CONTROL")
    assert (control & field.mask) >> field.lsb == 3 and control & accelerator.regmap["CONTROL"].field("learn_enable").mask
    spikes = np.zeros((1, 2, CFG.network.n_inputs), dtype=np.uint8)
    spikes[0, :, :3] = 1
    accelerator.train(spikes, [1])
    assert transport.model.lr_decay == 3 == accelerator.lr_decay
    for bad in (8, -1, 1.5):
        with pytest.raises(ValueError, match=r"0\.\.7 \(learning\.max_lr_decay"):
            accelerator.set_lr_decay(bad)
    assert accelerator.lr_decay == 3


def test_a_bitstream_of_another_depth_is_refused():
    one = dataclasses.replace(CFG, learning=dataclasses.replace(CFG.learning, rule="tess"))
    two = dataclasses.replace(one, network=dataclasses.replace(one.network, hidden=one.network.hidden * 2))
    with pytest.raises(PairingError, match="GEOMETRY.layers is 3 on the device, 2 here"):
        Accelerator(ModelTransport(two), one)
    with pytest.raises(PairingError, match="GEOMETRY.layers is 2 on the device, 3 here.*HIDDEN1 is not on the dev"):
        Accelerator(ModelTransport(one), two)
    deep = Accelerator(ModelTransport(two), two)  # the right pairing opens, and every layer's weights load
    weights = initial_weights(two, 1)
    deep.load_weights(weights)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(deep.read_weights(), weights)) and len(weights) == 3

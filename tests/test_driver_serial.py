"""The serial transport's framing, in loopback through the bridge in front of the ``model`` transport."""

from __future__ import annotations

import numpy as np
import pytest

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.data import load_dataset
from eligo.driver import Accelerator, DeviceError, DriverError, StreamLengthError, TransportTimeout
from eligo.driver.model import ModelTransport
from eligo.driver.serial import LoopbackPort, SerialBridge, SerialTransport, open_serial
from eligo.fixed.model import initial_weights
from eligo.regmap import build_register_map
from eligo.serial_protocol import BAD_FRAME, READ, SEND, SYNC, crc8, frame

CFG = AcceleratorConfig(network=NetworkShape(n_inputs=32, hidden=(16,), n_classes=4), lanes=4)
REGMAP = build_register_map(CFG)


def open_loopback(damage=lambda answer: answer):
    device = ModelTransport(CFG)
    port = LoopbackPort(SerialBridge(device), damage)
    return SerialTransport(port, REGMAP, answer_timeout=0.05), device, port


def test_crc8_and_frame_layout():
    assert crc8(b"123456789") == 0xF4  # the CRC-8 (poly 0x07) check value
    request = frame(READ, (0x01C).to_bytes(2, "little"))
    assert request[:5] == bytes([SYNC, READ, 2, 0, 0x1C]) and len(request) == 7
    assert request[-1] == crc8(request[1:-1])


def test_serial_run_equals_model_run():
    data = load_dataset("patterns", "train", seed=5, n_samples=5, n_inputs=32, time_steps=6)
    spikes, labels = data.spikes.numpy(), data.labels.tolist()
    transport, _, port = open_loopback()
    runs = []
    for backend in (transport, ModelTransport(CFG)):
        accelerator = Accelerator(backend, CFG)
        accelerator.load_weights(initial_weights(CFG, 2))
        results = accelerator.train(spikes[:3], labels[:3]) + accelerator.infer(spikes[3:])
        runs.append(([r.scores.tolist() for r in results], [w.tolist() for w in accelerator.read_weights()],
                     accelerator.counters()))
    assert runs[0] == runs[1]
    assert port.sent > 0 and port.answered > 0 and port.incoming == b""


def test_long_streams_go_in_several_frames():
    transport, device, port = open_loopback()
    words = np.arange(600, dtype=np.uint32) | np.uint32(0x7000_0000)  # reserved opcodes: only counted
    transport.send_words(words)
    assert port.sent == 600 * 4 + 3 * 5  # 256 + 256 + 88 words, 5 bytes of framing each
    assert device.waiting == type(device.waiting)(words.tolist())  # not started: all waiting, in order


def test_slverr_comes_back_as_a_device_error():
    transport, device, _ = open_loopback()
    with pytest.raises(DeviceError, match="SLVERR") as caught:
        transport.write_register(REGMAP["VERSION"].offset, 3)
    assert caught.value.causes == ("bus_error",)
    with pytest.raises(DeviceError, match="SLVERR"):
        transport.read_register(0x7F0)
    assert transport.read_register(REGMAP["ERROR"].offset) == REGMAP["ERROR"].field("bus_error").mask


def test_damaged_or_missing_answers_raise():
    flip_last = lambda answer: answer[:-1] + bytes([answer[-1] ^ 1]) if answer else answer  # noqa: E731
    transport, _, port = open_loopback(flip_last)
    with pytest.raises(DriverError, match="CRC-8"):
        transport.read_register(REGMAP["ID"].offset)
    port.damage = lambda answer: answer + b"\xA5\x00"  # junk after an answer puts the next one out of step
    assert transport.read_register(REGMAP["ID"].offset) == REGMAP["ID"].reset
    with pytest.raises(DriverError):
        transport.read_register(REGMAP["ID"].offset)
    port.damage = lambda answer: answer
    assert port.incoming == b"" and transport.read_register(REGMAP["ID"].offset) == REGMAP["ID"].reset
    transport, _, _ = open_loopback(lambda answer: b"")
    with pytest.raises(TransportTimeout, match="did not answer"):
        transport.read_register(REGMAP["ID"].offset)


def test_bridge_rejects_bad_frames_and_resynchronises():
    device = ModelTransport(CFG)
    bridge = SerialBridge(device)
    good = frame(READ, REGMAP["ID"].offset.to_bytes(2, "little"))
    damaged = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert bridge.feed(damaged) == frame(BAD_FRAME)
    assert bridge.feed(frame(SEND, b"\x01\x02")) == frame(BAD_FRAME)  # not whole words
    assert bridge.feed(frame(0x7E)) == frame(BAD_FRAME)
    assert bridge.feed(bytes([SYNC, READ, 0xFF, 0xFF])) == frame(BAD_FRAME)  # no frame is that long
    answer = bridge.feed(b"\x00\x13" + good[:3]) + bridge.feed(good[3:])  # noise, then a frame in two pieces
    assert answer == frame(0, REGMAP["ID"].reset.to_bytes(4, "little"))


def test_receive_polls_until_its_timeout_and_checks_length():
    transport, device, _ = open_loopback()
    with pytest.raises(TransportTimeout, match="no output packet"):
        transport.receive_words(6, timeout=0.01)
    device.outputs.append(np.arange(5, dtype=np.uint32))
    with pytest.raises(StreamLengthError, match="of 5 words, expected 6"):
        transport.receive_words(6, timeout=0.01)


def test_open_serial_names_the_port_it_cannot_open(tmp_path):
    with pytest.raises(DriverError, match="cannot open serial port"):
        open_serial(str(tmp_path / "no-such-tty"), CFG)

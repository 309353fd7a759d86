"""The pynq transport against in-repo stand-ins for the IP's MMIO, the AXI DMA and ``pynq.allocate``.

The stand-ins put the ``model`` transport behind the DMA, so a run through
``PynqTransport`` must equal a run through the model transport. The tests at
the end need pynq itself and run in its own environment (docs/driver.md);
elsewhere they are skipped.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.data import load_dataset
from eligo.driver import Accelerator, DeviceError, DriverError, StreamLengthError, TransportTimeout, output_length
from eligo.driver.model import ModelTransport
from eligo.driver.pynq import PynqTransport
from eligo.fixed.model import initial_weights
from eligo.regmap import build_register_map

CFG = AcceleratorConfig(network=NetworkShape(n_inputs=32, hidden=(16,), n_classes=4), lanes=4)


class Buffer(np.ndarray):
    """``pynq.allocate``'s PynqBuffer, less the physical memory."""

    def flush(self):
        self.flushes = getattr(self, "flushes", 0) + 1

    def invalidate(self):
        pass

    def freebuffer(self):
        self.freed = True


def allocate(shape, dtype):
    return np.zeros(shape, dtype).view(Buffer)


class Registers:
    """The bound IP: 32-bit reads and writes, recorded."""

    def __init__(self, device: ModelTransport):
        self.device, self.accesses = device, []

    def read(self, offset):
        self.accesses.append(("read", offset))
        return self.device.read_register(offset)

    def write(self, offset, value):
        self.accesses.append(("write", offset))
        self.device.write_register(offset, value)


class Channel:
    """An AXI DMA channel in simple mode; ``stall`` keeps it busy, ``error`` makes ``wait`` raise."""

    def __init__(self):
        self.idle, self.transferred, self.stall, self.error, self.lengths = True, 0, False, None, []

    def wait(self):
        if self.error:
            raise RuntimeError(self.error)


class SendChannel(Channel):
    def __init__(self, device):
        super().__init__()
        self.device = device

    def transfer(self, buffer, start, nbytes):
        assert self.idle, "transfer on a busy channel"
        self.lengths.append(nbytes // 4)
        self.device.send_words(np.array(buffer[start // 4:(start + nbytes) // 4]))
        self.idle = not self.stall


class RecvChannel(Channel):
    """Writes the device's next packet; ``extra`` words are appended to (or, negative, cut from) it."""

    def __init__(self, device):
        super().__init__()
        self.device, self.extra = device, 0

    def transfer(self, buffer, start, nbytes):
        assert self.idle, "transfer on a busy channel"
        self.idle = not self.stall
        if self.stall:
            return
        packet = self.device.outputs.popleft()
        packet = np.r_[packet, np.ones(self.extra, np.uint32)] if self.extra >= 0 else packet[:self.extra]
        n = min(len(packet), nbytes // 4)
        buffer[:n] = packet[:n]
        self.transferred = 4 * n


class Dma:
    def __init__(self, device):
        self.sendchannel, self.recvchannel = SendChannel(device), RecvChannel(device)


def open_pynq_standin(max_transfer_bytes=4096):
    device = ModelTransport(CFG)
    registers, dma = Registers(device), Dma(device)
    transport = PynqTransport(registers, dma, allocate, build_register_map(CFG), output_length(CFG),
                              max_transfer_bytes)
    accelerator = Accelerator(transport, CFG, timeout=0.05)
    accelerator.load_weights(initial_weights(CFG, 3))
    return accelerator, registers, dma


def test_pynq_run_equals_model_run_with_buffers_allocated_once():
    data = load_dataset("patterns", "train", seed=4, n_samples=5, n_inputs=32, time_steps=6)
    spikes, labels = data.spikes.numpy(), data.labels.tolist()
    accelerator, _, dma = open_pynq_standin(max_transfer_bytes=64)  # 16 words: samples go in pieces
    reference = Accelerator(ModelTransport(CFG), CFG)
    reference.load_weights(initial_weights(CFG, 3))
    buffers = (accelerator.transport.input_buffer, accelerator.transport.output_buffer)
    got = accelerator.train(spikes[:3], labels[:3]) + accelerator.infer(spikes[3:])
    expected = reference.train(spikes[:3], labels[:3]) + reference.infer(spikes[3:])
    assert [r.scores.tolist() for r in got] == [r.scores.tolist() for r in expected]
    assert all(np.array_equal(a, b) for a, b in zip(accelerator.read_weights(), reference.read_weights()))
    assert accelerator.counters() == reference.counters()
    assert max(dma.sendchannel.lengths) == 16 and len(dma.sendchannel.lengths) > 5
    assert (accelerator.transport.input_buffer, accelerator.transport.output_buffer) == buffers
    assert buffers[0].flushes == len(dma.sendchannel.lengths)
    accelerator.close()
    assert buffers[0].freed and buffers[1].freed


@pytest.mark.parametrize("extra", [1, -1])
def test_dma_length_mismatch_raises(extra):
    accelerator, _, dma = open_pynq_standin()
    spikes = load_dataset("patterns", "train", seed=0, n_samples=1, n_inputs=32, time_steps=4).spikes.numpy()
    dma.recvchannel.extra = extra
    with pytest.raises(StreamLengthError, match=("more than 7" if extra > 0 else "of 5 words") + ".* expected 6"):
        accelerator.infer(spikes)


def test_stalled_dma_times_out_and_dma_errors_are_named():
    accelerator, _, dma = open_pynq_standin()
    spikes = load_dataset("patterns", "train", seed=0, n_samples=1, n_inputs=32, time_steps=4).spikes.numpy()
    dma.recvchannel.stall = True
    with pytest.raises(TransportTimeout, match="no TLAST"):
        accelerator.infer(spikes)
    accelerator, _, dma = open_pynq_standin()
    dma.recvchannel.error = "DMA Decode Error (invalid address)"
    with pytest.raises(DriverError, match="AXI DMA receiving a 6-word packet: DMA Decode Error"):
        accelerator.infer(spikes)


def test_illegal_register_accesses_never_reach_the_bus():
    accelerator, registers, _ = open_pynq_standin()
    before = len(registers.accesses)
    regmap = build_register_map(CFG)
    with pytest.raises(DeviceError, match="read-only"):
        accelerator.transport.write_register(regmap["ID"].offset, 0)
    with pytest.raises(DeviceError, match="not a register"):
        accelerator.transport.read_register(0x7F0)
    assert len(registers.accesses) == before


def pynq_or_skip():
    """pynq lives in its own environment (scripts/test.sh builds it); there, ELIGO_REQUIRE_PYNQ=1 makes absence fail."""
    if os.environ.get("ELIGO_REQUIRE_PYNQ") == "1":
        import pynq

        return pynq
    return pytest.importorskip("pynq", reason="pynq runs in its own environment (docs/driver.md)")


class FakeDevice:
    """What ``DefaultIP`` asks of a pynq device: a memory-mapped window, here a plain array."""

    def __init__(self, window: np.ndarray):
        self.window = window

    def has_capability(self, capability):
        return capability == "MEMORY_MAPPED"

    def mmap(self, base, length):
        return self.window


def test_defaultip_subclass_binds_by_vlnv_and_checks_identity():
    pynq = pynq_or_skip()
    from eligo.driver.pynq import VLNV, driver_class

    ip_class = driver_class()
    assert issubclass(ip_class, pynq.DefaultIP) and pynq.overlay._ip_drivers[VLNV] is ip_class
    regmap = build_register_map(CFG)
    window = np.zeros(1 << 10, dtype=np.uint32)
    for name in ("ID", "VERSION", "CONFIG_HASH"):
        window[regmap[name].offset // 4] = regmap[name].reset
    ip = ip_class({"phys_addr": 0x43C0_0000, "addr_range": 1 << 12, "device": FakeDevice(window)})
    transport = PynqTransport(ip, Dma(ModelTransport(CFG)), allocate, regmap, output_length(CFG))
    Accelerator(transport, CFG)  # identity read through pynq's MMIO
    transport.write_register(regmap["SCRATCH"].offset, 0x1234_5678)
    assert window[regmap["SCRATCH"].offset // 4] == 0x1234_5678
    window[regmap["CONFIG_HASH"].offset // 4] ^= 1
    from eligo.driver import PairingError

    with pytest.raises(PairingError, match="configuration hash"):
        Accelerator(transport, CFG)

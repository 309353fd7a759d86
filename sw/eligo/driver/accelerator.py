"""``Accelerator``: one Python API for the chip, whatever carries its registers and streams."""

from __future__ import annotations

from dataclasses import fields, make_dataclass
from typing import Sequence

import numpy as np

from eligo.config import AcceleratorConfig
from eligo.driver.errors import DeviceError, DriverError, PairingError, StreamLengthError, TransportTimeout
from eligo.driver.transport import Transport
from eligo.layout import PacketError, PacketLengthError, SampleResult, WeightLayout, decode_output, output_length
from eligo.regmap import COUNTERS, ERROR_CAUSES, RegisterMapError, build_register_map
from eligo.words import OPCODE_SHIFT, PAYLOAD_MASK, Opcode, encode


def _counters_as_dict(self) -> dict[str, int]:
    return {f.name: getattr(self, f.name) for f in fields(self)}


Counters = make_dataclass("Counters", [(name.lower(), int) for name, _ in COUNTERS], frozen=True,
                          namespace={"as_dict": _counters_as_dict})
Counters.__doc__ = "The counter registers by lower-case name, in register order (``eligo.regmap.COUNTERS``)."


def decode_causes(error_word: int) -> tuple[str, ...]:
    """Names of the ERROR causes set in ``error_word``."""
    return tuple(f.name for f in ERROR_CAUSES if error_word & f.mask)


class Accelerator:
    """The chip behind ``transport``, checked to be the one ``cfg`` describes.

    Opening reads ID, VERSION and CONFIG_HASH (``PairingError`` on a mismatch),
    then clears counters, errors and sample state and starts the stream.
    ``train``/``infer`` turn samples into event words (``eligo.data.stream``),
    one send per sample, and read back one output packet each; after each
    sample the ERROR register is read, and any cause raises ``DeviceError``.
    """

    def __init__(self, transport: Transport, cfg: AcceleratorConfig, *, timeout: float = 5.0):
        self.transport = transport
        self.cfg = cfg
        self.regmap = build_register_map(cfg)
        self.offsets = self.regmap.offsets
        self.layout = WeightLayout(cfg)
        self.timeout = timeout
        self._next_index = 0
        self._learn_enable: bool | None = None
        self._lr_decay: int | None = None
        self.check_identity()
        self.reset()

    # registers
    def read(self, name: str) -> int:
        return self.transport.read_register(self.offsets[name])

    def write(self, name: str, value: int) -> None:
        self.transport.write_register(self.offsets[name], value)

    def command(self, *names: str) -> None:
        """Pulse COMMAND fields (start, reset_sample, clear_counters, write_weight)."""
        reg = self.regmap["COMMAND"]
        self.write("COMMAND", sum(reg.field(name).mask for name in names))

    def check_identity(self) -> None:
        try:
            self.regmap.check_identity(self.read("ID"), self.read("VERSION"), self.read("CONFIG_HASH"))
        except RegisterMapError as exc:
            differences = self._constant_differences() if "configuration hash" in str(exc) else []
            raise PairingError(str(exc) + "".join(f"; {d}" for d in differences)) from None

    def _constant_differences(self) -> list[str]:
        """The size and width fields where the device's constant registers differ from this configuration's.

        A bitstream with fewer hidden layers lacks the last HIDDEN<k> registers: their reads fail, which says
        that much (and no more: the device is not this driver's to keep reading)."""
        differences = []
        for reg in self.regmap:
            if reg.source != "constant" or reg.name in ("ID", "VERSION", "CONFIG_HASH"):
                continue
            try:
                value = self.read(reg.name)
            except DeviceError:
                differences.append(f"{reg.name} is not on the device")
                continue
            for f in reg.fields:
                device = (value & f.mask) >> f.lsb
                if device != f.reset:
                    differences.append(f"{reg.name}.{f.name} is {device} on the device, {f.reset} here")
        return differences

    def reset(self) -> None:
        """Clear errors, counters and sample state; inference mode; start consuming the stream.

        A sample an earlier session left half-sent is aborted, and closed with an END so the chip stops
        dropping words before this session's first sample.
        """
        self.clear_errors()
        self.set_learning(False)
        self.command("reset_sample", "start")
        if "sample_aborted" in self.errors():
            self.transport.send_words(np.array([encode(Opcode.END, 0)], dtype=np.uint32))
            self._wait_not_busy("closing a sample an earlier session left open")
        self.command("clear_counters")
        self.clear_errors()

    def abort_sample(self) -> bool:
        """Drop the sample in progress (COMMAND.reset_sample); True if there was one.

        The chip then drops every word up to and including that sample's END, counted in ABORTED_WORDS: send
        the rest of the sample, or just its END, before the next one. ERROR.sample_aborted is cleared here,
        since the abort was asked for; an abort the driver did not ask for stays set, and the next check
        reports it as a ``DeviceError``.
        """
        raised_before = "sample_aborted" in self.errors()
        self.command("reset_sample")
        aborted = not raised_before and "sample_aborted" in self.errors()
        if aborted:
            self.write("ERROR", self.regmap["ERROR"].field("sample_aborted").mask)
        return aborted

    def _wait_not_busy(self, doing: str, polls: int = 1000) -> None:
        busy = self.regmap["STATUS"].field("busy").mask
        for _ in range(polls):
            if not self.read("STATUS") & busy:
                return
        raise TransportTimeout(f"STATUS.busy still set after {polls} reads while {doing}")

    def set_learning(self, enable: bool) -> None:
        if enable != self._learn_enable:
            self._learn_enable = enable
            self._write_control()

    @property
    def lr_decay(self) -> int:
        """The CONTROL.lr_decay this driver last wrote (0 before any)."""
        return self._lr_decay or 0

    def set_lr_decay(self, decay: int) -> None:
        """Halve the learning rate ``decay`` times (CONTROL.lr_decay); refused past learning.max_lr_decay."""
        self.cfg.learning.check_lr_decay(decay)
        if decay != self._lr_decay:
            self._lr_decay = decay
            self._write_control()

    def _write_control(self) -> None:
        control = self.regmap["CONTROL"]
        self.write("CONTROL", (control.field("learn_enable").mask if self._learn_enable else 0)
                   | (self._lr_decay or 0) << control.field("lr_decay").lsb)

    def counters(self) -> Counters:
        return Counters(*(self.read(name) for name, _ in COUNTERS))

    def errors(self) -> tuple[str, ...]:
        """The ERROR causes now set."""
        return decode_causes(self.read("ERROR"))

    def clear_errors(self) -> None:
        self.write("ERROR", self.regmap["ERROR"].mask)

    def check_errors(self, doing: str) -> None:
        causes = self.errors()
        if causes:
            raise DeviceError(f"the device reported an error while {doing}", causes)

    # weights
    def load_weights(self, weights: Sequence) -> None:
        """Write every layer's integer weights [n_in, n_out] (first hidden layer first, readout last)."""
        checked = self._check_weights(weights)
        layer_shift = self.regmap["WEIGHT_ADDR"].field("layer").lsb
        write_weight = self.regmap["COMMAND"].field("write_weight").mask
        for layer, matrix in enumerate(checked):
            for index, value in enumerate(self.layout.layer_slices(layer, matrix).tolist()):
                self.write("WEIGHT_ADDR", (layer << layer_shift) | index)
                self.write("WEIGHT_WDATA", value)
                self.write("COMMAND", write_weight)
        self.check_errors("loading weights")

    def read_weights(self) -> list[np.ndarray]:
        """Every layer's weights [n_in, n_out], read back from the chip's memories."""
        layer_shift = self.regmap["WEIGHT_ADDR"].field("layer").lsb
        layers = []
        for layer in range(self.layout.n_layers):
            slices = []
            for index in range(self.layout.n_slices(layer)):
                self.write("WEIGHT_ADDR", (layer << layer_shift) | index)
                slices.append(self.read("WEIGHT_RDATA"))
            layers.append(self.layout.layer_weights(layer, np.array(slices, dtype=np.uint32)))
        self.check_errors("reading weights")
        return layers

    def _check_weights(self, weights: Sequence) -> list[np.ndarray]:
        sizes = self.cfg.network.layer_sizes
        if len(weights) != len(sizes) - 1:
            raise DriverError(f"expected {len(sizes) - 1} weight matrices for layers {sizes}, got {len(weights)}")
        lo, hi = self.cfg.weight_range
        checked = []
        for layer, (w, shape) in enumerate(zip(weights, zip(sizes[:-1], sizes[1:]))):
            w = np.asarray(w)
            if w.shape != shape:
                raise DriverError(f"layer {layer}: weights must be {list(shape)}, got {list(w.shape)}")
            if w.dtype.kind not in "iu":
                raise DriverError(f"layer {layer}: weights must be integers, got {w.dtype}")
            if w.size and not lo <= int(w.min()) <= int(w.max()) <= hi:
                raise DriverError(f"layer {layer}: weights outside the {self.cfg.weight_bits}-bit range {lo}..{hi}")
            checked.append(w.astype(np.int64))
        return checked

    # streams
    def train(self, spikes, labels: Sequence[int]) -> list[SampleResult]:
        """Learn online from labelled samples ``spikes`` [N, T, n_inputs] (0/1), one at a time, in order."""
        spikes = self._check_spikes(spikes)
        if len(labels) != len(spikes):
            raise DriverError(f"{len(spikes)} samples but {len(labels)} labels")
        n_classes = self.cfg.network.n_classes
        for label in labels:
            if not 0 <= int(label) < n_classes:
                raise DriverError(f"label {int(label)} outside 0..{n_classes - 1}")
        self.set_learning(True)
        return [self._run_sample(sample, int(label)) for sample, label in zip(spikes, labels)]

    def infer(self, spikes) -> list[SampleResult]:
        """Class scores of samples ``spikes`` [N, T, n_inputs] (0/1); nothing is learnt."""
        return [self._run_sample(sample, None) for sample in self._check_spikes(spikes)]

    def run_stream(self, words) -> list[SampleResult]:
        """Send raw event words (whole samples, END indices continuing from the driver's) and read one output
        packet per END; for streams built elsewhere, malformed ones included (the device flags those)."""
        words = np.asarray(words, dtype=np.uint32)
        ends = (words[words >> OPCODE_SHIFT == Opcode.END] & PAYLOAD_MASK).tolist()
        self.transport.send_words(words)
        return [self._receive(index, "running a stream") for index in ends]

    def _run_sample(self, spikes: np.ndarray, label: int | None) -> SampleResult:
        from eligo.data.stream import sample_words  # eligo.data needs torch; opening a device does not

        index = self._next_index
        self.transport.send_words(sample_words(spikes, label, index))
        return self._receive(index, f"running sample {index}")

    def _receive(self, index: int, doing: str) -> SampleResult:
        try:
            words = self.transport.receive_words(output_length(self.cfg), self.timeout)
        except TransportTimeout as exc:
            self.check_errors(f"{doing} ({exc})")
            raise
        try:
            result = decode_output(self.cfg, words)
        except PacketLengthError as exc:
            raise StreamLengthError(str(exc)) from exc
        except PacketError as exc:
            raise DriverError(str(exc)) from exc
        if result.index != index & PAYLOAD_MASK:
            raise DriverError(f"output packet for sample {result.index} arrived while waiting for sample {index}")
        self._next_index = (index + 1) & PAYLOAD_MASK
        self.check_errors(doing)
        return result

    def _check_spikes(self, spikes) -> np.ndarray:
        spikes = np.asarray(spikes)
        n_inputs = self.cfg.network.n_inputs
        if spikes.ndim != 3 or spikes.shape[2] != n_inputs or spikes.shape[1] < 1:
            raise DriverError(f"samples must be [N, T >= 1, {n_inputs}], got {list(spikes.shape)}")
        if spikes.size and not np.isin(spikes, (0, 1)).all():
            raise DriverError("spikes must be 0 or 1")
        return spikes

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Accelerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

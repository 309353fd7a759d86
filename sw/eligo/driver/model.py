"""The ``model`` transport: the bit-exact fixed-point model behind the register map, as the RTL top is.

Registers follow the bus rules of ``eligo.regmap``: an unmapped offset, or a
write to a read-only register, raises ``DeviceError`` (the bus's SLVERR), does
nothing else and sets ERROR.bus_error. Words sent before COMMAND.start wait, as
the stream's back-pressure would hold them. Each word is then checked as the
chip checks it; a word it rejects is consumed, counted in BAD_WORDS, raises its
ERROR cause and changes nothing else:

- bad_opcode: a reserved opcode;
- bad_address: an EVENT address >= n_inputs;
- bad_sequence: a LABEL that is not the first word of a sample or names no
  class, an EVENT repeating an address in its step, a TICK whose payload is
  not the step's number, an END with no step closed or with events after the
  last TICK.

COMMAND.reset_sample in the middle of a sample (a word of it taken, its END
not) aborts it: the sample state is cleared, no packet is sent, ERROR.sample_aborted
is raised, and the words that follow, up to and including the next END, are
dropped and counted in ABORTED_WORDS (words the decoder rejects count there
as always). Outside a sample it only clears the (already clear) sample state.
The model takes every word at once, so "in the middle" means after the words
sent so far; the chip matches it when it has taken them too (a host aborts a
sample it stopped sending).

Cycle counters follow the ideal schedule, one weight-memory word per cycle:
integrating costs ``groups`` cycles per input event of a layer, firing
``groups`` cycles per layer per step, learning one cycle per word updated; the
layer engine's phase overheads are not modelled yet (docs/driver.md, Counters).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from eligo.config import AcceleratorConfig
from eligo.driver.errors import DeviceError, DriverError, StreamLengthError, TransportTimeout
from eligo.driver.transport import RegisterWindow
from eligo.fixed.model import FixedModel
from eligo.layout import WeightLayout, encode_output
from eligo.regmap import COUNTERS, build_register_map
from eligo.words import OPCODE_SHIFT, PAYLOAD_MASK, Opcode

COUNTER_MAX = 0xFFFF_FFFF


class CountingModel(FixedModel):
    """The fixed-point model, noting how many spikes enter each layer in the current step."""

    def __init__(self, cfg: AcceleratorConfig, weights: list[torch.Tensor]):
        super().__init__(cfg, weights)
        self.layer_inputs = [0] * len(weights)

    def _current(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        self.layer_inputs[layer] = int(x.sum())
        return super()._current(layer, x)


class ModelTransport:
    """A ``Transport`` whose device is ``FixedModel``; it answers at once, so timeouts never wait."""

    def __init__(self, cfg: AcceleratorConfig):
        self.cfg = cfg
        self.regmap = build_register_map(cfg)
        self.window = RegisterWindow(self.regmap)
        command, address = self.regmap["COMMAND"], self.regmap["WEIGHT_ADDR"]
        self.command_masks = {f.name: f.mask for f in command.fields}
        self.kept_bits = {reg.name: (1 << reg.width) - 1 for reg in self.regmap}
        self.learn_mask = self.regmap["CONTROL"].field("learn_enable").mask
        self.lr_decay_field = self.regmap["CONTROL"].field("lr_decay")
        self.weight_layer, self.weight_index = address.field("layer"), address.field("index")
        self.layout = WeightLayout(cfg)
        sizes = cfg.network.layer_sizes
        self.model = CountingModel(cfg, [torch.zeros(n_in, n_out, dtype=torch.int64)
                                         for n_in, n_out in zip(sizes[:-1], sizes[1:])])
        self.values = {reg.name: reg.reset for reg in self.regmap if reg.source != "port"}
        self.counters = dict.fromkeys((name for name, _ in COUNTERS), 0)
        self.waiting: deque[int] = deque()
        self.outputs: deque[np.ndarray] = deque()
        self.running = False
        self.discarding = False
        self._clear_sample()

    # registers
    def read_register(self, offset: int) -> int:
        reg = self.window.find(offset)
        if reg is None:
            self._bus_error(f"read of unmapped offset 0x{offset:03x}")
        if reg.access == "wo":
            return 0
        if reg.name == "STATUS":
            status = self.regmap["STATUS"]
            return ((status.field("busy").mask if self.in_sample or self.discarding else 0)
                    | (status.field("error").mask if self.values["ERROR"] else 0))
        if reg.name == "WEIGHT_RDATA":
            where = self._weight_slice()
            return 0 if where is None else int(self.layout.pack(self._lanes(*where)))
        if reg.name in self.counters:
            return self.counters[reg.name]
        return self.values[reg.name]

    def write_register(self, offset: int, value: int) -> None:
        reg = self.window.find(offset, value)
        if reg is None:
            self._bus_error(f"write to unmapped offset 0x{offset:03x}")
        if reg.access == "ro":
            self._bus_error(f"write to read-only register {reg.name}")
        value &= self.kept_bits[reg.name]
        if reg.access == "rw":
            self.values[reg.name] = value
        elif reg.access == "w1c":
            self.values[reg.name] &= ~value
        else:
            self._command(value)

    def _bus_error(self, what: str):
        self._raise_error("bus_error")
        raise DeviceError(f"SLVERR: {what}", ("bus_error",))

    def _raise_error(self, cause: str) -> None:
        self.values["ERROR"] |= self.regmap["ERROR"].field(cause).mask

    def _count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = min(self.counters[name] + amount, COUNTER_MAX)

    def _command(self, value: int) -> None:
        masks = self.command_masks
        if value & masks["clear_counters"]:
            self.counters = dict.fromkeys(self.counters, 0)
        if value & masks["reset_sample"]:
            if self.in_sample:
                self.discarding = True
                self._raise_error("sample_aborted")
            self._clear_sample()
        if value & masks["write_weight"]:
            where = self._weight_slice()
            if where is not None:
                self._lanes(*where)[:] = self.layout.unpack(self.values["WEIGHT_WDATA"])
        if value & masks["start"]:
            self.running = True
            self._consume()

    def _weight_slice(self) -> tuple[int, int] | None:
        """(layer, slice index) WEIGHT_ADDR names, or None (and ERROR.bad_weight_address) if there is none."""
        layer = (self.values["WEIGHT_ADDR"] & self.weight_layer.mask) >> self.weight_layer.lsb
        index = self.values["WEIGHT_ADDR"] & self.weight_index.mask
        if layer >= self.layout.n_layers or index >= self.layout.n_slices(layer):
            self._raise_error("bad_weight_address")
            return None
        return layer, index

    def _lanes(self, layer: int, index: int) -> np.ndarray:
        """A view of the weight memory lanes one slice holds (the memory is contiguous)."""
        per_slice = self.layout.per_slice
        return self.model.words[layer].numpy().reshape(-1)[index * per_slice:(index + 1) * per_slice]

    # streams
    def send_words(self, words: np.ndarray) -> None:
        words = np.asarray(words)
        if words.ndim != 1 or (words.size and (words.min() < 0 or words.max() > COUNTER_MAX)):
            raise DriverError(f"stream words must be a 1-D array of 32-bit values, got shape {words.shape}")
        self.waiting.extend(int(w) for w in words)
        if self.running:
            self._consume()

    def receive_words(self, expected_len: int, timeout: float) -> np.ndarray:
        if not self.outputs:
            raise TransportTimeout("no output packet: the model has finished every sample it was sent")
        packet = self.outputs.popleft()
        if len(packet) != expected_len:
            raise StreamLengthError(f"output packet has {len(packet)} words, expected {expected_len}")
        return packet

    def close(self) -> None:
        self.waiting.clear()
        self.outputs.clear()

    def _clear_sample(self) -> None:
        self.state = self.model.new_state(1)
        self.label: int | None = None
        self.step = 0
        self.in_sample = False
        self.step_inputs = np.zeros(self.cfg.network.n_inputs, dtype=np.int64)  # this step's EVENTs, 0/1
        self.step_events = 0
        self.spike_counts = [0] * len(self.cfg.network.hidden)

    def _consume(self) -> None:
        """Run the waiting words in order; runs of EVENT words go through at once, as the chip's FIFO takes them."""
        if not self.waiting:
            return
        words = np.fromiter(self.waiting, dtype=np.int64, count=len(self.waiting))
        self.waiting.clear()
        opcodes = words >> OPCODE_SHIFT
        bounds = np.r_[np.flatnonzero(np.diff(opcodes)) + 1, len(words)]
        start = 0
        for end in bounds.tolist():
            if opcodes[start] == Opcode.EVENT:
                self._events(words[start:end] & PAYLOAD_MASK)
            else:
                for word in words[start:end].tolist():
                    self._word(word)
            start = end

    def _events(self, addresses: np.ndarray) -> None:
        """A run of EVENT words: what ``_word`` would do to each in turn."""
        inside = addresses < self.cfg.network.n_inputs
        if not inside.all():
            self._raise_error("bad_address")
            self._count("BAD_WORDS", int((~inside).sum()))
        addresses = addresses[inside]
        if self.discarding:
            self._count("ABORTED_WORDS", len(addresses))
            return
        _, first = np.unique(addresses, return_index=True)
        new = addresses[first][self.step_inputs[addresses[first]] == 0]
        if len(new) < len(addresses):
            self._raise_error("bad_sequence")
            self._count("BAD_WORDS", len(addresses) - len(new))
        if len(new):
            self.step_inputs[new] = 1
            self.step_events += len(new)
            self.in_sample = True
            self._count("EVENTS_IN", len(new))

    def _reject(self, cause: str) -> None:
        self._raise_error(cause)
        self._count("BAD_WORDS")

    def _word(self, word: int) -> None:
        opcode, payload = word >> OPCODE_SHIFT, word & PAYLOAD_MASK
        if self.discarding and opcode in (Opcode.TICK, Opcode.LABEL, Opcode.END):
            self._count("ABORTED_WORDS")
            self.discarding = opcode != Opcode.END
        elif opcode == Opcode.TICK:
            if payload != self.step & PAYLOAD_MASK:
                return self._reject("bad_sequence")
            self._tick()
        elif opcode == Opcode.LABEL:
            if self.in_sample or payload >= self.cfg.network.n_classes:
                return self._reject("bad_sequence")
            self.label = payload
            self.in_sample = True
        elif opcode == Opcode.END:
            if self.step == 0 or self.step_events:
                return self._reject("bad_sequence")
            self.outputs.append(encode_output(self.cfg, payload, self.state.scores[0].tolist(), self.spike_counts))
            self._count("SAMPLES")
            self._clear_sample()
        else:
            self._reject("bad_opcode")

    def _tick(self) -> None:
        cfg, model = self.cfg, self.model
        spikes = torch.from_numpy(self.step_inputs.copy())[None]
        learn = self.values["CONTROL"] & self.learn_mask
        decay = (self.values["CONTROL"] & self.lr_decay_field.mask) >> self.lr_decay_field.lsb
        model.lr_decay = min(decay, cfg.learning.max_lr_decay)  # the hardware caps what the field holds
        words_before = model.learn_words
        model.step(self.state, spikes, self.label if learn else None, self.step)
        updates = model.learn_words - words_before
        self._count("CYCLES_INTEGRATE", sum(n * g for n, g in zip(model.layer_inputs, cfg.groups)))
        self._count("CYCLES_FIRE", sum(cfg.groups))
        self._count("CYCLES_LEARN", updates)
        self._count("UPDATES_APPLIED", updates)
        for layer in range(len(self.spike_counts)):
            self.spike_counts[layer] = min(self.spike_counts[layer] + model.layer_inputs[layer + 1], COUNTER_MAX)
        self.step += 1
        self.in_sample = True
        self.step_inputs[:] = 0
        self.step_events = 0

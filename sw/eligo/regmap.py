"""The control/status register map, defined once.

The AXI4-Lite register file (``eligo_hw.axil``) decodes it, the driver takes
its offsets and identity check from it, and ``docs/registers.md`` is rendered
from it (``eligo registers``). Values that are configuration (sizes, widths,
the configuration hash) are read-only constants taken from the
``AcceleratorConfig``, so the driver can refuse a bitstream built for another
configuration.

Bus rules the hardware follows: a 32-bit data bus; the address's two low bits
are ignored; an unmapped address, or a write to a read-only register, answers
SLVERR, changes nothing and sets ``ERROR.bus_error``; reading a write-only
register returns 0.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

from eligo.config import RULES, AcceleratorConfig

MAGIC = 0x454C_4947  # "ELIG" in ASCII
REGMAP_VERSION = 4
"""2: ERROR.sample_aborted and ABORTED_WORDS (COMMAND.reset_sample in the middle of a sample).
3: CONTROL.lr_decay (the run-time learning-rate shift) and the LEARNING constant (which rule the bitstream runs).
4: every layer (and update bank) rounds with LFSRs of its own, so a bitstream of 3 learns other bits than the
model: it must not pair."""
DATA_BITS = 32
ADDRESS_BITS = 12
"""A 4 KiB window, the smallest AXI slave region most interconnects assign."""

Access = Literal["ro", "rw", "wo", "w1c"]
Source = Literal["constant", "port", "flop"]
ACCESS_MEANING = {
    "ro": "read-only",
    "rw": "read/write",
    "wo": "write-only: a write pulses the written one bits for one cycle; reads return 0",
    "w1c": "sticky: the hardware sets bits, writing 1 clears them",
}


class RegisterMapError(ValueError):
    """A register map that cannot be decoded unambiguously, or a bitstream that does not match the driver."""


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    description: str
    reset: int = 0

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    @property
    def bits(self) -> str:
        return f"[{self.msb}:{self.lsb}]" if self.width > 1 else f"[{self.lsb}]"


@dataclass(frozen=True)
class Register:
    """One 32-bit register. Read-only registers are live values from input ports unless ``constant``:
    then their value is the fields' resets, fixed when the bitstream is built."""

    name: str
    offset: int
    access: Access
    description: str
    fields: tuple[Field, ...]
    constant: bool = False

    @property
    def source(self) -> Source:
        if self.access != "ro":
            return "flop"
        return "constant" if self.constant else "port"

    @property
    def width(self) -> int:
        """Bits the hardware keeps: up to the highest field bit."""
        return max(f.msb for f in self.fields) + 1

    @property
    def reset(self) -> int:
        value = 0
        for f in self.fields:
            value |= f.reset << f.lsb
        return value

    @property
    def mask(self) -> int:
        value = 0
        for f in self.fields:
            value |= f.mask
        return value

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise RegisterMapError(f"register {self.name} has no field {name!r}; fields: {[f.name for f in self.fields]}")

    def check(self) -> None:
        where = f"register {self.name}"
        if not self.name.isidentifier() or self.name.upper() != self.name:
            raise RegisterMapError(f"{where}: name must be an upper-case identifier")
        if self.access not in ACCESS_MEANING:
            raise RegisterMapError(f"{where}: access must be one of {sorted(ACCESS_MEANING)}, got {self.access!r}")
        if self.offset % 4 or not 0 <= self.offset < 1 << ADDRESS_BITS:
            raise RegisterMapError(f"{where}: offset 0x{self.offset:x} must be word-aligned and below "
                                   f"0x{1 << ADDRESS_BITS:x}")
        if self.constant and self.access != "ro":
            raise RegisterMapError(f"{where}: only read-only registers can be constants, not {self.access}")
        if not self.fields:
            raise RegisterMapError(f"{where}: has no fields")
        used = 0
        names = set()
        for f in self.fields:
            if f.name in names:
                raise RegisterMapError(f"{where}: duplicate field name {f.name!r}")
            names.add(f.name)
            if f.width < 1 or f.lsb < 0 or f.msb >= DATA_BITS:
                raise RegisterMapError(f"{where}.{f.name}: bits {f.bits} fall outside 0..{DATA_BITS - 1}")
            if f.mask & used:
                raise RegisterMapError(f"{where}.{f.name}: bits {f.bits} overlap another field")
            used |= f.mask
            if not 0 <= f.reset < 1 << f.width:
                raise RegisterMapError(f"{where}.{f.name}: value {f.reset} does not fit in {f.width} bits")


@dataclass(frozen=True)
class RegisterMap:
    """An ordered, checked set of registers; built from a configuration by ``build_register_map``."""

    registers: tuple[Register, ...]
    config_hash: int

    def __post_init__(self) -> None:
        by_offset: dict[int, str] = {}
        names: set[str] = set()
        for reg in self.registers:
            reg.check()
            if reg.name in names:
                raise RegisterMapError(f"duplicate register name {reg.name!r}")
            names.add(reg.name)
            if reg.offset in by_offset:
                raise RegisterMapError(f"registers {by_offset[reg.offset]} and {reg.name} overlap "
                                       f"at offset 0x{reg.offset:03x}")
            by_offset[reg.offset] = reg.name

    def __getitem__(self, name: str) -> Register:
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise RegisterMapError(f"no register named {name!r}")

    def __iter__(self):
        return iter(self.registers)

    @property
    def offsets(self) -> dict[str, int]:
        """The driver's constants: register name -> byte offset."""
        return {reg.name: reg.offset for reg in self.registers}

    def check_identity(self, magic: int, version: int, config_hash: int) -> None:
        """Refuse a bitstream whose ID, VERSION or CONFIG_HASH words differ from this map's."""
        if magic != MAGIC:
            raise RegisterMapError(f"ID reads 0x{magic:08x}, not 0x{MAGIC:08x}: no eligo accelerator at this address")
        expected_version = self["VERSION"].reset
        if version != expected_version:
            raise RegisterMapError(f"wrong bitstream/driver pairing: the bitstream has register-map version word "
                                   f"0x{version:08x}, this driver expects 0x{expected_version:08x}")
        if config_hash != self.config_hash:
            raise RegisterMapError(f"wrong bitstream/driver pairing: the bitstream was built for configuration "
                                   f"hash 0x{config_hash:08x}, this driver's configuration hashes to "
                                   f"0x{self.config_hash:08x}")


def lr_decay_bits(config: AcceleratorConfig) -> int:
    """Width of CONTROL.lr_decay: enough for learning.max_lr_decay (at least one bit)."""
    return max(config.learning.max_lr_decay.bit_length(), 1)


def config_hash(config: AcceleratorConfig) -> int:
    """CRC-32 of the configuration's canonical JSON: the same on every host and in every bitstream."""
    return zlib.crc32(config.to_json().encode("utf-8"))


ERROR_CAUSES = (
    Field("bad_opcode", 0, 1, "a stream word with a reserved opcode was consumed and dropped"),
    Field("bad_address", 1, 1, "an EVENT word addressed an input the chip does not have"),
    Field("bad_sequence", 2, 1, "a stream word broke the sample grammar LABEL? (EVENT* TICK)+ END"),
    Field("event_dropped", 3, 1, "an event was lost inside the chip (a design error: must never happen)"),
    Field("bus_error", 4, 1, "a bus access answered SLVERR: unmapped address or write to a read-only register"),
    Field("bad_weight_address", 5, 1, "a weight access named a layer or slice the chip does not have; "
                                      "a write did nothing, a read returned 0"),
    Field("sample_aborted", 6, 1, "COMMAND.reset_sample came in the middle of a sample: the sample was dropped "
                                  "(no output packet) and so are its remaining words, up to its END "
                                  "(ABORTED_WORDS)"),
)
BUS_ERROR_FIELD = ("ERROR", "bus_error")
"""The one error cause the register file itself raises; the datapath raises the others."""

COUNTERS = (
    ("EVENTS_IN", "EVENT words accepted from the stream"),
    ("EVENTS_DROPPED", "events lost inside the chip; stays 0 under any back-pressure"),
    ("BAD_WORDS", "stream words rejected (bad opcode, address or sequence)"),
    ("CYCLES_INTEGRATE", "clock cycles spent integrating input events"),
    ("CYCLES_FIRE", "clock cycles spent in the fire/leak phase"),
    ("CYCLES_LEARN", "clock cycles spent applying weight updates"),
    ("UPDATES_APPLIED", "weight words written back by the learning phase"),
    ("SAMPLES", "END words processed (samples completed)"),
    ("ABORTED_WORDS", "stream words dropped after COMMAND.reset_sample aborted a sample: its remaining words, "
                      "up to and including its END"),
)


def _counter(name: str, offset: int, description: str) -> Register:
    return Register(name, offset, "ro", description + "; saturates at 2**32-1, cleared by COMMAND.clear_counters",
                    (Field("count", 0, 32, description),))


def _constant(name: str, offset: int, description: str, fields: tuple[Field, ...]) -> Register:
    return Register(name, offset, "ro", description, fields, constant=True)


def build_register_map(config: AcceleratorConfig) -> RegisterMap:
    """The register map of the accelerator ``config`` describes; hidden-layer sizes come last so the
    offsets of every other register are the same for every configuration."""
    net = config.network
    registers = [
        _constant("ID", 0x000, "identifies an eligo accelerator", (Field("magic", 0, 32, "ASCII 'ELIG'", MAGIC),)),
        _constant("VERSION", 0x004, "register-map version; a driver refuses any other",
                  (Field("regmap", 0, 16, "version of this register map", REGMAP_VERSION),)),
        _constant("CONFIG_HASH", 0x008, "CRC-32 of the configuration JSON the bitstream was built from",
                  (Field("crc32", 0, 32, "zlib.crc32 of AcceleratorConfig.to_json()", config_hash(config)),)),
        Register("SCRATCH", 0x00C, "rw", "free for the driver: proves the bus writes and reads all 32 bits",
                 (Field("value", 0, 32, "any value"),)),
        Register("CONTROL", 0x010, "rw", "run-time settings",
                 (Field("learn_enable", 0, 1, "apply weight updates on labelled samples (0: inference only)"),
                  Field("lr_decay", 1, lr_decay_bits(config),
                        f"learning-rate decay d: every update shifts d bits further right (rate / 2**d); values "
                        f"above {config.learning.max_lr_decay} (learning.max_lr_decay) act as "
                        f"{config.learning.max_lr_decay}"))),
        Register("COMMAND", 0x014, "wo", "one-cycle commands",
                 (Field("start", 0, 1, "start consuming the event stream"),
                  Field("reset_sample", 1, 1, "abort the sample in progress, if any: zero membranes, traces and "
                                              "scores, drop its remaining words up to its END, raise "
                                              "ERROR.sample_aborted"),
                  Field("clear_counters", 2, 1, "zero every counter register"),
                  Field("write_weight", 3, 1, "write WEIGHT_WDATA into the weight slice WEIGHT_ADDR names"))),
        Register("STATUS", 0x018, "ro", "live state of the datapath",
                 (Field("busy", 0, 1, "a sample is being processed"),
                  Field("error", 1, 1, "some ERROR cause is set"))),
        Register("ERROR", 0x01C, "w1c", "sticky error causes; write 1 to a bit to clear it", ERROR_CAUSES),
        *(_counter(name, 0x020 + 4 * i, description) for i, (name, description) in enumerate(COUNTERS)),
        Register("WEIGHT_ADDR", 0x060, "rw", "the weight slice WEIGHT_WDATA/WEIGHT_RDATA access",
                 (Field("index", 0, 24, "slice index in the layer: (row * groups + group) * slices per word "
                                        "+ slice"),
                  Field("layer", 24, 8, "weight layer (0 = first hidden layer, last = readout)"))),
        Register("WEIGHT_WDATA", 0x064, "rw", "weights COMMAND.write_weight stores: slice lanes packed from "
                 "bit 0 up, two's complement", (Field("weights", 0, 32, "packed weights"),)),
        Register("WEIGHT_RDATA", 0x068, "ro", "the weight slice WEIGHT_ADDR names, packed as WEIGHT_WDATA",
                 (Field("weights", 0, 32, "packed weights"),)),
        _constant("GEOMETRY", 0x080, "layer geometry of the bitstream",
                  (Field("lanes", 0, 16, "neurons updated in parallel", config.lanes),
                   Field("layers", 16, 8, "weight layers (hidden layers + readout)", len(net.layer_sizes) - 1))),
        _constant("INPUTS_CLASSES", 0x084, "input and output sizes",
                  (Field("n_inputs", 0, 16, "input addresses", net.n_inputs),
                   Field("n_classes", 16, 16, "readout classes", net.n_classes))),
        _constant("WIDTHS", 0x088, "word widths in bits",
                  (Field("weight", 0, 8, "weight", config.weight_bits),
                   Field("membrane", 8, 8, "membrane potential", config.neuron.membrane_bits),
                   Field("trace", 16, 8, "pre/post trace", config.traces.bits),
                   Field("signal", 24, 8, "learning signal", config.learning.signal_bits))),
        _constant("CLOCK_HZ", 0x08C, "clock frequency the bitstream was built for",
                  (Field("hz", 0, 32, "Hz", config.clock_hz),)),
        _constant("LEARNING", 0x090, "the learning rule and rate the bitstream was built for",
                  (Field("rule", 0, 4, "hidden signal: " + ", ".join(f"{code} = {name}" for code, name in
                                                                     enumerate(RULES)),
                         RULES.index(config.learning.rule)),
                   Field("lr_shift", 8, 8, "learning-rate shift at CONTROL.lr_decay = 0", config.learning.lr_shift),
                   Field("max_lr_decay", 16, 8, "largest CONTROL.lr_decay that takes effect",
                         config.learning.max_lr_decay))),
        *(_constant(f"HIDDEN{k}", 0x0C0 + 4 * k, f"neurons in hidden layer {k}",
                    (Field("neurons", 0, 32, "layer size", size),)) for k, size in enumerate(net.hidden)),
    ]
    return RegisterMap(tuple(registers), config_hash(config))


def render_markdown(regmap: RegisterMap) -> str:
    """``docs/registers.md``: a summary table, then one field table per register."""
    lines = [
        "# Registers",
        "",
        "Generated from `eligo.regmap` by `eligo registers` for the default `AcceleratorConfig`; do not edit.",
        "Constants (sizes, widths, CONFIG_HASH) differ per configuration; offsets of every register but",
        "HIDDEN*k* never do.",
        "",
        f"AXI4-Lite slave, {DATA_BITS}-bit data, {ADDRESS_BITS}-bit address; the two low address bits are "
        "ignored. An unmapped address, or a write to a read-only register, answers SLVERR, changes nothing "
        "and sets `ERROR.bus_error`.",
        "",
        "Access: " + "; ".join(f"`{a}` {meaning}" for a, meaning in ACCESS_MEANING.items()) + ".",
        "",
        "| offset | name | access | reset | description |",
        "|---|---|---|---|---|",
    ]
    for reg in regmap:
        reset = f"0x{reg.reset:08x}" if reg.source != "port" else "live"
        lines.append(f"| 0x{reg.offset:03x} | [{reg.name}](#{reg.name.lower()}) | {reg.access} | {reset} "
                     f"| {reg.description} |")
    for reg in regmap:
        lines += ["", f"## {reg.name}", "", f"Offset 0x{reg.offset:03x}, {ACCESS_MEANING[reg.access]}. "
                  f"{reg.description[0].upper()}{reg.description[1:]}.", "",
                  "| bits | field | reset | description |", "|---|---|---|---|"]
        for f in reg.fields:
            reset = f"0x{f.reset:x}" if reg.source != "port" else "live"
            lines.append(f"| {f.bits} | {f.name} | {reset} | {f.description} |")
    return "\n".join(lines) + "\n"

"""Register map: checked at build time, derived from the configuration, documented from one source."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from eligo.cli import main
from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.regmap import (MAGIC, REGMAP_VERSION, Field, Register, RegisterMap, RegisterMapError,
                          build_register_map, config_hash, render_markdown)

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs" / "registers.md"


def one_bit(name="flag", lsb=0, reset=0):
    return Field(name, lsb, 1, "a bit", reset)


def test_committed_docs_equal_rendering():
    assert DOCS.read_text() == render_markdown(build_register_map(AcceleratorConfig())), \
        "docs/registers.md is stale: run 'eligo registers'"


def test_cli_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "regs.md"
    assert main(["registers", "--check", "--output", str(out)]) == 1
    assert main(["registers", "--output", str(out)]) == 0
    assert main(["registers", "--check", "--output", str(out)]) == 0
    config = AcceleratorConfig(network=NetworkShape(n_inputs=34, hidden=(32, 16), n_classes=4), lanes=8,
                           learning=LearningConfig(rule="stllr_dfa"))
    config_file = tmp_path / "config.json"
    config_file.write_text(config.to_json())
    assert main(["registers", "--config", str(config_file), "--check", "--output", str(out)]) == 1
    assert main(["registers", "--config", str(config_file), "--output", str(out)]) == 0
    assert f"0x{config_hash(config):08x}" in out.read_text() and "HIDDEN1" in out.read_text()
    config_file.write_text('{"lanes": 3}')
    assert main(["registers", "--config", str(config_file), "--output", str(out)]) == 2
    assert "lanes must be a power of two" in capsys.readouterr().err


def test_constants_come_from_config():
    config = AcceleratorConfig(network=NetworkShape(n_inputs=34, hidden=(32, 16), n_classes=4), lanes=8,
                               learning=LearningConfig(rule="stllr_dfa"), weight_bits=6)
    regmap = build_register_map(config)
    assert regmap["ID"].reset == MAGIC and regmap["VERSION"].reset == REGMAP_VERSION
    assert regmap["CONFIG_HASH"].reset == config_hash(config) == regmap.config_hash
    assert regmap["GEOMETRY"].field("lanes").reset == 8 and regmap["GEOMETRY"].field("layers").reset == 3
    assert regmap["INPUTS_CLASSES"].reset == 34 | 4 << 16
    assert regmap["WIDTHS"].field("weight").reset == 6
    assert [regmap[f"HIDDEN{k}"].reset for k in range(2)] == [32, 16]
    assert all(reg.constant == (reg.source == "constant") for reg in regmap)


def test_offsets_do_not_depend_on_config():
    small = build_register_map(AcceleratorConfig(network=NetworkShape(n_inputs=8, hidden=(16,), n_classes=2)))
    default = build_register_map(AcceleratorConfig())
    assert small.offsets == default.offsets
    assert small.config_hash != default.config_hash


def test_hash_tracks_every_setting():
    base = AcceleratorConfig()
    assert config_hash(base) == config_hash(AcceleratorConfig.from_json(base.to_json()))
    assert config_hash(dataclasses.replace(base, clock_hz=base.clock_hz + 1)) != config_hash(base)


def test_banks_enter_the_hash_and_one_bank_keeps_the_json_it_had_before_banks():
    base = AcceleratorConfig()
    assert "banks" not in base.to_dict()
    banked = dataclasses.replace(base, banks=2)
    assert banked.to_dict()["banks"] == 2 and AcceleratorConfig.from_json(banked.to_json()) == banked
    assert config_hash(banked) != config_hash(base)
    # Written before banks existed: the same JSON, so the same hash in the bitstream and in the driver.
    for build in ("accelerator", "accelerator-deep"):
        written = (REPO_ROOT / "bitstreams" / "ulx3s-85f" / build / "config.json").read_text()
        assert AcceleratorConfig.from_json(written).to_json() == written.strip()


def test_identity_check_names_the_mismatch():
    regmap = build_register_map(AcceleratorConfig())
    regmap.check_identity(MAGIC, REGMAP_VERSION, regmap.config_hash)
    with pytest.raises(RegisterMapError, match="no eligo accelerator"):
        regmap.check_identity(0xDEADBEEF, REGMAP_VERSION, regmap.config_hash)
    with pytest.raises(RegisterMapError, match="wrong bitstream/driver pairing.*version"):
        regmap.check_identity(MAGIC, REGMAP_VERSION + 1, regmap.config_hash)
    other = build_register_map(AcceleratorConfig(clock_hz=100_000_000))
    with pytest.raises(RegisterMapError, match="wrong bitstream/driver pairing.*configuration hash"):
        regmap.check_identity(MAGIC, REGMAP_VERSION, other.config_hash)


@pytest.mark.parametrize("registers, message", [
    ((Register("A", 0x0, "rw", "a", (one_bit(),)), Register("B", 0x0, "rw", "b", (one_bit(),))),
     "registers A and B overlap at offset 0x000"),
    ((Register("A", 0x0, "rw", "a", (one_bit(),)), Register("A", 0x4, "rw", "b", (one_bit(),))),
     "duplicate register name 'A'"),
    ((Register("A", 0x2, "rw", "a", (one_bit(),)),), "must be word-aligned"),
    ((Register("A", 0x1000, "rw", "a", (one_bit(),)),), "must be word-aligned and below 0x1000"),
    ((Register("A", 0x0, "rw", "a", (Field("wide", 24, 9, "x"),)),), r"A.wide: bits \[32:24\] fall outside"),
    ((Register("A", 0x0, "rw", "a", (Field("x", 0, 4, "x"), Field("y", 3, 2, "y"))),), "A.y: bits .* overlap"),
    ((Register("A", 0x0, "rw", "a", (one_bit("x"), one_bit("x", 1))),), "duplicate field name 'x'"),
    ((Register("A", 0x0, "rw", "a", (Field("x", 0, 3, "x", reset=8),)),), "value 8 does not fit in 3 bits"),
    ((Register("A", 0x0, "rx", "a", (one_bit(),)),), "access must be one of"),
    ((Register("A", 0x0, "rw", "a", (one_bit(),), constant=True),), "only read-only registers can be constants"),
    ((Register("A", 0x0, "rw", "a", ()),), "has no fields"),
    ((Register("a", 0x0, "rw", "a", (one_bit(),)),), "upper-case identifier"),
])
def test_bad_maps_are_rejected(registers, message):
    with pytest.raises(RegisterMapError, match=message):
        RegisterMap(registers, 0)


def test_config_value_too_wide_for_its_field_is_rejected():
    with pytest.raises(RegisterMapError, match="INPUTS_CLASSES.n_inputs: value 70000 does not fit in 16 bits"):
        build_register_map(AcceleratorConfig(network=NetworkShape(n_inputs=70000, hidden=(16,), n_classes=2)))


def test_unknown_names_are_clear_errors():
    regmap = build_register_map(AcceleratorConfig())
    with pytest.raises(RegisterMapError, match="no register named 'NOPE'"):
        regmap["NOPE"]
    with pytest.raises(RegisterMapError, match="has no field 'nope'"):
        regmap["STATUS"].field("nope")

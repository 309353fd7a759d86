"""Board registry, PLL settings, report parsing, golden vectors and ``eligo build`` usage errors (fast)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amaranth.hdl import Shape
from amaranth.lib import wiring

from eligo.cli import main
from eligo.commands import build as build_command
from eligo.config import AcceleratorConfig, NetworkShape
from eligo_hw.board_build import copy_report, write_golden
from eligo_hw.boards import BOARDS, BoardError, ecp5_pll, get_board, ice40_pll
from eligo_hw.designs import DESIGNS, get_design, stimulus_bits, update_core
from eligo_hw.export import write_verilog
from eligo_hw.synth import count_cells, read_nextpnr_report, run_yosys
from eligo_hw.update import factor_bits

SMALL = AcceleratorConfig(network=NetworkShape(n_inputs=16, hidden=(16,), n_classes=4), lanes=4)


def test_board_registry_names_families_and_cli_choices():
    assert set(BOARDS) == set(build_command.BOARD_NAMES) == {"ulx3s-85f", "icebreaker", "pynq-z2"}
    assert set(DESIGNS) == set(build_command.DESIGN_NAMES)
    assert {name: board.family for name, board in BOARDS.items()} == {
        "ulx3s-85f": "ecp5", "icebreaker": "ice40", "pynq-z2": "xc7"}
    assert get_board("pynq-z2").flow == "yosys-estimate"
    assert get_board("ulx3s-85f").clock_mhz >= 50
    # The UP5K default must stay within its eight DSPs (one per lane multiplier).
    assert get_board("icebreaker").default_config().lanes <= 8
    with pytest.raises(BoardError, match="unknown board 'de10'.*ulx3s-85f"):
        get_board("de10")
    with pytest.raises(ValueError, match="unknown design 'cpu'.*update"):
        get_design("cpu")


def test_ecp5_pll_hits_round_targets_exactly():
    for target in (50e6, 75e6, 100e6):
        setting = ecp5_pll(25e6, target)
        p = setting.params
        assert setting.out_hz == target
        assert 25e6 * p["CLKFB_DIV"] / p["CLKI_DIV"] == target
        assert 400e6 <= target * p["CLKOP_DIV"] <= 800e6


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=20e6, max_value=200e6))
def test_ice40_pll_respects_ranges_and_is_near(target):
    setting = ice40_pll(12e6, target)
    p = setting.params
    pfd = 12e6 / (p["DIVR"] + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= pfd * (p["DIVF"] + 1) <= 1066e6
    assert setting.out_hz == pytest.approx(pfd * (p["DIVF"] + 1) / 2 ** p["DIVQ"])
    assert abs(setting.out_hz - target) <= 0.05 * target
    assert 1 <= p["FILTER_RANGE"] <= 6


def test_unreachable_pll_is_a_clear_error():
    with pytest.raises(BoardError, match="no ECP5 PLL setting"):
        ecp5_pll(5e6, 100e6)


def write_nextpnr_fixture(path, achieved, constraint):
    path.write_text(json.dumps({
        "fmax": {"$glbnet$clk": {"achieved": achieved, "constraint": constraint}},
        "utilization": {"TRELLIS_COMB": {"used": 3645, "available": 83640},
                        "TRELLIS_FF": {"used": 1746, "available": 83640},
                        "DP16KD": {"used": 31, "available": 208}, "MULT18X18D": {"used": 16, "available": 156},
                        "TRELLIS_IO": {"used": 2, "available": 365}, "EHXPLLL": {"used": 1, "available": 4},
                        "DCCA": {"used": 1, "available": 56}},
    }))


def test_nextpnr_report_parsing_and_timing_verdict(tmp_path):
    report_path = tmp_path / "update.report.json"
    write_nextpnr_fixture(report_path, 55.93, 100.0)
    report = read_nextpnr_report(report_path, "ULX3S", None)
    assert report.fmax_mhz == {"$glbnet$clk": 55.93} and report.constraint_mhz == {"$glbnet$clk": 100.0}
    assert not report.timing_met and report.bitstream is None
    resources = report.resources("ecp5")
    assert resources["LUT"] == {"used": 3645, "available": 83640}
    assert resources["BRAM"] == {"used": 31, "available": 208} and resources["DSP"]["used"] == 16
    write_nextpnr_fixture(report_path, 55.93, 50.0)
    assert read_nextpnr_report(report_path, "ULX3S", None).timing_met


def test_yosys_stat_cells_sum_into_classes(tmp_path):
    stat = tmp_path / "core.stat.json"
    # tee -o keeps Yosys' banner line before the JSON object.
    stat.write_text("\n" + json.dumps({"design": {"num_cells_by_type": {
        "LUT2": 10, "LUT6": 5, "FDRE": 7, "FDSE": 1, "RAMB36E1": 3, "RAMB18E1": 1, "DSP48E1": 4,
        "CARRY4": 9, "RAM64M": 2, "MUXF7": 4}}}))
    assert count_cells(stat, "xc7") == {"LUT": 15, "FF": 8, "BRAM": 4, "DSP": 4, "CARRY": 9, "LUTRAM": 2, "SRL": 0}


def test_reports_lose_local_folders(tmp_path):
    source = tmp_path / "build" / "top.tim"
    source.parent.mkdir()
    source.write_text(f"Info: Defined in: {source.parent.resolve()}/top.il:3\n")
    copy_report(source, tmp_path)
    assert (tmp_path / "top.tim").read_text() == "Info: Defined in: top.il:3\n"


def test_update_golden_vectors_are_reproducible_and_exercise_the_update(tmp_path):
    design = get_design("update")
    inputs, expected = design.golden(SMALL, 3)
    assert expected["weight_words"].shape == inputs["weight_words"].shape == (16, 4, 4)
    assert int(expected["visits"]) > 0
    assert not np.array_equal(expected["weight_words"].numpy(), inputs["weight_words"].numpy())
    write_golden(tmp_path, inputs, expected, seed=3)
    again = design.golden(SMALL, 3)[1]
    with np.load(tmp_path / "expected.npz") as stored:
        assert np.array_equal(stored["weight_words"], again["weight_words"].numpy())
    with np.load(tmp_path / "input.npz") as stored:
        assert int(stored["seed"]) == 3 and set(stored) >= {"pre_trace", "pre_spike", "causal", "noncausal"}


def test_tracer_golden_spikes_follow_the_membrane():
    inputs, expected = get_design("tracer").golden(AcceleratorConfig(), 1)
    assert len(inputs["current"]) == len(expected["membrane"]) == len(expected["spike"]) == 64
    assert set(expected["spike"].tolist()) <= {0, 1}


def test_harness_stimulus_covers_every_input_bit():
    core = update_core(SMALL)
    inputs = [member for _, member, _ in core.signature.flatten(core) if member.flow == wiring.In]
    assert stimulus_bits(core) == sum(Shape.cast(member.shape).width for member in inputs)
    # At least the two factor vectors of every lane reach the harness.
    assert stimulus_bits(core) > 2 * SMALL.lanes * factor_bits(SMALL)


@pytest.mark.parametrize("argv, message", [
    (["--lanes", "3"], "lanes must be a power of two"),
    (["--lanes", "8", "--classes", "10"], "multiple of lanes=8"),
    (["--config", "missing.json"], "missing.json"),
])
def test_bad_configurations_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--board", "ulx3s-85f", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bitstreams").exists()


@pytest.mark.parametrize("argv", [
    ["--board", "de10"], ["--board", "icebreaker", "--clock-mhz", "0"], ["--board", "icebreaker", "--lanes", "x"],
    ["--board", "icebreaker", "--design", "cpu"], [],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["build", *argv])
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


VIVADO = Path(__file__).resolve().parents[1] / "bitstreams" / "pynq-z2" / "vivado"


def test_vivado_recipe_is_complete_tcl_and_its_default_core_exists():
    script = VIVADO / "build.tcl"
    check = subprocess.run(["tclsh"], input=f"puts [info complete [read [open {{{script}}}]]]\n",
                           capture_output=True, text=True, check=True)
    assert check.stdout.strip() == "1"
    text = script.read_text()
    for command in ("create_project", "processing_system7", "axi_dma", "create_bd_cell -type module",
                    "make_wrapper", "write_bitstream", "hw_handoff"):
        assert command in text
    assert "xc7z020clg400-1" in text
    default_core = re.search(r'"\$script_dir/(\.\./[^"]+\.v)"', text).group(1)
    assert (VIVADO / default_core).resolve().is_file()


def test_core_verilog_parses_in_yosys(tmp_path):
    verilog = write_verilog(update_core(SMALL), "eligo_update", tmp_path / "eligo_update.v")
    run_yosys("read_verilog eligo_update.v; hierarchy -check -top eligo_update", tmp_path, "parse.log")
    assert "eligo_update" in (tmp_path / "parse.log").read_text()
    assert verilog.stat().st_size > 1000


def test_flows_run_yosys_through_the_deeper_stack_launcher():
    """``eligo-yosys`` (the Yosys the flows run) is installed, runs Yosys, and is what Amaranth is told to call."""
    from eligo.toolchain import configure_environment

    env = configure_environment({"PATH": ""})
    assert env["YOSYS"] == "eligo-yosys"
    out = subprocess.run([env["YOSYS"], "-V"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and "Yosys" in out.stdout, out.stderr


def test_engine_golden_carries_the_word_stream_of_its_sample():
    cfg = AcceleratorConfig(network=NetworkShape(n_inputs=16, hidden=(16,), n_classes=4), lanes=4)
    inputs, expected = get_design("engine").golden(cfg, 1)
    steps = inputs["spikes"].shape[0]
    # LABEL, one EVENT per spike, one TICK per step, END.
    assert len(inputs["words"]) == 1 + int(inputs["spikes"].sum()) + steps + 1
    assert expected["scores"].shape == (4,)
    assert expected["weight_words_0"].shape == inputs["weight_words_0"].shape == (16, 4, 4)

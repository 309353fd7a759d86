"""Real place and route through ``eligo build`` on ECP5 and iCE40 (slow; CI runs them in their own step).

Each fails when the design misses the clock it was built for or no longer fits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eligo.cli import main
from eligo.config import AcceleratorConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


def build(tmp_path, *argv):
    out = tmp_path / "out"
    status = main(["build", *argv, "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    print(json.dumps(summary, indent=2))
    assert summary["fits"], f"does not fit: {summary['resources']}"
    # nextpnr checked the clock the PLL makes, not the crystal's (it rounds the period: 16.5 MHz shows as 16.52).
    assert all(c == pytest.approx(summary["clock_mhz"], rel=2e-3) for c in summary["constraint_mhz"].values())
    assert summary["timing_met"], f"timing not met: {summary['fmax_mhz']} vs {summary['constraint_mhz']}"
    assert status == 0
    return out, summary


@pytest.mark.slow
def test_update_datapath_ecp5_p8_meets_50_mhz(tmp_path):
    out, summary = build(tmp_path, "--board", "ulx3s-85f", "--lanes", "8", "--inputs", "64", "--hidden", "32",
                         "--classes", "8", "--clock-mhz", "50")
    assert summary["clock_mhz"] == 50 and summary["lanes"] == 8
    resources = summary["resources"]
    # Weights live in block RAM and every lane's multiplier in a DSP: none was optimised away.
    assert resources["BRAM"]["used"] >= 1 and resources["DSP"]["used"] >= 8
    assert resources["FF"]["used"] >= summary["stimulus_flip_flops"]
    assert summary["peak_sop_per_s_at_clock"] == 8 * 50e6
    assert (out / "update.bit").stat().st_size > 100_000
    cfg = AcceleratorConfig.from_json((out / "config.json").read_text())
    assert cfg.lanes == 8 and cfg.clock_hz == 50_000_000
    with np.load(out / "golden" / "expected.npz") as expected:
        assert expected["weight_words"].shape == (64, 32 // 8, 8)
    for report in ("update.tim", "update.rpt", "update.report.json"):
        assert (out / report).stat().st_size > 0


@pytest.mark.slow
def test_update_datapath_ice40_p8_fits_and_meets_24_mhz(tmp_path):
    out, summary = build(tmp_path, "--board", "icebreaker", "--inputs", "128", "--hidden", "16")
    assert summary["lanes"] == 8 and summary["resources"]["DSP"]["used"] == 8
    assert summary["resources"]["BRAM"]["used"] >= 1
    assert summary["clock_mhz"] == pytest.approx(24.0)
    assert (out / "update.bin").stat().st_size > 50_000


@pytest.mark.slow
def test_tracer_neuron_ecp5(tmp_path):
    out, summary = build(tmp_path, "--board", "ulx3s-85f", "--design", "tracer", "--clock-mhz", "75")
    fmt = AcceleratorConfig().neuron
    # Membrane + spike + the harness' LFSR and stimulus register survive synthesis.
    assert summary["resources"]["FF"]["used"] >= fmt.membrane_bits + 1 + 32
    assert (out / "tracer.bit").stat().st_size > 100_000


@pytest.mark.slow
def test_full_accelerator_with_uart_ecp5_p8_fits_and_meets_its_clock(tmp_path):
    # A smaller network than the board default keeps place and route short; P = 8 as issue #9 asks.
    out, summary = build(tmp_path, "--board", "ulx3s-85f", "--design", "accelerator", "--lanes", "8",
                         "--inputs", "128", "--hidden", "32", "--classes", "8")
    assert summary["lanes"] == 8 and summary["clock_mhz"] == 50
    # Pins: the crystal and the UART (rx, tx; the ULX3S resource adds its unused rts and dtr); no LFSR harness.
    assert 3 <= summary["resources"]["IO"]["used"] <= 5 and summary["stimulus_flip_flops"] == 0
    assert summary["resources"]["DSP"]["used"] >= 8 and summary["resources"]["BRAM"]["used"] >= 1
    assert summary["peak_sop_per_s_at_clock"] == pytest.approx(8 * summary["clock_mhz"] * 1e6)
    assert (out / "accelerator.bit").stat().st_size > 100_000


def rebuild_committed(tmp_path, folder: str):
    """A committed ULX3S accelerator build, rebuilt from its own config at its own clock with its own placement
    seed (``build`` checks that it fits and meets it): the output folder, its summary, the config and the
    committed clock."""
    committed = REPO_ROOT / "bitstreams" / "ulx3s-85f" / folder
    committed_summary = json.loads((committed / "summary.json").read_text())
    clock_mhz, seed = committed_summary["clock_mhz"], committed_summary.get("placement_seed")
    out, summary = build(tmp_path, "--board", "ulx3s-85f", "--design", "accelerator",
                         "--config", str(committed / "config.json"), "--clock-mhz", f"{clock_mhz:g}",
                         *(("--placement-seed", str(seed)) if seed is not None else ()))
    assert summary["placement_seed"] == seed
    return out, summary, AcceleratorConfig.from_json((committed / "config.json").read_text()), clock_mhz


@pytest.mark.slow
def test_deep_accelerator_ecp5_fits_and_meets_its_clock(tmp_path):
    # The committed two-hidden-layer build (TESS, each layer learning from its own signal).
    out, summary, cfg, clock_mhz = rebuild_committed(tmp_path, "accelerator-deep")
    assert len(cfg.network.hidden) >= 2 and summary["layer_sizes"] == list(cfg.network.layer_sizes)
    assert clock_mhz >= 50 and summary["resources"]["BRAM"]["used"] >= len(cfg.network.hidden)
    assert (out / "accelerator.bit").stat().st_size > 100_000


@pytest.mark.slow
def test_default_accelerator_ecp5_fits_and_meets_its_clock(tmp_path):
    # The committed build of the board's default configuration (512-128-10, P = 16, S-TLLR): it fails once the
    # design slows below the committed clock.
    out, summary, cfg, clock_mhz = rebuild_committed(tmp_path, "accelerator-default")
    assert summary["layer_sizes"] == [512, 128, 10] and cfg.lanes == 16 and cfg.learning.rule == "stllr"
    assert summary["clock_mhz"] == pytest.approx(clock_mhz) and clock_mhz >= 75
    assert summary["peak_sop_per_s_at_clock"] == pytest.approx(16 * summary["clock_mhz"] * 1e6)
    assert (out / "accelerator.bit").stat().st_size > 100_000


@pytest.mark.slow
def test_full_accelerator_ice40_fits_with_weights_in_spram(tmp_path):
    # The committed iCEBreaker build, rebuilt from its own config and clock: it must still fit and meet timing.
    committed = REPO_ROOT / "bitstreams" / "icebreaker" / "accelerator"
    cfg = AcceleratorConfig.from_json((committed / "config.json").read_text())
    committed_summary = json.loads((committed / "summary.json").read_text())
    clock_mhz = committed_summary["clock_mhz"]
    sizes = cfg.network.layer_sizes
    out, summary = build(tmp_path, "--board", "icebreaker", "--design", "accelerator", "--lanes", str(cfg.lanes),
                         "--inputs", str(sizes[0]), "--hidden", str(sizes[1]), "--classes", str(sizes[2]),
                         "--clock-mhz", f"{clock_mhz:g}")
    assert summary["layer_sizes"] == list(sizes) and summary["clock_mhz"] == pytest.approx(clock_mhz)
    # The same netlist places with the same seed: the build is reproducible, tries and all.
    assert summary["placement_seed"] == committed_summary["placement_seed"]
    # Layer 0's weights are in SPRAM, single-ported; pins: the crystal and the UART; no LFSR harness.
    assert summary["core_options"]["single_port_layers"] == [0] and summary["resources"]["SPRAM"]["used"] >= 1
    assert summary["resources"]["IO"]["used"] <= 4 and summary["stimulus_flip_flops"] == 0
    assert summary["peak_sop_per_s_at_clock"] == pytest.approx(cfg.lanes * clock_mhz * 1e6)
    assert (out / "accelerator.bin").stat().st_size > 50_000

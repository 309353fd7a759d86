"""Weight histograms before/after on-chip learning (from saved chip directories and NIR graphs); layer rasters."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.data import load_dataset
from eligo.fixed.model import FixedModel, initial_weights
from eligo.fixed.train import train_fixed
from eligo.nir_io import export_model, write_chip
from eligo.plots import network_spikes, plot_spike_rasters, plot_weight_histograms, saved_weights
from eligo.snn import build_network


def test_histograms_of_a_training_run(tmp_path):
    cfg = AcceleratorConfig(network=NetworkShape(32, (16,), 4), lanes=4, learning=LearningConfig(lr_shift=7))
    model = FixedModel(cfg, initial_weights(cfg, seed=1))
    write_chip(model, tmp_path / "before")
    train = load_dataset("patterns", "train", seed=0, n_samples=24, n_inputs=32)
    train_fixed(model, train, train, epochs=1, seed=1)
    write_chip(model, tmp_path / "after")
    nir.write(tmp_path / "after.nir", export_model(model))

    before, unit = saved_weights(tmp_path / "before")
    after, _ = saved_weights(tmp_path / "after")
    assert unit == "weight (LSB)" and [w.shape for w in after] == [(32, 16), (16, 4)]
    assert np.array_equal(after[1], model.weights(1).numpy()) and not np.array_equal(before[0], after[0])
    float_after, float_unit = saved_weights(tmp_path / "after.nir")
    assert "threshold" in float_unit
    assert all(np.array_equal(f * cfg.neuron.threshold, w) for f, w in zip(float_after, after))

    png = plot_weight_histograms(before, after, tmp_path / "plots" / "weights.png", title="on-chip S-TLLR", unit=unit)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert plot_weight_histograms(before, float_after, tmp_path / "mixed.png", title="t").is_file()


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="neither a chip directory"):
        saved_weights(tmp_path / "weights.csv")
    with pytest.raises(ValueError, match="2 layers, after has 1"):
        plot_weight_histograms([np.zeros((2, 2))] * 2, [np.zeros((2, 2))], tmp_path / "x.png", title="t")
    with pytest.raises(ValueError, match="layer 0: shape"):
        plot_weight_histograms([np.zeros((2, 2))], [np.zeros((2, 3))], tmp_path / "x.png", title="t")


def test_rasters_of_every_layer(tmp_path):
    sample = load_dataset("patterns", "test", seed=0, n_samples=1, n_inputs=32).spikes[0]
    network = build_network(32, (16, 8), 4, gain=3.0, seed=0)
    rasters = network_spikes(network, sample)
    assert list(rasters) == ["input", "layer 0", "layer 1"]
    assert [r.shape for r in rasters.values()] == [(10, 32), (10, 16), (10, 8)]
    assert np.array_equal(rasters["input"], sample.numpy()) and rasters["layer 0"].sum() > 0
    assert plot_spike_rasters(rasters, tmp_path / "raster.png", title="t").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="one T"):
        plot_spike_rasters({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}, tmp_path / "x.png", title="t")


def test_chip_rasters_match_the_chips_spike_counts(tmp_path):
    from eligo.driver import Accelerator
    from eligo.driver.model import ModelTransport
    from eligo.plots import chip_spikes

    cfg = AcceleratorConfig(network=NetworkShape(32, (16, 8), 4), lanes=4, learning=LearningConfig(rule="stllr_dfa"))
    weights = [w.numpy() for w in initial_weights(cfg, seed=2, gain=3.0)]
    sample = load_dataset("patterns", "test", seed=0, n_samples=1, n_inputs=32).spikes[0].numpy()
    with Accelerator(ModelTransport(cfg), cfg) as chip:
        chip.load_weights(weights)
        counts = chip.infer(sample[None])[0].spike_counts
    rasters = chip_spikes(cfg, weights, sample)
    assert list(rasters) == ["input", "layer 0", "layer 1"] and np.array_equal(rasters["input"], sample)
    assert [int(rasters[f"layer {i}"].sum()) for i in range(2)] == list(counts) and counts[0] > 0


def test_accuracy_and_board_plots_name_bad_input(tmp_path):
    from eligo.plots import plot_accuracy_curve, plot_board_builds

    png = plot_accuracy_curve([0, 10], [0.1, 0.5], tmp_path / "curve.png", title="t", chance=0.25)
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="as many sample counts as accuracies"):
        plot_accuracy_curve([0, 10], [0.1], tmp_path / "x.png", title="t", chance=0.25)
    with pytest.raises(ValueError, match="no placed-and-routed build"):
        plot_board_builds([{"board": "pynq-z2", "resources": None, "fmax_mhz": None}], tmp_path / "x.png")

"""NIR interchange: a network's inference graph out to NIR, and a NIR graph in to initialise a network.

The graph is a chain ``input -> fc0 -> lif0 -> ... -> fc_out -> readout -> output``:
``nir.Linear`` weights ``[n_out, n_in]``, hidden neurons ``nir.LIF`` (``nir.IF`` when β = 1), the
readout ``nir.LI`` (``nir.I`` when β = 1). NIR neurons are ODEs; one time step of ``dt`` seconds is
their forward-Euler step, which is exactly our discrete neuron when

    β = 1 − dt/τ,   r = τ/dt   (so the input enters with gain r·dt/τ = 1),   v_leak = 0.

On import a gain r·dt/τ ≠ 1 is folded into the weights feeding the neuron. NIR resets to ``v_reset``
(we export 0: reset to zero); a subtracting reset has no NIR field, so it travels as the neuron's
metadata ``reset`` and an importer that ignores metadata sees a reset to zero. The graph's metadata
carries ``dt``, the learning rule's parameters (``learning.*``) and, for the chip, its whole
``AcceleratorConfig`` as JSON (``eligo.config``), which makes a chip round trip exact.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from eligo.config import AcceleratorConfig, ConfigError, NetworkShape

DT = 1e-4
"""Seconds per time step that exported time constants assume (the step snnTorch's NIR import assumes)."""

CONFIG_KEY = "eligo.config"
LEARNING_PREFIX = "learning."


class NirError(ValueError):
    """A NIR graph that cannot become an eligo network."""


@dataclass(frozen=True)
class Layer:
    """One weight matrix and the neurons it feeds, in the float meaning: ``u = β·u + W x``."""

    weight: np.ndarray  # [n_out, n_in]
    beta: float
    threshold: float | None  # None for the non-spiking readout
    reset: str = "zero"


@dataclass(frozen=True)
class QuantizationReport:
    """How far the integer weights are from the float ones, per layer, in units of the float threshold."""

    max_abs_error: tuple[float, ...]
    rms_error: tuple[float, ...]
    saturated: tuple[int, ...]

    def __str__(self) -> str:
        rows = [f"layer {i}: max |error| {m:.4g}, rms {r:.4g}, saturated {s}"
                for i, (m, r, s) in enumerate(zip(self.max_abs_error, self.rms_error, self.saturated))]
        return "\n".join(rows)


# ------------------------------------------------------------------------------------------ chip files


def write_chip(model, directory: str | Path) -> None:
    """Save the chip's state a host loads: ``config.json`` and ``weights.npz`` (``layer0``, ``layer1``, …:
    integer ``[n_in, n_out]``, the readout last)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(model.cfg.to_json())
    layers = len(model.cfg.network.layer_sizes) - 1
    np.savez(directory / "weights.npz", **{f"layer{i}": model.weights(i).numpy() for i in range(layers)})


def read_chip(directory: str | Path):
    """The ``FixedModel`` that ``write_chip`` saved."""
    from eligo.fixed.model import FixedModel

    directory = Path(directory)
    cfg = AcceleratorConfig.from_json((directory / "config.json").read_text())
    with np.load(directory / "weights.npz") as stored:
        missing = [f"layer{i}" for i in range(len(cfg.network.layer_sizes) - 1) if f"layer{i}" not in stored]
        if missing:
            raise ValueError(f"{directory / 'weights.npz'} lacks {missing} for layers {cfg.network.layer_sizes}")
        weights = [torch.from_numpy(stored[f"layer{i}"]) for i in range(len(cfg.network.layer_sizes) - 1)]
    return FixedModel(cfg, weights)


# ---------------------------------------------------------------------------------------------- export


def _neuron_node(n: int, beta: float, threshold: float | None, reset: str, dt: float):
    import nir

    ones = np.ones(n)
    if beta >= 1.0:
        if threshold is None:
            return nir.I(r=ones / dt)
        return nir.IF(r=ones / dt, v_threshold=ones * threshold, v_reset=np.zeros(n), metadata={"reset": reset})
    tau = dt / (1.0 - beta)
    if threshold is None:
        return nir.LI(tau=ones * tau, r=ones * (tau / dt), v_leak=np.zeros(n))
    return nir.LIF(tau=ones * tau, r=ones * (tau / dt), v_leak=np.zeros(n), v_threshold=ones * threshold,
                   v_reset=np.zeros(n), metadata={"reset": reset})


def layers_to_nir(layers: list[Layer], metadata: Mapping[str, Any] | None = None, dt: float = DT):
    """The NIR chain of ``layers`` (hidden layers, then the readout with ``threshold=None``)."""
    import nir

    nodes = {"input": nir.Input(input_type={"input": np.array([layers[0].weight.shape[1]])})}
    edges, previous = [], "input"
    for index, layer in enumerate(layers):
        hidden = layer.threshold is not None
        fc, neuron = (f"fc{index}", f"lif{index}") if hidden else ("fc_out", "readout")
        nodes[fc] = nir.Linear(weight=np.asarray(layer.weight, dtype=np.float64))
        nodes[neuron] = _neuron_node(layer.weight.shape[0], layer.beta, layer.threshold, layer.reset, dt)
        edges += [(previous, fc), (fc, neuron)]
        previous = neuron
    nodes["output"] = nir.Output(output_type={"output": np.array([layers[-1].weight.shape[0]])})
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt, **(metadata or {})})


def learning_metadata(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Learning-rule parameters as flat graph metadata (NIR files hold numbers and strings)."""
    bad = {k: v for k, v in parameters.items() if not isinstance(v, (bool, int, float, str))}
    if bad:
        raise NirError(f"learning parameters must be numbers or strings to be stored in NIR, got {bad}")
    return {LEARNING_PREFIX + k: v for k, v in parameters.items()}


def export_network(network, learning: Mapping[str, Any] | None = None, dt: float = DT):
    """The float reference network (``eligo.snn.SNN``, fully connected, not recurrent) as a NIR graph."""
    from eligo.snn import LIFLinear

    layers = []
    for index, layer in enumerate(network.layers):
        if not isinstance(layer, LIFLinear):
            raise NirError(f"layer {index} is a {type(layer).__name__}; NIR export takes fully connected layers only")
        if layer.recurrent is not None:
            raise NirError(f"layer {index} is recurrent; NIR export takes feed-forward layers only")
        p = layer.params
        layers.append(Layer(layer.weight.detach().double().numpy(), p.beta, p.threshold, p.reset))
    readout = network.readout
    layers.append(Layer(readout.weight.detach().double().numpy(), readout.beta, None))
    return layers_to_nir(layers, learning_metadata(learning or {}), dt)


def export_model(model, dt: float = DT):
    """The chip's network (``eligo.fixed.model.FixedModel``) in its float meaning: weight w is w/θ.

    The integer leak ``v − (v >> k)`` is β = 1 − 2^−k up to its floor; the exact integer behaviour is
    what ``eligo.config`` in the metadata describes.
    """
    cfg: AcceleratorConfig = model.cfg
    theta = cfg.neuron.threshold
    layers = [Layer(model.weights(i).T.double().numpy() / theta, cfg.neuron.beta, 1.0, cfg.neuron.reset)
              for i in range(len(cfg.network.hidden))]
    layers.append(Layer(model.weights(len(cfg.network.hidden)).T.double().numpy() / theta,
                        cfg.readout_neuron.beta, None))
    return layers_to_nir(layers, {**learning_metadata(_learning_parameters(cfg)), CONFIG_KEY: cfg.to_json()}, dt)


def _learning_parameters(cfg: AcceleratorConfig) -> dict[str, Any]:
    """The chip's scalar learning constants, and the float rate they stand for."""
    scalars = {k: v for k, v in asdict(cfg.learning).items() if isinstance(v, (bool, int, float, str))}
    return {**scalars, "lr_shift_hidden": cfg.lr_shift_hidden, "float_learning_rate": cfg.float_learning_rate}


# ---------------------------------------------------------------------------------------------- import


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _uniform(values: np.ndarray, what: str, name: str) -> float:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or not np.allclose(values, values[0], rtol=1e-6, atol=0.0):
        raise NirError(f"{name}: {what} differs between neurons; eligo neurons of a layer share one {what}")
    return float(values[0])


def _neuron(node, name: str, dt: float) -> tuple[float, float, float | None, str]:
    """(β, input gain, threshold or None, reset) of a NIR neuron node at step ``dt``."""
    import nir

    if isinstance(node, (nir.LIF, nir.LI)):
        if not np.allclose(node.v_leak, 0.0):
            raise NirError(f"{name}: v_leak must be 0 (eligo neurons leak towards 0)")
        tau = _uniform(node.tau, "tau", name)
        if tau < dt:
            raise NirError(f"{name}: tau = {tau:g} s is shorter than the time step dt = {dt:g} s (β would be < 0)")
        beta, gain = 1.0 - dt / tau, _uniform(node.r, "r", name) * dt / tau
    elif isinstance(node, (nir.IF, nir.I)):
        beta, gain = 1.0, _uniform(node.r, "r", name) * dt
    else:
        raise NirError(f"{name}: a {type(node).__name__} node; eligo takes LIF/IF neurons and an LI/I readout")
    if isinstance(node, (nir.LI, nir.I)):
        return beta, gain, None, "zero"
    if not np.allclose(node.v_reset, 0.0):
        raise NirError(f"{name}: v_reset must be 0 (eligo resets to zero or by subtraction)")
    reset = _text(node.metadata.get("reset", "zero"))
    if reset not in ("zero", "subtract"):
        raise NirError(f"{name}: reset metadata must be 'zero' or 'subtract', got {reset!r}")
    return beta, gain, _uniform(node.v_threshold, "v_threshold", name), reset


def _weight(node, name: str) -> np.ndarray:
    import nir

    if isinstance(node, nir.Affine):
        if not np.allclose(node.bias, 0.0):
            raise NirError(f"{name}: an Affine with a non-zero bias; eligo synapses have no bias")
    elif not isinstance(node, nir.Linear):
        raise NirError(f"{name}: expected a Linear or Affine node before a neuron, got {type(node).__name__}")
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 2:
        raise NirError(f"{name}: weight must be a matrix [n_out, n_in], got shape {weight.shape}")
    return weight


def graph_layers(graph, dt: float | None = None) -> list[Layer]:
    """The chain of (weights, neurons) a graph describes, checked; the last layer is the readout.

    ``dt`` defaults to the graph's ``dt`` metadata, else ``DT``.
    """
    import nir

    dt = float(graph.metadata.get("dt", DT)) if dt is None else dt
    following: dict[str, list[str]] = {}
    for source, target in graph.edges:
        following.setdefault(source, []).append(target)
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise NirError(f"the graph must have exactly one Input node, found {len(inputs)}")
    chain, name, seen = [], inputs[0], set()
    while True:
        targets = following.get(name, [])
        if len(targets) != 1:
            raise NirError(f"node {name!r} feeds {len(targets)} nodes; eligo takes a plain chain")
        name = targets[0]
        if name in seen:
            raise NirError(f"node {name!r} closes a loop; recurrent graphs are not supported")
        seen.add(name)
        if name not in graph.nodes:
            raise NirError(f"an edge points at {name!r}, which is not a node of the graph")
        if isinstance(graph.nodes[name], nir.Output):
            break
        chain.append(name)
    if len(chain) < 4 or len(chain) % 2:
        raise NirError(f"expected (weights, neurons) pairs with at least one hidden layer, got {chain}")
    layers = []
    for fc, neuron in zip(chain[0::2], chain[1::2]):
        weight = _weight(graph.nodes[fc], fc)
        beta, gain, threshold, reset = _neuron(graph.nodes[neuron], neuron, dt)
        if not math.isclose(gain, 1.0, rel_tol=1e-9):
            weight = weight * gain
        hidden = neuron != chain[-1]
        if hidden != (threshold is not None):
            raise NirError(f"{neuron}: hidden layers must spike (LIF/IF) and the last layer must not (LI/I)")
        if layers and layers[-1].weight.shape[0] != weight.shape[1]:
            raise NirError(f"{fc}: takes {weight.shape[1]} inputs, the layer before gives {layers[-1].weight.shape[0]}")
        layers.append(Layer(weight, beta, threshold, reset))
    return layers


def import_network(graph, dt: float | None = None, surrogate=None):
    """A float reference network (``eligo.snn.SNN``) with the graph's weights and neuron constants."""
    from eligo.snn import LeakyReadout, LIFLinear, LIFParams, SNN, Surrogate

    layers = graph_layers(graph, dt)
    hidden = []
    for layer in layers[:-1]:
        n_out, n_in = layer.weight.shape
        params = LIFParams(beta=layer.beta, threshold=layer.threshold, reset=layer.reset,
                           surrogate=surrogate or Surrogate())
        module = LIFLinear(n_in, n_out, params)
        module.weight.data = torch.from_numpy(layer.weight).float()
        hidden.append(module)
    n_classes, n_in = layers[-1].weight.shape
    readout = LeakyReadout(n_in, n_classes, layers[-1].beta)
    readout.weight.data = torch.from_numpy(layers[-1].weight).float()
    return SNN(hidden, readout)


def _leak_shift(beta: float, what: str) -> int:
    """The chip's leak shift k for β = 1 − 2^−k (k = 0 is β = 0)."""
    if beta == 0.0:
        return 0
    k = round(-math.log2(1.0 - beta)) if beta < 1.0 else -1
    if k < 1 or not math.isclose(1.0 - 2.0 ** -k, beta, rel_tol=0, abs_tol=1e-9):
        raise NirError(f"{what}: β = {beta:.6g} is not 1 − 2^−k, the only leaks the chip's shift can do")
    return k


def config_for(layers: list[Layer], base: AcceleratorConfig = AcceleratorConfig()) -> AcceleratorConfig:
    """``base`` with the network shape, leaks and reset the graph's layers need."""
    hidden = layers[:-1]
    for what, values in (("β", {layer.beta for layer in hidden}), ("reset", {layer.reset for layer in hidden})):
        if len(values) != 1:
            raise NirError(f"the chip's hidden layers share one {what}; the graph has {sorted(values)}")
    try:
        return dataclasses.replace(
            base,
            network=NetworkShape(layers[0].weight.shape[1], tuple(layer.weight.shape[0] for layer in hidden),
                                 layers[-1].weight.shape[0]),
            neuron=dataclasses.replace(base.neuron, leak_shift=_leak_shift(hidden[0].beta, "hidden layers"),
                                       reset=hidden[0].reset),
            readout=dataclasses.replace(base.readout, leak_shift=_leak_shift(layers[-1].beta, "readout")))
    except ConfigError as exc:
        raise NirError(f"the graph does not fit the accelerator: {exc}") from None


def import_model(graph, cfg: AcceleratorConfig | None = None, dt: float | None = None):
    """The chip's model initialised from a graph: (``FixedModel``, ``QuantizationReport``).

    The config is ``cfg`` if given, else the graph's ``eligo.config``, else the default config shaped
    to the graph. Weights are quantised in units of the hidden layers' float threshold
    (w = round(W·θ/v_threshold), saturated to ``weight_bits``); the report says what that cost.
    """
    from eligo.fixed.model import FixedModel, quantize_weights

    layers = graph_layers(graph, dt)
    if cfg is None:
        stored = graph.metadata.get(CONFIG_KEY)
        cfg = AcceleratorConfig.from_json(_text(stored)) if stored is not None else config_for(layers)
    shapes = tuple((layer.weight.shape[1], layer.weight.shape[0]) for layer in layers)
    sizes = cfg.network.layer_sizes
    if shapes != tuple(zip(sizes[:-1], sizes[1:])):
        raise NirError(f"the graph's layers {shapes} do not match the config's layer sizes {sizes}")
    float_threshold = layers[0].threshold
    if any(layer.threshold != float_threshold for layer in layers[:-1]):
        raise NirError("the chip's hidden layers share one threshold; the graph's differ")
    theta = cfg.neuron.threshold
    weights, max_error, rms_error, saturated = [], [], [], []
    lo, hi = cfg.weight_range
    for layer in layers:
        exact = torch.from_numpy(layer.weight.T / float_threshold)
        integer = quantize_weights(exact, cfg)
        error = (integer.double() / theta - exact).abs()
        weights.append(integer)
        max_error.append(float(error.max()) if error.numel() else 0.0)
        rms_error.append(float(error.pow(2).mean().sqrt()) if error.numel() else 0.0)
        unclipped = torch.round(exact * theta)
        saturated.append(int(((unclipped < lo) | (unclipped > hi)).sum()))
    return FixedModel(cfg, weights), QuantizationReport(tuple(max_error), tuple(rms_error), tuple(saturated))

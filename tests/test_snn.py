"""LIF layers, surrogates and network building: hand-computed steps and autograd cross-checks."""

from __future__ import annotations

import pytest
import torch

from eligo.snn import (ConvSpec, LeakyReadout, LIFConv2d, LIFLinear, LIFParams, Surrogate, build_network,
                       parse_hidden, spike)


def test_surrogate_values():
    v = torch.tensor([-2.0, -0.5, 0.0, 0.25])
    assert torch.allclose(Surrogate("triangle")(v), torch.tensor([0.0, 0.15, 0.3, 0.225]))
    assert torch.allclose(Surrogate("inverse_square")(v), 1 / (100 * v.abs() + 1) ** 2)
    assert torch.allclose(Surrogate("fast_sigmoid", 10.0)(v), 1 / (10 * v.abs() + 1) ** 2)
    with pytest.raises(ValueError, match="surrogate must be one of"):
        Surrogate("relu")


def test_spike_forward_is_heaviside_and_backward_is_psi():
    v = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    s = spike(v, Surrogate("triangle", 1.0))
    assert s.tolist() == [0.0, 1.0, 1.0]
    s.sum().backward()
    assert torch.allclose(v.grad, torch.tensor([0.5, 1.0, 0.5]))


@pytest.mark.parametrize("reset, after", [("subtract", [0.6, 0.4, 0.2]), ("zero", [0.6, 0.0, 0.0])])
def test_lif_step_by_hand(reset, after):
    layer = LIFLinear(2, 1, LIFParams(beta=0.5, threshold=1.0, reset=reset))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.6, 0.5]]))
    state = layer.init_state(1)
    membranes, spikes = [], []
    for x in ([1.0, 0.0], [1.0, 1.0], [0.0, 0.0]):
        record, state = layer.step(torch.tensor([x]), state)
        membranes.append(float(state.u.detach()))
        spikes.append(float(record.s.detach()))
    assert spikes == [0.0, 1.0, 0.0]
    assert membranes == pytest.approx(after)


def test_conv_layer_outer_and_input_grad_match_autograd():
    torch.manual_seed(0)
    layer = LIFConv2d((2, 6, 6), 3, 3, 2)
    x = torch.rand(4, layer.n_in, requires_grad=True)
    post = torch.randn(4, layer.n_out)
    (layer.current(x) * post).sum().backward()
    assert torch.allclose(layer.weight_outer(post, x.detach()), layer.weight.grad, atol=1e-5)
    assert torch.allclose(layer.input_grad(post), x.grad, atol=1e-5)
    assert layer.out_shape == (3, 3, 3)
    assert layer.feedforward_macs == 9 * 3 * 2 * 9


def test_linear_readout_outer_and_input_grad_match_autograd():
    readout = LeakyReadout(5, 3, beta=0.5)
    x = torch.rand(2, 5, requires_grad=True)
    err = torch.randn(2, 3)
    (readout.step(x, readout.init_state(2)) * err).sum().backward()
    assert torch.allclose(readout.weight_outer(err, x.detach()), readout.weight.grad)
    assert torch.allclose(readout.input_grad(err), x.grad)


def test_parse_hidden_and_build():
    assert parse_hidden("c8k3s2, 64") == (ConvSpec(8, 3, 2), 64)
    with pytest.raises(ValueError, match="neither a positive width"):
        parse_hidden("64,abc")
    with pytest.raises(ValueError, match="needs the input shape"):
        build_network(512, parse_hidden("c8k3"), 10)
    with pytest.raises(ValueError, match="has 48 inputs"):
        build_network(512, parse_hidden("c8k3"), 10, input_shape=(3, 4, 4))
    net = build_network(512, parse_hidden("c4k3s2,32"), 10, input_shape=(2, 16, 16), recurrent=True)
    assert [layer.n_out for layer in net.layers] == [256, 32]
    logits = net((torch.rand(3, 5, 512) < 0.3).to(torch.uint8))
    assert logits.shape == (3, 10)


def test_same_seed_same_network():
    a, b = build_network(10, (8,), 3, seed=4), build_network(10, (8,), 3, seed=4)
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    assert not torch.equal(a.layers[0].weight, build_network(10, (8,), 3, seed=5).layers[0].weight)

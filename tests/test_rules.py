"""Learning rules against theory: autograd equivalences, trace recurrences, accounting, SGD updates."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from eligo.accounting import formula_totals, measure
from eligo.data import load_dataset
from eligo.rules import STLLR, TESS, TracesPropagation, make_rule, square_wave_projection
from eligo.rules.fit import fit
from eligo.snn import LeakyReadout, LIFConv2d, LIFLinear, LIFParams, LIFState, NetState, SNN, build_network


def _spikes(batch, steps, n, seed=0, rate=0.4):
    return (torch.rand(batch, steps, n, generator=torch.Generator().manual_seed(seed)) < rate).to(torch.uint8)


def _conv_net():
    gen = torch.Generator().manual_seed(1)
    conv = LIFConv2d((2, 2, 2), 3, 3, 1, LIFParams(beta=0.5), gain=2.0, generator=gen)
    fc = LIFLinear(conv.n_out, 6, LIFParams(beta=0.5), gain=2.0, generator=gen)
    return SNN([conv, fc], LeakyReadout(6, 3, generator=gen))


NETWORKS = {
    "fc": lambda: build_network(8, (7, 6), 3, lif=LIFParams(beta=0.5), gain=2.0, seed=1),
    "recurrent": lambda: build_network(8, (7,), 3, lif=LIFParams(beta=0.5), recurrent=True, gain=2.0, seed=1),
    "conv": _conv_net,
}


def _detached(state: NetState) -> NetState:
    return NetState([LIFState(*(v.detach().clone() for v in s)) for s in state.layers], state.readout.clone())


@pytest.mark.parametrize("kind", NETWORKS)
def test_stllr_equals_autograd_with_states_detached(kind):
    """α_post = 0, λ_pre = 0, per-step loss, no gradient through time: S-TLLR is exactly the gradient."""
    net = NETWORKS[kind]()
    rule = STLLR(net, lambda_pre=0.0, alpha_post=0.0, optimizer="sgd", lr=0.05, update_every="step")
    spikes, labels = _spikes(2, 6, 8), torch.tensor([0, 2])
    rule.begin_sample(2, 6)
    signals_seen = 0
    for t in range(6):
        state = _detached(rule.state)
        _, logits, _ = net.step(spikes[:, t].float(), state)
        params = dict(net.named_parameters())
        expected = torch.autograd.grad(F.cross_entropy(logits, labels), list(params.values()))
        rule.step(spikes[:, t], labels)
        for (name, _), grad in zip(params.items(), expected):
            assert torch.allclose(rule.last_gradients[name], grad, atol=1e-6), f"{name} at step {t}"
        signals_seen += sum(int(s.abs().sum() > 0) for s in rule.last_signals)
    assert signals_seen > 0  # the comparison was not vacuous


def test_traces_follow_their_recurrences_by_hand():
    layer = LIFLinear(2, 1, LIFParams(beta=0.5, threshold=1.0))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.6, 0.5]]))
    rule = STLLR(SNN([layer], LeakyReadout(1, 2, beta=0.5)), lambda_post=0.2, lambda_pre=0.5, alpha_post=-1.0)
    rule.begin_sample(1, 3)
    expected = [([1.0, 0.0], 0.18, 0.0), ([1.5, 1.0], 0.216, 1.0), ([0.75, 0.5], 0.1032, 0.5)]
    for x, (q, h, q_out) in zip(([1.0, 0.0], [1.0, 1.0], [0.0, 0.0]), expected):
        rule.step(torch.tensor([x]), torch.tensor([1]))
        assert rule.traces[0]["q"][0].tolist() == pytest.approx(q)
        assert float(rule.traces[0]["h"]) == pytest.approx(h)
        assert float(rule.q_out) == pytest.approx(q_out)  # readout trace: spikes 0,1,0 filtered by 0.5


def test_stllr_noncausal_term_by_hand():
    """One neuron, one input, batch 1: G = m·(α_pre·Ψ·q + α_post·h_prev·x) summed over steps."""
    layer = LIFLinear(1, 1, LIFParams(beta=0.5, threshold=1.0))
    readout = LeakyReadout(1, 2)
    with torch.no_grad():
        layer.weight.fill_(0.8)
        readout.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    rule = STLLR(SNN([layer], readout), lambda_post=0.5, lambda_pre=0.5, alpha_post=-1.0, alpha_pre=1.0,
                 optimizer="sgd", lr=0.1)
    rule.train_sample(torch.ones(1, 2, 1, dtype=torch.uint8), torch.tensor([0]))
    # u: 0.8 (Ψ=0.24), then 0.4+0.8=1.2 spike (Ψ=0.24); h: 0.24, 0.36; q: 1, 1.5
    # per-step error on logits [s, -s]: m = (p0 - 1)·1 + p1·(-1) = -2·p1 with p = softmax([s, -s])
    m0 = -2 * torch.softmax(torch.tensor([0.0, 0.0]), 0)[1]
    m1 = -2 * torch.softmax(torch.tensor([1.0, -1.0]), 0)[1]
    expected = m0 * (0.24 * 1.0) + m1 * (0.24 * 1.5 - 0.24 * 1.0)
    assert float(rule.last_gradients["layers.0.weight"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("basis,temperature", [("sin", 1.0), ("counter", 1.0), ("sin", 0.05)])
def test_tess_signal_is_the_gradient_of_its_layer_loss(basis, temperature):
    net = NETWORKS["fc"]()
    rule = TESS(net, basis=basis, temperature=temperature, optimizer="sgd", lr=0.1, update_every="step")
    spikes, labels = _spikes(3, 4, 8, seed=2), torch.tensor([1, 0, 2])
    rule.begin_sample(3, 4)
    for t in range(4):
        rule.step(spikes[:, t], labels)
        records, _, _ = net.step(spikes[:, t].float(), _detached(rule.state))  # any spikes will do
        for record in records:
            s = record.s.detach().clone().requires_grad_(True)
            proj = square_wave_projection(basis, 3, s.shape[1])
            (expected,) = torch.autograd.grad(F.cross_entropy(s @ proj.t() / temperature, labels), s)
            assert torch.allclose(rule.local_signal(s.detach(), labels), expected, atol=1e-6)
    assert any(sig.abs().sum() > 0 for sig in rule.last_signals)


def test_tess_projections():
    sin = square_wave_projection("sin", 10, 64) * 64
    assert torch.all(sin[:, 0] == 0)  # sin(0) = 0: the paper's zero column
    assert set(sin[:, 1:].unique().tolist()) == {-1.0, 1.0}
    counter = square_wave_projection("counter", 4, 8) * 8
    assert counter[2].tolist() == [1, 1, 1, -1, -1, -1, 1, 1]  # class 2 flips every 3 indices
    assert set(counter.unique().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="basis"):
        square_wave_projection("cos", 4, 8)


def test_given_waves_and_layer_rates_replace_the_rules_own():
    """The chip's twin passes its square waves and per-layer rates in; a wave of the wrong shape is refused."""
    net = NETWORKS["recurrent"]()
    wave = torch.tensor([[1.0, -1, 1, -1, 1, -1, 1], [1, 1, -1, -1, 1, 1, -1], [-1, -1, -1, 1, 1, 1, -1]])
    spikes, labels = _spikes(2, 1, 7, seed=4)[:, 0].float(), torch.tensor([0, 2])
    tess = TESS(net, projection=[wave], layer_lr_scale=[7], optimizer="sgd", lr=0.1)
    expected = (torch.softmax(spikes @ wave.T / 7, dim=1) - F.one_hot(labels, 3)) @ wave / 7 / 2
    assert torch.allclose(tess.local_signal(spikes, labels, net.layers[0]), expected, rtol=0, atol=1e-7)
    rates = {name: group["lr"] for (name, _), group in zip(tess.named_trainables().items(),
                                                           tess.optimizer.param_groups)}
    assert rates == pytest.approx({"layers.0.recurrent": 0.7, "layers.0.weight": 0.7, "readout.weight": 0.1})
    error = torch.tensor([[0.5, -0.25, -0.25]])
    dfa = STLLR(net, signal="dfa", feedback=[wave])
    assert torch.equal(dfa.learning_signals(None, None, error, labels)[0], error @ wave)
    for bad in (lambda: TESS(net, projection=[wave[:, :6]]), lambda: STLLR(net, signal="bp", feedback=[wave]),
                lambda: STLLR(net, signal="dfa", feedback=[wave, wave]), lambda: TESS(net, layer_lr_scale=[1, 2]),
                lambda: STLLR(net, layer_lr_scale=[0.0])):
        with pytest.raises(ValueError, match="feedback|projection|layer_lr_scale"):
            bad()
    conv = NETWORKS["conv"]()  # with pool, a conv layer's wave spans its pooled maps: 3 channels x 1 x 1
    TESS(conv, pool=1, projection=[torch.ones(3, 3), torch.ones(3, 6)])
    with pytest.raises(ValueError, match="projection"):
        TESS(conv, projection=[torch.ones(3, 3), torch.ones(3, 6)])


def test_tp_readout_update_is_the_gradient_of_its_loss():
    net = build_network(8, (7,), 3, lif=LIFParams(beta=0.5), readout_beta=0.6, gain=2.0, seed=3)
    rule = TracesPropagation(net, trace_beta=0.6, optimizer="sgd", lr=0.1, update_every="sample")
    spikes, labels = _spikes(4, 5, 8, seed=4), torch.tensor([0, 1, 2, 1])
    weight = net.readout.weight.detach().clone().requires_grad_(True)
    rule.begin_sample(4, 5)
    previous, m, loss = torch.zeros(4, 7), torch.zeros(4, 3), 0.0
    for t in range(5):
        logits = rule.step(spikes[:, t], labels)
        trace = rule.eps[-1].clone()
        m = 0.6 * m + F.linear(trace - 0.6 * previous, weight)
        assert torch.allclose(m.detach(), logits, atol=1e-6)
        loss = loss + F.cross_entropy(m, labels)
        previous = trace
    rule.end_sample()
    (expected,) = torch.autograd.grad(loss, weight)
    assert torch.allclose(rule.last_gradients["readout.weight"], expected, atol=1e-6)
    assert rule.last_gradients["layers.0.weight"].abs().sum() > 0


def test_tp_readout_learns_the_gradient_of_its_loss_at_any_readout_leak():
    """With β_out ≠ β_tr the readout's update still is autograd's gradient of the per-step loss."""
    net = build_network(8, (7,), 3, lif=LIFParams(beta=0.5), readout_beta=0.0, gain=2.0, seed=3)
    rule = TracesPropagation(net, trace_beta=0.6, optimizer="sgd", lr=0.1, update_every="sample")
    spikes, labels = _spikes(4, 5, 8, seed=4), torch.tensor([0, 1, 2, 1])
    weight = net.readout.weight.detach().clone().requires_grad_(True)
    rule.begin_sample(4, 5)
    loss = 0.0
    for t in range(5):
        rule.step(spikes[:, t], labels)
        last_spikes = rule.state.layers[-1].s
        loss = loss + F.cross_entropy(F.linear(last_spikes, weight), labels)
    rule.end_sample()
    (expected,) = torch.autograd.grad(loss, weight)
    assert torch.allclose(rule.last_gradients["readout.weight"], expected, atol=1e-6)


def test_tess_pooled_signal_is_the_gradient_of_the_pooled_layer_loss():
    """pool=p: the conv layer's maps are averaged to p×p per channel before B (C × channels·p²)."""
    net = NETWORKS["conv"]()
    rule = TESS(net, pool=1, optimizer="sgd", lr=0.1)
    conv = net.layers[0]
    spikes = _spikes(3, 1, conv.n_out, seed=6)[:, 0].float()
    labels = torch.tensor([2, 0, 1])
    s = spikes.clone().requires_grad_(True)
    pooled = s.reshape(3, *conv.out_shape).mean((2, 3))
    proj = square_wave_projection("sin", 3, conv.out_shape[0])
    (expected,) = torch.autograd.grad(F.cross_entropy(pooled @ proj.t(), labels), s)
    assert torch.allclose(rule.local_signal(spikes, labels, conv), expected, atol=1e-7)
    assert expected.abs().sum() > 0
    fc = net.layers[1]  # fully connected layers are never pooled
    fc_spikes = spikes[:, :fc.n_out]
    assert torch.equal(rule.local_signal(fc_spikes, labels, fc), rule.local_signal(fc_spikes, labels))


def test_tess_global_steps_use_the_back_propagated_signal():
    """The last ``global_steps`` steps learn like S-TLLR (bp), the steps before from the layer-local signal."""
    spikes, labels = _spikes(2, 4, 8, seed=7), torch.tensor([1, 2])
    tess = TESS(NETWORKS["fc"](), global_steps=2, optimizer="sgd", lr=0.1, update_every="sample")
    stllr = STLLR(NETWORKS["fc"](), signal="bp", lambda_pre=0.5, alpha_post=0.0, optimizer="sgd", lr=0.1,
                  update_every="sample")
    local = TESS(NETWORKS["fc"](), optimizer="sgd", lr=0.1, update_every="sample")
    for rule in (tess, stllr, local):
        rule.begin_sample(2, 4)
    for t in range(4):
        for rule in (tess, stllr, local):
            rule.step(spikes[:, t], labels)
        reference = stllr if t >= 2 else local
        for mine, theirs in zip(tess.last_signals, reference.last_signals):
            assert torch.allclose(mine, theirs, atol=1e-7)
    assert not torch.allclose(stllr.last_signals[0], local.last_signals[0])


def test_tp_needs_pairs():
    rule = TracesPropagation(NETWORKS["fc"]())
    with pytest.raises(ValueError, match="batch of at least 2"):
        rule.train_sample(_spikes(1, 3, 8), torch.tensor([0]))


def test_online_sgd_update_is_minus_lr_times_accumulated_gradient():
    """The fixed-point comparison regime: batch 1, one update per sample, plain SGD."""
    net = NETWORKS["fc"]()
    rule = TESS(net, optimizer="sgd", lr=0.25, update_every="sample", learn_from=2)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    rule.train_sample(_spikes(1, 6, 8, seed=5), torch.tensor([1]))
    assert len(rule.losses) == 4  # steps 2..5 are the learning window
    for name, p in net.named_parameters():
        assert torch.allclose(p.detach(), before[name] - 0.25 * rule.last_gradients[name], atol=1e-7)
    assert any(g.abs().sum() > 0 for g in rule.last_gradients.values())


@pytest.mark.parametrize("name", ["stllr", "tess"])
@pytest.mark.parametrize("kind", ["fc", "recurrent", "conv"])
def test_local_rule_accounting_formula_equals_measurement(name, kind):
    rule = make_rule(name, NETWORKS[kind](), alpha_post=-1.0)
    for steps in (3, 9):
        measured = measure(rule, _spikes(1, steps, 8), torch.tensor([1]))
        formula = formula_totals(rule, steps)
        assert measured["peak_bytes"] == formula["state_bytes"]
        assert measured["macs"] == formula["macs"]


@pytest.mark.parametrize("name, hyper", [("bptt", {}), ("ttbptt", {"truncation": 3, "block_size": 1})])
def test_autograd_rule_accounting_formula_tracks_measurement(name, hyper):
    net = build_network(8, (7, 6), 3, lif=LIFParams(beta=0.5, reset="zero"), recurrent=True, gain=2.0, seed=1)
    rule = make_rule(name, net, **hyper)
    for steps in (4, 12):
        measured = measure(rule, _spikes(1, steps, 8), torch.tensor([1]))
        formula = formula_totals(rule, steps)
        assert measured["macs"] == formula["macs"]
        # only the losses' scalar bookkeeping is not in the formula
        assert 0 <= measured["peak_bytes"] - formula["state_bytes"] <= 8 * 3 + 16


def test_memory_flat_in_time_for_stllr_and_linear_for_bptt():
    peaks = {}
    for name in ("bptt", "stllr"):
        for steps in (5, 20):
            rule = make_rule(name, build_network(8, (16,), 3, seed=0))
            peaks[name, steps] = measure(rule, _spikes(1, steps, 8), torch.tensor([0]))["peak_bytes"]
    assert peaks["stllr", 5] == peaks["stllr", 20]
    assert 3.5 < peaks["bptt", 20] / peaks["bptt", 5] <= 4.0


def test_bad_hyper_parameters_are_named():
    net = NETWORKS["fc"]()
    with pytest.raises(ValueError, match="unknown rule 'hebb'"):
        make_rule("hebb", net)
    with pytest.raises(ValueError, match="signal must be one of"):
        make_rule("stllr", net, signal="feedback")
    with pytest.raises(ValueError, match="update_every must be one of"):
        make_rule("bptt", net, update_every="step")
    with pytest.raises(ValueError, match="lambda_pre"):
        make_rule("tess", net, lambda_pre=1.5)
    with pytest.raises(ValueError, match="rule 'tp'"):
        make_rule("tp", net, truncation=3)
    with pytest.raises(ValueError, match="learn_from"):
        make_rule("stllr", net, learn_from=5).train_sample(_spikes(1, 3, 8), torch.tensor([0]))


def test_cosine_schedule_anneals_every_batch_and_restores_the_rate():
    """fit(schedule='cosine'): batch k of K trains at lr·(1 + cos(πk/K))/2; the rate is restored afterwards."""
    train = load_dataset("patterns", "train", seed=1, n_samples=32)
    rule = make_rule("stllr", build_network(train.n_inputs, (8,), train.n_classes, seed=1), lr=0.01)
    seen = []
    original = rule.train_sample

    def recording(spikes, labels):
        seen.append(rule.optimizer.param_groups[0]["lr"])
        return original(spikes, labels)

    rule.train_sample = recording
    fit(rule, train, train, epochs=2, batch_size=16, seed=0, schedule="cosine")
    assert seen == pytest.approx([0.01, 0.01 * (1 + 2 ** -0.5) / 2, 0.005, 0.01 * (1 - 2 ** -0.5) / 2])
    assert rule.optimizer.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match="schedule"):
        fit(rule, train, train, epochs=1, batch_size=16, seed=0, schedule="step")


@pytest.mark.parametrize("name", ["bptt", "stllr", "tess", "tp", "ttbptt"])
def test_float_recipe_builds_its_rule_with_every_option(name):
    """Each float recipe's rule options reach the rule (a misspelt or dropped option fails here)."""
    from eligo.rules.recipes import recipe

    options = recipe(name)
    network = build_network(8, (7,), 3, readout_beta=options.pop("readout_beta"), seed=1)
    assert options.pop("schedule") == "cosine"
    rule = make_rule(name, network, **options)
    for key, value in options.items():
        assert getattr(rule, key) == value, key
    assert network.readout.beta == recipe(name)["readout_beta"]

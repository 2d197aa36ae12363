"""The fused sweep trainer is Opacus's DP-SGD: one step of it equals a step of Opacus's own
GradSampleModule + DPOptimizer on the same batch, its unclipped gradients equal autograd's, and a
fused sweep spends the budget it reports and learns."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
opacus = pytest.importorskip("opacus")

from audit.sections.privacy.dp_training import TrainSettings, _build  # noqa: E402
from audit.sections.privacy.fused import _initial, _net_of, _Sweep, clipped_sums, train_sweep  # noqa: E402

SETTINGS = TrainSettings(epochs=3, batch_size=64, learning_rate=0.5, momentum=0.9, max_grad_norm=1.0, mlp_hidden=8,
                         accountant="rdp", secure_mode=False)


def _batch(n=50, d=6, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, d)) * 2.0).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, (y if classes > 2 else y.astype(np.float32))


def _torch(x, y, classes):
    return torch.from_numpy(x), torch.from_numpy(y)


@pytest.mark.parametrize("kind, classes", [("logistic", 2), ("mlp", 2), ("mlp", 3), ("logistic", 4)])
def test_unclipped_sums_equal_autograd(kind, classes):
    x, y = _batch(classes=classes)
    n_out = classes if classes > 2 else 1
    params = _initial(kind, x.shape[1], SETTINGS, seed=3, n_out=n_out, runs=1)
    sums = clipped_sums(params, x, y, None, classes > 2)
    net = _build(kind, x.shape[1], SETTINGS.mlp_hidden, torch.Generator().manual_seed(3), n_out=n_out)
    tx, ty = _torch(x, y, classes)
    out = net(tx)
    loss = torch.nn.CrossEntropyLoss(reduction="sum") if classes > 2 else torch.nn.BCEWithLogitsLoss(reduction="sum")
    loss(out if classes > 2 else out.squeeze(1), ty).backward()
    layers = [net] if kind == "logistic" else [net[0], net[2]]
    expected = [t for layer in layers for t in (layer.weight.grad.T, layer.bias.grad)]
    for got, want in zip(sums, expected):
        assert np.allclose(got[0], want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, classes", [("logistic", 2), ("mlp", 2), ("mlp", 3)])
def test_one_step_equals_opacus(kind, classes):
    """Clipping, summing, scaling by the expected batch size and the momentum update, against
    Opacus's GradSampleModule + DPOptimizer (noise 0, so both are deterministic)."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    x, y = _batch(classes=classes, seed=1)
    tx, ty = _torch(x, y, classes)
    n_out = classes if classes > 2 else 1
    expected_batch = 40
    net = _build(kind, x.shape[1], SETTINGS.mlp_hidden, torch.Generator().manual_seed(5), n_out=n_out)
    gsm = GradSampleModule(net)
    opt = DPOptimizer(torch.optim.SGD(gsm.parameters(), lr=SETTINGS.learning_rate, momentum=SETTINGS.momentum),
                      noise_multiplier=0.0, max_grad_norm=SETTINGS.max_grad_norm, expected_batch_size=expected_batch)
    params = _initial(kind, x.shape[1], SETTINGS, seed=5, n_out=n_out, runs=1)
    sweep = _Sweep(params, [0.0], SETTINGS, expected=expected_batch, seed=0)  # private, zero noise
    loss = torch.nn.CrossEntropyLoss() if classes > 2 else torch.nn.BCEWithLogitsLoss()
    for half in (slice(0, 25), slice(25, 50)):  # two steps: the second one uses the momentum buffer
        opt.zero_grad()
        out = gsm(tx[half])
        loss(out if classes > 2 else out.squeeze(1), ty[half]).backward()
        opt.step()
        sweep.step(x[half], y[half], classes > 2)
    ref = _net_of(params, 0)
    got = [torch.from_numpy(a.T.copy() if a.ndim == 2 else a) for layer in ref.layers for a in layer]
    for g, want in zip(got, net.parameters(), strict=True):
        assert torch.allclose(g, want, rtol=1e-5, atol=1e-6)
    # and the numpy network scores as the torch one
    with torch.no_grad():
        assert np.allclose(ref.logits(x), net(tx).numpy(), rtol=1e-5, atol=1e-6)


def test_noise_has_the_stated_scale():
    """Each DP run's noise: N(0, (sigma C)^2) per coordinate, divided by the expected batch size."""
    x, y = _batch(n=1)
    params = _initial("logistic", x.shape[1], SETTINGS, seed=0, n_out=1, runs=2)
    before = [p.copy() for p in params]
    sweep = _Sweep(params, [2.0, 0.5], dataclasses.replace(SETTINGS, momentum=0.0, learning_rate=1.0), expected=1, seed=0)
    steps = []
    for _ in range(400):
        start = [p.copy() for p in params]
        sweep.step(x[:0], y[:0], False)  # an empty Poisson batch: the update is the noise alone
        steps.append(np.concatenate([(s - p).reshape(2, -1) for s, p in zip(start, params)], axis=1))
    spread = np.std(np.stack(steps), axis=(0, 2))
    assert spread == pytest.approx([2.0, 0.5], rel=0.05)
    assert not np.array_equal(before[0], params[0])


def test_clipping_bounds_each_samples_contribution():
    x, y = _batch(n=1)
    x = x * 100.0  # one sample with a huge gradient
    params = _initial("mlp", x.shape[1], SETTINGS, seed=0, n_out=1, runs=2)
    clipped, whole = clipped_sums(params, x, y, 0.5, False), clipped_sums(params, x, y, None, False)
    norm = lambda gs: math.sqrt(sum(float(np.square(g[0]).sum()) for g in gs))  # noqa: E731
    assert norm(clipped) == pytest.approx(0.5, rel=1e-4) and norm(whole) > 5.0


def test_fused_sweep_spends_its_budget_and_learns():
    from opacus.accountants import RDPAccountant

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(2000, 5))
    y = (Z[:, 0] + 0.5 * Z[:, 1] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    nets = train_sweep("mlp", Z, y, settings=SETTINGS, epsilons=(None, 1.0, 8.0), delta=1e-4, seed=0)
    assert [n.info.get("noise_multiplier") is None for n in nets] == [True, False, False]
    q = 1 / math.ceil(2000 / SETTINGS.batch_size)
    for net, eps in zip(nets[1:], (1.0, 8.0)):
        assert net.info["steps"] == 3 * 32 and net.info["sample_rate"] == pytest.approx(q)
        acc = RDPAccountant()
        acc.history = [(net.info["noise_multiplier"], q, net.info["steps"])]
        assert 0.97 * eps <= net.info["epsilon_spent"] <= eps
        assert acc.get_epsilon(1e-4) == pytest.approx(net.info["epsilon_spent"], rel=0.02)
    accuracy = [float(np.mean((n.predict_proba(Z)[:, 1] >= 0.5) == y)) for n in nets]
    assert accuracy[0] > 0.85 and accuracy[2] > 0.8 and accuracy[2] >= accuracy[1] - 0.02, accuracy
    # The runs differ (their own noise) and the seed reproduces them.
    again = train_sweep("mlp", Z, y, settings=SETTINGS, epsilons=(None, 1.0, 8.0), delta=1e-4, seed=0)
    assert np.array_equal(again[1].predict_proba(Z), nets[1].predict_proba(Z))
    assert not np.array_equal(nets[1].predict_proba(Z), nets[2].predict_proba(Z))


@pytest.mark.parametrize("kind", ["logistic", "mlp"])
def test_non_private_run_is_the_opacus_trainers_own(kind):
    """The plain run shuffles exactly as the Opacus trainer's DataLoader did, so the two train the same network."""
    from audit.sections.privacy.dp_training import train_net

    rng = np.random.default_rng(1)
    Z = rng.normal(size=(500, 5))
    y = (Z[:, 0] + rng.normal(size=500) > 0).astype(int)
    ours = train_sweep(kind, Z, y, settings=SETTINGS, epsilons=(None, 2.0), delta=1e-3, seed=3)[0]
    theirs = train_net(kind, Z, y, settings=SETTINGS, target_epsilon=None, delta=1e-3, seed=3)
    assert ours.info["steps"] == theirs.info["steps"] == 3 * 8
    assert np.allclose(ours.predict_proba(Z), theirs.predict_proba(Z), atol=1e-5)

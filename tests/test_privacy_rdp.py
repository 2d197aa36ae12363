"""The vectorised RDP accounting (audit/sections/privacy/rdp.py) against Opacus's own RDPAccountant,
called directly: the epsilon each DP model reports and the noise the sweep picks are unchanged
(issue 15 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from audit.sections.privacy import rdp
from audit.sections.privacy.dp_training import RDP_ALPHAS, TrainSettings, noise_multiplier_for, train_net

ORDERS = list(RDP_ALPHAS)


def _opacus_epsilon(history, delta):
    acc = RDPAccountant()
    acc.history = list(history)
    return acc.get_epsilon(delta=delta, alphas=ORDERS)


@pytest.mark.parametrize("sigma, q, steps, delta", [
    (0.6, 0.05, 160, 1e-3),     # small data: the default batch lowered to 20 steps per epoch
    (3.5, 0.05, 160, 1e-3),
    (1.1, 256 / 60_000, 14_063, 1e-5),  # TF Privacy's MNIST tutorial
    (0.9, 0.0213, 376, 1e-5),   # Adult at the default batch
    (0.55, 0.001, 8_000, 1e-6),
    (7.5, 0.3, 30, 1e-2),
    (50.0, 0.05, 160, 1e-3),
])
def test_epsilon_equals_opacus_rdp_accountant(sigma, q, steps, delta):
    ours = rdp.epsilon([(sigma, q, steps)], delta=delta, orders=ORDERS)
    assert ours == pytest.approx(_opacus_epsilon([(sigma, q, steps)], delta), rel=1e-10)


def test_composed_history_and_edge_cases_equal_opacus():
    history = [(1.0, 0.01, 500), (2.0, 0.02, 300)]
    assert rdp.epsilon(history, delta=1e-5, orders=ORDERS) == pytest.approx(_opacus_epsilon(history, 1e-5), rel=1e-10)
    assert rdp.epsilon([], delta=1e-5, orders=ORDERS) == 0.0
    assert rdp.epsilon([(0.0, 0.01, 10)], delta=1e-5, orders=ORDERS) == np.inf
    full = rdp.compute_rdp(q=1.0, noise_multiplier=2.0, steps=3, orders=[2.0, 8.0])
    assert full == pytest.approx([3 * 2 / 8, 3 * 8 / 8])


@pytest.mark.parametrize("target", [0.5, 2.0])
def test_noise_search_picks_opacus_sigma(target):
    ours = rdp.noise_multiplier(target_epsilon=target, target_delta=1e-3, sample_rate=0.05, epochs=8, orders=ORDERS)
    theirs = get_noise_multiplier(target_epsilon=target, target_delta=1e-3, sample_rate=0.05, epochs=8,
                                  accountant="rdp", alphas=ORDERS)
    assert ours == theirs


def test_trained_network_reports_opacus_epsilon_for_its_noise_rate_and_steps():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 5)).astype(np.float32)
    y = (Z[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(np.int64)
    settings = TrainSettings(epochs=2, batch_size=20, learning_rate=0.5, momentum=0.9, max_grad_norm=1.0,
                             mlp_hidden=8, accountant="rdp", secure_mode=False)
    info = train_net("logistic", Z, y, settings=settings, target_epsilon=2.0, delta=1e-3, seed=0).info
    assert info["noise_multiplier"] == noise_multiplier_for(2.0, 1e-3, info["sample_rate"], 2, "rdp")
    expected = _opacus_epsilon([(info["noise_multiplier"], info["sample_rate"], info["steps"])], 1e-3)
    assert info["epsilon_spent"] == pytest.approx(expected, rel=1e-10)
    assert info["epsilon_spent"] <= 2.0


def test_restated_conversion_and_limit_equal_opacus():
    from opacus.accountants.analysis.rdp import get_privacy_spent
    from opacus.accountants.utils import MAX_SIGMA

    rng = np.random.default_rng(0)
    for delta in (1e-3, 1e-5, 1e-7):
        values = rng.exponential(2.0, len(ORDERS))
        want, _ = get_privacy_spent(orders=list(ORDERS), rdp=values, delta=delta)
        assert rdp.privacy_spent(ORDERS, values, delta) == pytest.approx(want, rel=1e-12)
    assert rdp.privacy_spent(ORDERS, np.full(len(ORDERS), np.nan), 1e-5) == np.inf
    assert rdp.MAX_SIGMA == MAX_SIGMA

"""audit.stats: the one estimate type, the weighted bootstrap and its percentile interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audit.stats import BLOCK_CELLS, Estimate, block_size, bootstrap_estimate, bootstrap_weights, percentile_interval


def test_bootstrap_weights_sum_to_n_and_are_seeded():
    a = np.concatenate(list(bootstrap_weights(50, 230, np.random.default_rng(0), chunk=100)))
    b = np.concatenate(list(bootstrap_weights(50, 230, np.random.default_rng(0), chunk=100)))
    assert a.shape == (230, 50) and np.array_equal(a, b)
    assert (a.sum(axis=1) == 50).all()


def test_bootstrap_blocks_hold_the_same_draws_whatever_their_size():
    # Large tables get small blocks (BLOCK_CELLS); the resamples must not depend on it.
    n = 1001
    ref = np.concatenate(list(bootstrap_weights(n, 230, np.random.default_rng(3), chunk=100)))
    for chunk in (1, 7, 230):
        got = np.concatenate(list(bootstrap_weights(n, 230, np.random.default_rng(3), chunk=chunk)))
        assert np.array_equal(got, ref), chunk
    assert block_size(200_000) == 10 and block_size(1_000) == 100 and block_size(10**8) == 1
    blocks = list(bootstrap_weights(200_000, 25, np.random.default_rng(0)))
    assert [len(W) for W in blocks] == [10, 10, 5] and all(W.size <= BLOCK_CELLS for W in blocks)


def test_percentile_interval_of_known_samples_ignores_non_finite_ones():
    s = np.r_[np.arange(101.0), np.nan, np.inf]
    assert percentile_interval(s, 0.9) == pytest.approx((5.0, 95.0))
    # blocks, as the bootstrap yields them, give the same interval as one array
    assert percentile_interval([s[:40], s[40:]], 0.9) == pytest.approx((5.0, 95.0))
    assert all(math.isnan(x) for x in percentile_interval(np.array([np.nan]), 0.95))
    assert all(math.isnan(x) for x in percentile_interval([], 0.95))


def test_bootstrap_estimate_of_a_mean_covers_it_and_states_its_sample():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, size=400)
    samples = [W @ x / W.sum(axis=1) for W in bootstrap_weights(len(x), 500, rng)]
    est = bootstrap_estimate(x.mean(), samples, level=0.95, n=len(x), resamples=500)
    # the bootstrap standard error of a mean is about sd / sqrt(n) = 0.05, so the 95% interval is about +-0.1
    assert est.low < x.mean() < est.high and est.high - est.low == pytest.approx(2 * 1.96 / 20, rel=0.15)
    assert (est.level, est.n, est.method) == (0.95, 400, "percentile bootstrap (500 resamples)")
    assert est.text(".2f") == f"{x.mean():.2f} [{est.low:.2f}, {est.high:.2f}]"


def test_no_interval_around_an_undefined_value_and_json_round_trip():
    est = bootstrap_estimate(float("nan"), np.array([0.1, 0.2]), level=0.9, n=10, resamples=2)
    assert math.isnan(est.low) and math.isnan(est.high)
    d = est.to_dict()
    assert d == {"value": None, "low": None, "high": None, "level": 0.9, "n": 10, "method": "percentile bootstrap (2 resamples)"}
    back = Estimate.from_dict(d)
    assert math.isnan(back.value) and back.n == 10

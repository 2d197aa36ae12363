"""The fast fairlearn moments give fairlearn's own results, value for value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient
from sklearn.linear_model import LogisticRegression

from audit.sections.fairness.moments import FastDemographicParity, FastEqualizedOdds

PAIRS = [(DemographicParity, FastDemographicParity), (EqualizedOdds, FastEqualizedOdds)]


def _data(n: int = 600, seed: int = 3):
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array(["a x old", "a x young", "b x old", "b x young", "c x old"]), size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    X = rng.normal(size=(n, 4)) + (groups == "b x old")[:, None] * 0.8
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.8, size=n) > 0.3).astype(int)
    return X, y, groups


def _loaded(stock, fast):
    """fairlearn's moment and ours, loaded with the same data."""
    X, y, g = _data()
    a, b = stock(), fast()
    a.load_data(X, y, sensitive_features=g)
    b.load_data(X, y, sensitive_features=g)
    return (X, y, g), a, b


@pytest.mark.parametrize("stock, fast", PAIRS)
def test_projection_equals_fairlearns_on_random_multipliers(stock, fast):
    _, a, b = _loaded(stock, fast)
    rng = np.random.default_rng(0)
    for scale in (0.0, 1e-3, 1.0, 50.0):
        lam = pd.Series(rng.exponential(size=len(a.index)) * scale, index=a.index)
        lam.iloc[::3] = 0.0  # ties and exact zeros, as the linear program returns
        want, got = a.project_lambda(lam), b.project_lambda(lam)
        assert got.index.equals(want.index) and got.index.names == want.index.names
        np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
        # and the projection changes something (it is not the identity on these vectors)
        if scale > 0:
            assert not np.array_equal(want.to_numpy(), lam.to_numpy())


@pytest.mark.parametrize("stock, fast", PAIRS)
def test_gamma_and_objective_equal_fairlearns(stock, fast):
    (X, y, g), a, b = _loaded(stock, fast)
    h = (X[:, 0] > 0).astype(float)
    pd.testing.assert_series_equal(b.gamma(lambda _: h), a.gamma(lambda _: h))
    oa, ob = a.default_objective(), b.default_objective()
    oa.load_data(X, y, sensitive_features=g)
    ob.load_data(X, y, sensitive_features=g)
    pd.testing.assert_series_equal(ob.gamma(lambda _: h), oa.gamma(lambda _: h))
    assert 0 < oa.gamma(lambda _: h).iloc[0] < 1


@pytest.mark.parametrize("stock, fast", PAIRS)
def test_exponentiated_gradient_fits_the_same_mixture(stock, fast):
    X, y, g = _data()
    fits = []
    for moment in (stock(), fast()):
        eg = ExponentiatedGradient(LogisticRegression(solver="liblinear"), moment, eps=0.01, max_iter=15)
        eg.fit(X, y, sensitive_features=g)
        fits.append(eg)
    a, b = fits
    assert a.n_oracle_calls_ == b.n_oracle_calls_ > 2
    pd.testing.assert_frame_equal(b.lambda_vecs_, a.lambda_vecs_)
    pd.testing.assert_series_equal(b.weights_, a.weights_)
    np.testing.assert_array_equal(b._pmf_predict(X), a._pmf_predict(X))
    np.testing.assert_array_equal(b.predict(X, random_state=1), a.predict(X, random_state=1))


def test_a_foreign_index_falls_back_to_fairlearns_projection():
    X, y, g = _data()
    m, ref = FastDemographicParity(), DemographicParity()
    m.load_data(X, y, sensitive_features=g)
    ref.load_data(X, y, sensitive_features=g)
    lam = pd.Series(np.linspace(0.1, 2.0, len(ref.index)), index=ref.index)[::-1]  # reordered labels
    assert not lam.index.equals(m.index)
    pd.testing.assert_series_equal(m.project_lambda(lam), ref.project_lambda(lam))

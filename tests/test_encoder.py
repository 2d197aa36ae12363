"""CountedOneHotEncoder learns exactly what scikit-learn's OneHotEncoder learns from the same rows,
and is fitted on the rows as they are wherever that could differ."""

import numpy as np
import pytest
from sklearn.preprocessing import OneHotEncoder

from audit.models import encoder
from audit.models.encoder import CountedOneHotEncoder

KW = dict(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False)


def _table(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.choice(["clerk", "nurse", "pilot"], n).astype(object)
    # Counts 1 to 7 around the min_frequency of 5 (values with 4, 5 and 6 rows decide the edge).
    rare = np.array([f"r{k}" for k in range(1, 8) for _ in range(k)], dtype=object)
    mixed = common.copy()
    mixed[rng.choice(n, len(rare), replace=False)] = rare
    city = rng.choice(["north", "south", "east", "west", "x"], n, p=[0.4, 0.3, 0.2, 0.0999, 0.0001]).astype(object)
    return np.column_stack([common, mixed, city])


def _same(a: OneHotEncoder, b: OneHotEncoder, X: np.ndarray) -> None:
    assert [list(c) for c in a.categories_] == [list(c) for c in b.categories_]
    assert [None if c is None else list(c) for c in a.infrequent_categories_] == \
        [None if c is None else list(c) for c in b.infrequent_categories_]
    assert list(a.get_feature_names_out(["job", "mixed", "city"])) == list(b.get_feature_names_out(["job", "mixed", "city"]))
    assert np.array_equal(a.transform(X), b.transform(X))


def test_fitted_from_counts_it_is_scikit_learns_encoder(monkeypatch):
    X = _table(30_000, 0)
    calls = []
    original = encoder._stand_in
    monkeypatch.setattr(encoder, "_stand_in", lambda *a: calls.append(1) or original(*a))
    ours, theirs = CountedOneHotEncoder(**KW).fit(X), OneHotEncoder(**KW).fit(X)
    assert calls == [1] and len(original(X, 5)) < 100  # fitted on a stand-in of a few dozen rows
    scoring = _table(5_000, 1)
    scoring[0, 1], scoring[1, 2] = "never seen", "r1"  # unknown and infrequent values at transform time
    _same(ours, theirs, scoring)
    assert set(ours.infrequent_categories_[1]) == {"r1", "r2", "r3", "r4"}  # 5 rows and more are frequent


@pytest.mark.parametrize("change", ["missing", "number", "all_rare", "small"])
def test_anything_unusual_is_fitted_on_the_rows_as_they_are(change):
    X = _table(30_000, 2)
    if change == "missing":
        X[3, 0] = None
    elif change == "number":
        X[3, 0] = 7
    elif change == "all_rare":
        X[:, 2] = np.array([f"id{i}" for i in range(len(X))], dtype=object)
    else:
        X = X[:2_000]
    assert encoder._stand_in(X, 5) is None
    if change == "number":  # scikit-learn refuses mixed strings and numbers: so do we, with its message
        with pytest.raises(TypeError) as theirs:
            OneHotEncoder(**KW).fit(X)
        with pytest.raises(TypeError, match=str(theirs.value)[:40]):
            CountedOneHotEncoder(**KW).fit(X)
        return
    _same(CountedOneHotEncoder(**KW).fit(X), OneHotEncoder(**KW).fit(X), X[:500])

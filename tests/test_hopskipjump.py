"""HopSkipJump in lockstep (greenlets, one model call per round) equals ART one row at a time."""

from __future__ import annotations

import numpy as np
import pytest

from audit.sections.robustness.hopskipjump import hop_skip_jump
from audit.sections.robustness.section import RobustnessOptions
from audit.sections.robustness.space import Scorer, attack_space


def _inputs(trained, n: int):
    space, _ = attack_space(trained)
    X0 = trained.X_test.iloc[:n].reset_index(drop=True)
    X0[list(space.features)] = X0[list(space.features)].astype(np.float64).fillna(trained.X_train[list(space.features)].median())
    base = trained.predict(X0)
    z0 = space.to_z(X0[list(space.features)].to_numpy(dtype=np.float64))
    return space, X0, base, z0


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_lockstep_equals_one_row_at_a_time(synthetic_trained, norm):
    opts = RobustnessOptions(attack_norm=norm, hsj_max_iter=4, hsj_max_eval=40, hsj_init_eval=10)
    space, X0, base, z0 = _inputs(synthetic_trained, 24)
    out = []
    for lockstep in (True, False):
        rng = np.random.default_rng([3, 5])
        scorer = Scorer(synthetic_trained.model, X0, space, rng, thr=0.5, k=2)
        out.append(hop_skip_jump(scorer, z0, base, 0.5, opts, 3, rng, lockstep=lockstep))
    (z_lock, s_lock), (z_seq, s_seq) = out
    assert s_lock["rows_with_start"] == s_seq["rows_with_start"] > 10
    assert np.array_equal(z_lock, z_seq)
    moved = np.abs(z_lock - z0).max(axis=1) > 0
    assert moved.sum() >= s_lock["rows_with_start"] - 1
    # one call per round in lockstep, one per question alone
    assert 0 < s_lock["model_calls"] < s_seq["model_calls"] / 10


class _Failing(Scorer):
    calls = 0

    def decide(self, rows, Z):
        _Failing.calls += 1
        if _Failing.calls == 4:  # the start's random points pass; a round of the attacks fails
            raise RuntimeError("model server down")
        return super().decide(rows, Z)


def test_a_failing_model_call_stops_every_attack_with_its_error(synthetic_trained):
    space, X0, base, z0 = _inputs(synthetic_trained, 12)
    rng = np.random.default_rng(0)
    scorer = _Failing(synthetic_trained.model, X0, space, rng, thr=0.5, k=2)
    _Failing.calls = 0
    with pytest.raises(RuntimeError, match="model server down"):
        hop_skip_jump(scorer, z0, base, 0.5, RobustnessOptions(hsj_max_iter=2), 0, rng)
    assert _Failing.calls == 4  # no attack went on asking after the failure

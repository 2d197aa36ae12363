"""Multiclass drift: predicted-class and label drift over classes on seeded data with a known shift."""

from __future__ import annotations

import numpy as np
import pytest

from audit.data import align_current
from audit.errors import DataError
from audit.sections.drift import DriftOptions, DriftReport, audit_drift
from conftest import make_multiclass

_OPTS = DriftOptions(domain_classifier=False)


def _current(multiclass_dataset, frame):
    return align_current(frame, multiclass_dataset)


def test_shifted_inputs_move_the_predicted_and_true_class_distributions(multiclass_trained, multiclass_dataset):
    frame = make_multiclass(1500, seed=9)
    frame["x1"] = np.sqrt(frame["x1"])  # more rows above 2/3: more "approve", fewer "decline"
    x1, top = frame["x1"].to_numpy(), np.where(frame["group"] == "B", 2 / 3 + 0.15, 2 / 3)
    frame["decision"] = np.where(x1 > top, "approve", np.where(x1 < 1 / 3, "decline", "refer"))
    r = audit_drift(multiclass_trained, options=_OPTS, seed=0, current=_current(multiclass_dataset, frame))
    assert r.prediction.feature == "predicted class" and r.prediction.kind == "categorical" and r.prediction.drifted
    assert r.labels.kind == "categorical" and r.labels.drifted
    assert any("predicted class distribution drifted" in m for m in r.verdict.reasons)
    (acc,) = r.performance
    assert acc.metric == "accuracy" and acc.current.value > 0.9 and acc.current.low <= acc.current.value <= acc.current.high
    assert DriftReport.from_dict(r.to_dict()).to_dict() == r.to_dict()


def test_same_distribution_has_no_prediction_or_label_drift(multiclass_trained, multiclass_dataset):
    r = audit_drift(multiclass_trained, options=_OPTS, seed=0, current=_current(multiclass_dataset, make_multiclass(1500, seed=11)))
    assert not r.prediction.drifted and not r.labels.drifted


def test_an_unknown_class_in_current_labels_is_a_clear_error(multiclass_trained, multiclass_dataset):
    frame = make_multiclass(200, seed=3)
    frame.loc[0, "decision"] = "escalate"
    with pytest.raises(DataError, match=r"holds \['escalate'\]; expected the training classes"):
        audit_drift(multiclass_trained, options=_OPTS, seed=0, current=_current(multiclass_dataset, frame))

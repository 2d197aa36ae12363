"""Dashboard: the user's own model on the New audit page (ONNX upload, predictions picker) and on every page."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state
from tests.conftest import ROOT, make_synthetic
from tests.test_user_model import fitted_pipeline, to_onnx_bytes

APP = str(ROOT / "dashboard" / "app.py")
PAGES = ("overview", "datasheet", "performance", "fairness", "explanations", "robustness", "drift", "privacy", "population", "model_card")


def _frame():
    frame = make_synthetic(400, seed=21)
    frame["risk"] = np.clip(np.round(5.5 + 2 * frame["x1"]), 1, 10).astype(int)
    return frame


def _upload(frame, model: tuple[str, bytes] | None = None, current=None) -> tuple[AppTest, str]:
    raw = frame.to_csv(index=False).encode()
    key = hashlib.sha256(raw).hexdigest()[:12]
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.file_uploader(key="upload_data").upload("data.csv", raw, "text/csv")
    at.run()
    if current is not None:
        at.file_uploader(key="upload_current").upload("current.csv", current.to_csv(index=False).encode(), "text/csv")
        at.run()
    if model is not None:
        at.file_uploader(key=f"upload_model_{key}").upload(model[0], model[1], "application/octet-stream")
        at.run()
    return at, key


def _run(at: AppTest, sections: list[str]) -> AppTest:
    at.multiselect(key="opt_sections").set_value(sections)
    at.number_input(key="opt_cv").set_value(0)
    if "privacy" in sections:
        at.number_input(key="opt_privacy_epochs").set_value(1)
    at.button(key="FormSubmitter:audit_options-Run audit").click()
    return at.run()


def _texts(at: AppTest) -> str:
    # Without Markdown escapes, so file names read as typed.
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "title") for e in getattr(at, kind)).replace("\\", "")


@pytest.mark.slow
def test_onnx_upload_is_the_audited_model_on_every_page():
    frame = _frame().drop(columns=["risk"])
    onnx_raw = to_onnx_bytes(fitted_pipeline(frame))
    at, _ = _upload(frame, ("model.onnx", onnx_raw))
    assert not at.error and any("(onnx, sha256" in c.value for c in at.caption)
    at = _run(at, ["performance", "fairness", "privacy"])
    assert not at.exception, [e.value for e in at.exception]
    rep = at.session_state[state.REPORT]
    assert rep.models.selected == "user" and rep.models.user_model.kind == "onnx"
    assert rep.models.user_model.sha256 == hashlib.sha256(onnx_raw).hexdigest()
    for page in (*PAGES, "reviews", "history"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page in PAGES:
            assert "audited model Your model (model.onnx, ONNX)" in _texts(at), page
        assert "model Your model (model.onnx, ONNX)" in [c.value.replace("\\", "") for c in at.sidebar.caption], page
    at.switch_page("views/privacy.py").run()
    # The DP sweep ran on reference networks; membership inference on the user's model did not, and says why.
    assert rep.privacy is not None and rep.privacy.audited.membership is None and rep.privacy.dp_models()
    text = _texts(at)
    assert "Membership inference on the audited model: not run: membership inference needs the rows the model was trained on" in text
    assert "Reference networks: the DP sweep's networks (logistic, mlp) are references trained here" in text


@pytest.mark.slow
def test_predictions_only_audit_says_which_sections_need_a_callable_model():
    at, key = _upload(_frame(), current=make_synthetic(200, seed=22))  # the current file lacks the predictions column
    at.selectbox(key=f"predictions_{key}").set_value("risk")
    at.checkbox(key=f"use_thr_{key}").check()
    at.run()
    at.number_input(key=f"threshold_{key}").set_value(6.0)
    at = _run(at, ["performance", "fairness", "drift", "explanations"])
    assert not at.exception, [e.value for e in at.exception]
    rep = at.session_state[state.REPORT]
    assert rep.models.user_model.kind == "predictions" and rep.models.user_model.threshold == 6.0
    assert "risk" not in rep.manifest.features and rep.explanations is None
    # Drift runs from the data alone; prediction drift is null because the current file has no predictions.
    assert rep.drift is not None and rep.drift.prediction is None and rep.drift.data.n_features == len(rep.manifest.features)
    at.switch_page("views/drift.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Prediction drift not run: the current data has no column 'risk'" in _texts(at)
    at.switch_page("views/explanations.py").run()
    assert "Not run: needs a callable model" in _texts(at)
    at.switch_page("views/overview.py").run()
    assert "Not run: needs a callable model" in _texts(at)  # the scorecard's explanations box says why
    at.switch_page("views/performance.py").run()
    assert "Your predictions (column risk)" in _texts(at)


def test_a_pickle_upload_is_refused_with_the_conversion_hint():
    frame = _frame()
    at, _ = _upload(frame, ("model.pkl", pickle.dumps({"not": "loaded"})))
    assert not at.exception
    assert any("never loads" in e.value and r"skops\.io\.dump" in e.value for e in at.error), [e.value for e in at.error]
    assert state.REPORT not in at.session_state

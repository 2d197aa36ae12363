"""Model card and datasheet of an audit of the user's own model (ONNX file, predictions column)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import numpy as np

from audit.cards.datasheet import datasheet
from audit.cards.modelcard import build_model_card, render_markdown, to_model_card_toolkit
from audit.config import config_from_mapping
from audit.models.loading import read_model_file
from audit.pipeline import run_audit
from tests.conftest import make_synthetic
from tests.test_user_model import fitted_pipeline, to_onnx_bytes

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "audit" / "cards" / "schemas" / "model_card.schema.v0.0.2.json").read_text())


def _config(model: dict, sections=("performance", "fairness", "privacy")):
    return config_from_mapping({"target": "label", "sensitive": ["sex"], "sections": list(sections), "model": model,
                                "models": {"cv_folds": 0, "models": ["dummy", "logistic"]},
                                "performance": {"bootstrap": 30}, "fairness": {"bootstrap": 30, "mitigations": ["threshold_dp"]},
                                "privacy": {"target_epsilons": [2.0], "networks": ["logistic"], "epochs": 2, "bootstrap": 20},
                                "drift": {"domain_classifier": False}})


def test_card_describes_an_onnx_model_and_validates():
    frame = make_synthetic(500, seed=31)
    raw = to_onnx_bytes(fitted_pipeline(frame))
    rep = run_audit(_config({"path": "gb.onnx"}), frame, workers=1, model_file=read_model_file(raw, name="gb.onnx"))
    card = build_model_card(rep)
    md = render_markdown(card)
    assert hashlib.sha256(raw).hexdigest() in md and "ONNX graph run with onnxruntime" in md
    assert "colour: tensor(string)" in md and "probabilities: tensor(float)" in md
    assert "The audited model is the user's own (Your model (gb.onnx, ONNX))" in md
    # Privacy: membership inference not run, with the reason; the DP sweep's networks named as references.
    assert "Membership inference on the audited model" in md and "membership inference needs the rows the model was trained on" in md
    assert "not your model" in md and rep.privacy.audited.membership is None
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(to_model_card_toolkit(card))
    sheet = render_markdown(datasheet(rep))
    assert "to evaluate Your model (gb.onnx, ONNX)" in sheet.replace("\\", "") and "the model was not trained here" in sheet


def test_card_of_a_predictions_column_states_its_scale():
    frame = make_synthetic(500, seed=32)
    frame["risk"] = np.clip(np.round(5 + 2 * frame["x1"]), 1, 10)
    current = make_synthetic(300, seed=33)  # no "risk" column: prediction drift is null, with the reason
    rep = run_audit(_config({"predictions": "risk", "threshold": 6}, sections=("performance", "fairness", "drift", "explanations")),
                    frame, current=current, workers=1)
    assert rep.drift is not None and rep.drift.prediction is None and rep.explanations is None and rep.fairness is not None
    md = render_markdown(build_model_card(rep))
    assert "Prediction drift" in md and "not run: the current data has no column 'risk'" in md.replace("\\", "")
    assert "predictions supplied in a column of the data" in md
    assert "a score on its own scale; predicted positive when it is at least 6" in md
    assert "needs a callable model" in md
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(to_model_card_toolkit(build_model_card(rep)))

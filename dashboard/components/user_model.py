"""New audit: the optional "your model" block, an ONNX / skops upload or a predictions column picker.

The file is checked by the core (size, format, no pickle) as soon as it is uploaded, so a
refused file is an ``st.error`` before the options form, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from audit.config import UserModelOptions
from audit.errors import AuditError
from audit.models.loading import ModelFile, read_model_file
from dashboard.components.text import md

NO_PREDICTIONS = "(none: audit the baselines or an uploaded model)"
# Pickle types are accepted by the widget so the core can say why it refuses them and how to convert.
MODEL_TYPES = ["onnx", "skops", "pkl", "pickle", "joblib"]


@dataclass(frozen=True)
class ModelChoice:
    """What the user picked: the ``[model]`` table and the uploaded file (None for baselines only)."""

    options: dict[str, Any]
    file: ModelFile | None

    @property
    def fingerprint(self) -> str:
        return f"{self.file.sha256 if self.file else ''}|{sorted(self.options.items())}"


def model_picker(columns: list[str], *, key: str) -> ModelChoice | None:
    """The optional model block; None when the user's input is refused (the error is shown)."""
    with st.expander("Your model (optional): audit the model you ship, or its predictions", expanded=False):
        st.caption("Upload an ONNX (.onnx) or skops (.skops) file, or name the column that holds your model's output. "
                   "The baselines still train and appear beside it as references. Pickle and joblib files are never loaded.")
        up = st.file_uploader("Model file: ONNX or skops", type=MODEL_TYPES, key=f"upload_model_{key}")
        pred = st.selectbox("Predictions column", [NO_PREDICTIONS, *columns], key=f"predictions_{key}",
                            help="a probability, a 0/1 decision, a risk score with a threshold, or a regression prediction")
        use_thr = st.checkbox("The predictions are a score on their own scale (for example deciles 1-10)", key=f"use_thr_{key}")
        thr = st.number_input("Decision threshold on that scale (a score at or above it is positive)", value=5.0,
                              key=f"threshold_{key}", disabled=not use_thr)
        evaluate = st.radio("Rows that judge your model", ["all", "test"], horizontal=True, key=f"evaluate_{key}",
                            format_func=lambda v: "every row of the table" if v == "all" else "the baselines' test split")
    opts: dict[str, Any] = {"evaluate_on": evaluate}
    file = None
    if up is not None:
        try:
            file = read_model_file(up.getvalue(), name=up.name, max_file_mb=UserModelOptions().max_file_mb)
        except AuditError as exc:
            st.error(md(exc))
            return None
        opts["path"] = up.name
        st.caption(f"Audited model: {md(up.name)} ({file.format}, sha256 {file.sha256[:12]}…)")
    if pred != NO_PREDICTIONS:
        opts["predictions"] = pred
        if use_thr:
            opts["threshold"] = float(thr)
        st.caption(f"Audited model: the predictions in column {md(pred)}")
    try:
        UserModelOptions(**opts)
    except AuditError as exc:
        st.error(md(exc))
        return None
    return ModelChoice(opts, file)

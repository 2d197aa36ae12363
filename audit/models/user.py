"""The user's own model as the audited model: an ONNX graph, a skops estimator or a predictions column.

Each adapter offers ``score(X)`` on raw feature frames (P(positive) for a binary
task, the prediction for regression), the interface :class:`TrainedModels` gives
sections. ``attach_user_model`` returns a :class:`UserTrainedModels` whose
``selected`` model is the user's, so sections that only score rows run
unchanged; the baselines stay in ``pipelines`` as references. Sections that need
a scikit-learn pipeline's insides, or new rows scored, check ``refittable`` /
``callable`` (see ``NEEDS`` in :mod:`audit.models.attach`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.models.loading import UNPACKED_FACTOR, ModelError, ModelFile, load_skops, open_onnx

E_MISSING_INPUTS = "the ONNX model's inputs name columns missing from the data: {cols}"
E_ONE_TENSOR = (
    "the ONNX model takes one tensor input {name!r} of {width} features; name them in order with "
    "[model] features (or store them as 'features' in the ONNX metadata)"
)
E_WIDTH = "the ONNX model's input {name!r} takes {width} features but [model] features names {n}"
E_UNKNOWN_FEATURE = "[model] features names columns missing from the data: {cols}"
E_STRING_IN_TENSOR = "the ONNX model's single input is numeric but feature {col!r} holds text; give the model one input per column"
E_OUTPUT = "the model's output does not fit a {task} task: {detail}"
E_RUN = "the model failed on the audit data: {detail}"
E_NO_PREDICT = "the skops file holds a {cls}, which has no {method} method for a {task} task"


def _safe(text: str) -> str:
    """A file or column name reduced to characters safe in Markdown, HTML and PDF."""
    return re.sub(r"[^A-Za-z0-9 ._()+-]", "_", str(text))[:80]


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX graph run by onnxruntime; inputs matched to columns by name, or one tensor input."""

    session: object
    task: str
    features: tuple[str, ...]  # the data columns fed, in order
    by_name: bool  # one graph input per column (True) or one tensor of all features
    output: str
    output_kind: str  # "proba2" | "proba1" | "label" | "zipmap" | "value"
    file: ModelFile
    callable: bool = True
    refittable: bool = False
    kind: str = "onnx"

    @property
    def label(self) -> str:
        return f"Your model ({_safe(self.file.name)}, ONNX)"

    def _feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        if self.by_name:
            feed = {}
            for inp in self.session.get_inputs():
                col = X[inp.name]
                feed[inp.name] = _column_tensor(col, inp.type)
            return feed
        inp = self.session.get_inputs()[0]
        M = X[list(self.features)]
        dtype = np.float64 if "double" in inp.type else np.float32
        return {inp.name: M.to_numpy(dtype=dtype, na_value=np.nan)}

    def score(self, X: pd.DataFrame) -> np.ndarray:
        try:
            out = self.session.run([self.output], self._feed(X))[0]
        except Exception as exc:  # onnxruntime's pybind errors
            raise ModelError(E_RUN.format(detail=str(exc).strip().splitlines()[0][:300])) from exc
        return _as_score(out, self.output_kind)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Two columns, P(negative) and P(positive), for code that expects a scikit-learn classifier."""
        s = self.score(X)
        return np.column_stack([1 - s, s])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        s = self.score(X)
        return (s >= 0.5).astype(np.int64) if self.task == "binary" else s

    def __reduce__(self):
        # An onnxruntime session cannot be pickled. A Dask worker that is sent this model (the
        # every-row statistics score partitions there) opens its own session from the file's
        # bytes, with the same options; only our own object is pickled, never a user's file.
        return (_reopen, (self.file, self.task, self.features, self.by_name, self.output, self.output_kind))

    def describe(self) -> dict:
        meta = self.session.get_modelmeta()
        return {
            "producer": f"{meta.producer_name} {getattr(meta, 'version', '')}".strip(),
            "inputs": tuple(f"{i.name}: {i.type} {list(i.shape)}" for i in self.session.get_inputs()),
            "outputs": tuple(f"{o.name}: {o.type} {list(o.shape)}" for o in self.session.get_outputs()),
        }


def _reopen(file: ModelFile, task: str, features: tuple[str, ...], by_name: bool, output: str, output_kind: str) -> OnnxModel:
    return OnnxModel(session=open_onnx(file.raw, file.name), task=task, features=features, by_name=by_name,
                     output=output, output_kind=output_kind, file=file)


def _column_tensor(col: pd.Series, onnx_type: str) -> np.ndarray:
    if "string" in onnx_type:
        # Vectorised (the explainers send many small batches): missing -> "missing", as the baselines' imputer does.
        vals = col.astype(object).where(col.notna(), "missing").astype(str)
        return vals.to_numpy(dtype=object).reshape(-1, 1)
    dtype = {"tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32}.get(onnx_type, np.float32)
    num = pd.to_numeric(col, errors="coerce")
    if np.issubdtype(dtype, np.integer):
        num = num.fillna(0)
    return num.to_numpy(dtype=dtype).reshape(-1, 1)


def _as_score(out, kind: str) -> np.ndarray:
    if kind == "zipmap":
        return np.array([float(d.get(1, d.get("1", 0.0))) for d in out], dtype=np.float64)
    arr = np.asarray(out, dtype=np.float64)
    if kind == "proba2":
        return arr[:, 1]
    return arr.reshape(-1)


def _pick_output(session, task: str) -> tuple[str, str]:
    """The output that holds P(positive) (binary) or the prediction (regression), and how to read it."""
    outs = session.get_outputs()
    if task == "binary":
        for o in outs:
            if o.type.startswith("seq(map"):
                return o.name, "zipmap"
        floats = [o for o in outs if o.type in ("tensor(float)", "tensor(double)")]
        for o in sorted(floats, key=lambda o: "prob" not in o.name.lower()):
            width = o.shape[-1] if len(o.shape) == 2 else 1
            if width == 2:
                return o.name, "proba2"
            if width == 1 or len(o.shape) == 1:
                return o.name, "proba1"
            raise ModelError(E_OUTPUT.format(task=task, detail=f"output {o.name!r} has {width} columns; a binary model gives P(y=1) or two class probabilities"))
        if outs and outs[0].type.startswith("tensor(int"):
            return outs[0].name, "label"
        raise ModelError(E_OUTPUT.format(task=task, detail=f"no probability or label output among {[o.name for o in outs]}"))
    for o in outs:
        if o.type in ("tensor(float)", "tensor(double)"):
            width = o.shape[-1] if len(o.shape) == 2 else 1
            if width not in (1, None) and not isinstance(width, str):
                raise ModelError(E_OUTPUT.format(task=task, detail=f"output {o.name!r} has {width} columns; a regression model gives one value per row"))
            return o.name, "value"
    raise ModelError(E_OUTPUT.format(task=task, detail="no numeric output"))


def onnx_model(file: ModelFile, *, task: str, columns: tuple[str, ...], features: tuple[str, ...] = ()) -> OnnxModel:
    """Open an ONNX file and match its inputs to the data's columns."""
    sess = open_onnx(file.raw, file.name)
    inputs = sess.get_inputs()
    names = [i.name for i in inputs]
    if len(inputs) == 1 and names[0] not in columns:
        width = inputs[0].shape[-1] if len(inputs[0].shape) == 2 else None
        feats = tuple(features) or _meta_features(sess)
        if not feats:
            raise ModelError(E_ONE_TENSOR.format(name=names[0], width=width if isinstance(width, int) else "its"))
        missing = [c for c in feats if c not in columns]
        if missing:
            raise ModelError(E_UNKNOWN_FEATURE.format(cols=", ".join(missing)))
        if isinstance(width, int) and width != len(feats):
            raise ModelError(E_WIDTH.format(name=names[0], width=width, n=len(feats)))
        by_name = False
    else:
        missing = [n for n in names if n not in columns]
        if missing:
            raise ModelError(E_MISSING_INPUTS.format(cols=", ".join(missing)))
        feats, by_name = tuple(names), True
    output, kind = _pick_output(sess, task)
    return OnnxModel(session=sess, task=task, features=tuple(feats), by_name=by_name, output=output, output_kind=kind, file=file)


def _meta_features(sess) -> tuple[str, ...]:
    raw = sess.get_modelmeta().custom_metadata_map.get("features", "")
    if not raw:
        return ()
    try:
        val = json.loads(raw)
        return tuple(str(v) for v in val) if isinstance(val, list) else ()
    except json.JSONDecodeError:
        return tuple(s.strip() for s in raw.split(",") if s.strip())


@dataclass(frozen=True)
class SkopsModel:
    """A scikit-learn estimator from a skops file (loaded under the allow-list)."""

    estimator: object
    task: str
    positive_index: int
    features: tuple[str, ...]
    file: ModelFile
    callable: bool = True
    refittable: bool = False
    kind: str = "skops"

    @property
    def label(self) -> str:
        return f"Your model ({_safe(self.file.name)}, skops)"

    def score(self, X: pd.DataFrame) -> np.ndarray:
        try:
            Xf = X[list(self.features)] if self.features else X
            if self.task == "binary":
                return np.asarray(self.estimator.predict_proba(Xf), dtype=np.float64)[:, self.positive_index]
            return np.asarray(self.estimator.predict(Xf), dtype=np.float64).reshape(-1)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ModelError(E_RUN.format(detail=str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__)) from exc

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Two columns, P(negative) and P(positive), for code that expects a scikit-learn classifier."""
        s = self.score(X)
        return np.column_stack([1 - s, s])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        s = self.score(X)
        return (s >= 0.5).astype(np.int64) if self.task == "binary" else s

    def describe(self) -> dict:
        est = self.estimator
        steps = getattr(est, "steps", None)
        what = " > ".join(type(s).__name__ for _, s in steps) if steps else type(est).__name__
        import sklearn

        return {"producer": f"scikit-learn estimator {what} (loaded with skops; sklearn {sklearn.__version__})",
                "inputs": tuple(self.features), "outputs": ("predict_proba[:, positive]",) if self.task == "binary" else ("predict",)}


def skops_model(file: ModelFile, *, task: str, columns: tuple[str, ...], positive_label: str | None,
                max_file_mb: float = 200.0) -> SkopsModel:
    est = load_skops(file.raw, file.name, max_unpacked_mb=max_file_mb * UNPACKED_FACTOR)
    method = "predict_proba" if task == "binary" else "predict"
    if not callable(getattr(est, method, None)):
        raise ModelError(E_NO_PREDICT.format(cls=type(est).__name__, method=method, task=task))
    feats = tuple(str(c) for c in getattr(est, "feature_names_in_", ()))
    missing = [c for c in feats if c not in columns]
    if missing:
        raise ModelError(f"the skops model was fitted on columns missing from the data: {', '.join(missing)}")
    pos = 1
    if task == "binary":
        classes = [str(c) for c in getattr(est, "classes_", [0, 1])]
        if len(classes) != 2:
            raise ModelError(E_OUTPUT.format(task=task, detail=f"the model has {len(classes)} classes"))
        for cand in (positive_label, "1", "1.0", "True"):
            if cand is not None and str(cand) in classes:
                pos = classes.index(str(cand))
                break
    return SkopsModel(estimator=est, task=task, positive_index=pos, features=feats, file=file)


@dataclass(frozen=True, eq=False)
class PredictionsColumn:
    """A data column holding the model's output for each row; it cannot score new rows.

    ``values`` is aligned with ``dataset.frame``; ``rows`` maps the identity of the
    split frames sections pass to ``score`` onto row numbers of that frame.
    """

    column: str
    values: np.ndarray  # on the audit's score scale (a thresholded risk score mapped onto [0, 1])
    task: str
    threshold: float | None
    rows: dict
    raw: np.ndarray | None = None  # the column as given (None: the same as ``values``)
    scale: tuple[float, float] | None = None  # the data's (min, max) of a thresholded risk score
    callable: bool = False
    refittable: bool = False
    kind: str = "predictions"

    @property
    def label(self) -> str:
        return f"Your predictions (column {_safe(self.column)})"

    def score(self, X: pd.DataFrame) -> np.ndarray:
        idx = self.rows.get(id(X))
        if idx is None:
            raise ModelError(
                f"a predictions column ({self.column!r}) only scores the rows it came with; "
                "this part of the audit needs a callable model (an ONNX or skops file)"
            )
        return self.values[idx]

    def to_score(self, raw: np.ndarray) -> np.ndarray:
        """Another table's copy of the column mapped like ``values`` (the same cut at 0.5, the same scale)."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.task != "binary" or self.threshold is None:
            return raw
        lo, hi = self.scale if self.scale is not None else (float(raw.min()), float(raw.max()))
        return rescale_at_threshold(raw, self.threshold, low=lo, high=hi)

    def describe(self) -> dict:
        scale = (f"a score with decision threshold {self.threshold:g} (at or above = positive)" if self.threshold is not None
                 else "probabilities or 0/1 decisions" if self.task == "binary" else "regression predictions")
        return {"producer": f"predictions column {self.column!r} of the data ({scale})", "inputs": (), "outputs": (self.column,)}


def check_predictions(values: pd.Series, *, column: str, task: str, threshold: float | None) -> np.ndarray:
    """The column as floats, or a one-line error (missing values, text, probabilities outside [0, 1])."""
    num = pd.to_numeric(values, errors="coerce")
    bad_text = num.isna() & values.notna()
    if bad_text.any():
        raise ModelError(f"predictions column {column!r} holds non-numeric values such as {values[bad_text].iloc[0]!r}")
    arr = num.to_numpy(dtype=np.float64)
    n_missing = int((~np.isfinite(arr)).sum())
    if n_missing:
        raise ModelError(f"predictions column {column!r} has {n_missing} missing or infinite values; every row needs a prediction")
    if task == "binary" and threshold is None and (arr.min() < 0 or arr.max() > 1):
        raise ModelError(
            f"predictions column {column!r} holds values from {arr.min():g} to {arr.max():g}, outside [0, 1]; "
            "give the decision cut on its scale with --threshold (or [model] threshold)"
        )
    return arr


def rescale_at_threshold(s: np.ndarray, thr: float, *, low: float | None = None, high: float | None = None) -> np.ndarray:
    """A risk score mapped monotonically onto [0, 1] with the threshold at 0.5.

    Ranks (so AUC) and decisions (score >= threshold iff mapped >= 0.5) are kept;
    the mapped value is not a probability, which the report says. ``low`` / ``high``
    (default the scores' own range) fix the scale, so another table's scores map alike.
    """
    lo = float(s.min()) if low is None else float(low)
    hi = float(s.max()) if high is None else float(high)
    below = 0.5 * (s - lo) / (thr - lo) if thr > lo else np.zeros_like(s)
    above = 0.5 + 0.5 * (s - thr) / (hi - thr) if hi > thr else np.full_like(s, 0.5)
    return np.where(s >= thr, np.clip(above, 0.5, 1.0), np.clip(below, 0.0, np.nextafter(0.5, 0)))

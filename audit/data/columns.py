"""Which columns are features: each column's kind (numeric or categorical) and role, with
ID-like and personal-identifier columns excluded for a stated reason (name and value heuristics)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.config import DataOptions
from audit.errors import DataError
from audit.serial import ReportMixin

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s\-().]{7,20}$")
_NAME_COLS = re.compile(r"^(first|last|full|given|family|middle|sur)?_?name$|^surname$|^(client|customer|person|patient)_?name$", re.I)
_DOB_COLS = re.compile(r"^(dob|date_?of_?birth|birth_?date|birthdate|birthday)$", re.I)
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|ssn|key)$", re.I)



@dataclass(frozen=True)
class ColumnSchema(ReportMixin):
    """One column as the audit sees it."""

    name: str
    kind: str  # "numeric" | "categorical" | "other"
    role: str  # "feature" | "target" | "sensitive" | "excluded"
    missing: int
    unique: int
    reason: str | None = None


def is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def as_text(s: pd.Series, missing: object) -> np.ndarray:
    """``str`` of every value and ``missing`` where a value is missing, as an object array.

    The same as ``s.map(lambda v: missing if pd.isna(v) else str(v))``, vectorised for the
    dtypes whose ``astype(str)`` is ``str`` of each value (strings, objects, bools, integers, float64):
    that per-value lambda took 10 of the 18 s of preparing 500,000 rows for the every-row
    statistics. Other dtypes (dates, categoricals, nullable extension types) keep the lambda.
    """
    dt = s.dtype
    # float32 is left out: astype(str) prints it short ("0.1"), str() of its Python float does not.
    # An object column qualifies only when it holds strings or numbers: astype(str) decodes bytes.
    fast = isinstance(dt, pd.StringDtype) or (isinstance(dt, np.dtype) and (dt.kind in "biu" or dt == np.float64))
    if isinstance(dt, np.dtype) and dt.kind == "O":
        fast = pd.api.types.infer_dtype(s, skipna=True) in ("string", "integer", "floating", "mixed-integer-float", "boolean", "empty")
    if fast:
        text = s.astype(str).to_numpy(dtype=object)
        text[s.isna().to_numpy()] = missing
        return text
    # Not Series.map: it turns a None result back into NaN for some dtypes.
    out = np.empty(len(s), dtype=object)
    out[:] = [missing if pd.isna(v) else str(v) for v in s.astype(object)]
    return out


def _string_values(s: pd.Series, n: int = 500) -> pd.Series:
    v = s.dropna()
    if len(v) > n:
        v = v.sample(n, random_state=0)
    return v.astype(str).str.strip()


def pii_reason(col: str, s: pd.Series) -> str | None:
    """Why a column is a personal identifier, or None. Name and value heuristics."""
    if _DOB_COLS.match(col):
        return "personal identifier (date of birth)"
    if _NAME_COLS.match(col):
        return "personal identifier (person's name)"
    if is_numeric(s):
        return None
    vals = _string_values(s)
    if len(vals) == 0:
        return None
    if vals.str.match(_EMAIL).mean() > 0.5:
        return "personal identifier (email addresses)"
    phone_like = vals.str.match(_PHONE) & (vals.str.count(r"\d") >= 7)
    if phone_like.mean() > 0.5:
        return "personal identifier (phone numbers)"
    if vals.str.len().mean() > 30 and s.nunique(dropna=True) > 0.5 * s.notna().sum():
        return "free text (not a supported feature type)"
    if vals.str.match(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$|^\d{1,2}/\d{1,2}/\d{2,4}$").mean() > 0.8:
        return "date or time values (not a supported feature type)"
    return None


def id_reason(col: str, s: pd.Series, n_rows: int) -> str | None:
    nun = s.nunique(dropna=True)
    if n_rows >= 20 and nun == n_rows and s.notna().all():
        if not is_numeric(s) or pd.api.types.is_integer_dtype(s) or _ID_NAME.search(col):
            return "ID-like (a different value in every row)"
    if _ID_NAME.search(col) and nun > 0.9 * n_rows and n_rows >= 20:
        return "ID-like (named like an identifier, nearly unique)"
    return None


def _column_kind(frame: pd.DataFrame, col: str, opts: DataOptions) -> str:
    """"numeric" or "categorical" (declared, or inferred: numbers stored as text become numbers); converts ``frame[col]`` in place."""
    s = frame[col]
    kind = opts.column_types.get(col)
    if kind is None:
        if is_numeric(s):
            return "numeric"
        # Whether every value parses is decided on the distinct values first: a value parses or
        # not wherever it stands, and to_numeric over a 1M-row text column took 1.5 s.
        try:
            if pd.to_numeric(pd.Series(s.dropna().unique()), errors="coerce").isna().any():
                return "categorical"
        except TypeError:  # unhashable cells (lists from a parquet file): the whole column decides
            pass
        conv = pd.to_numeric(s, errors="coerce")
        if s.notna().sum() > 0 and conv.notna().sum() == s.notna().sum() and not pd.api.types.is_bool_dtype(s):
            frame[col] = conv
            return "numeric"
        return "categorical"
    if kind not in ("numeric", "categorical"):
        raise DataError(f"column type override for {col!r} must be numeric or categorical, got {kind!r}")
    if kind == "numeric" and not is_numeric(s):
        conv = pd.to_numeric(s, errors="coerce")
        if conv.notna().sum() < s.notna().sum():
            raise DataError(f"column {col!r} was declared numeric but holds non-numeric values such as {s[conv.isna() & s.notna()].iloc[0]!r}")
        frame[col] = conv
    return kind


def _column_role(col: str, s: pd.Series, n: int, target: str, sensitive: tuple[str, ...], predictions: str | None,
                 opts: DataOptions) -> tuple[str, str | None]:
    """(role, why it is not a feature): target, sensitive, predictions, excluded or feature."""
    if col == target:
        return "target", None
    if col in sensitive:
        return "sensitive", None
    if col == predictions:
        return "predictions", "the model's predictions (never a feature)"
    if col in opts.exclude:
        return "excluded", "excluded by the user"
    reason = pii_reason(col, s) or id_reason(col, s, n)
    if reason is None and s.isna().all():
        reason = "empty (every value missing)"
    if reason is None and s.nunique(dropna=True) <= 1:
        reason = "constant (one value)"
    return ("excluded" if reason else "feature"), reason


def classify_columns(frame: pd.DataFrame, target: str, sensitive: tuple[str, ...], predictions: str | None,
                     opts: DataOptions, warnings: list[str]) -> tuple[list, dict[str, str], list[str], list[str]]:
    """Every column's schema entry, the excluded columns with their reasons, and the numeric and
    categorical model inputs. Converts numeric text and infinite values in ``frame`` in place."""
    columns, excluded, numeric, categorical = [], {}, [], []
    n = len(frame)
    for col in frame.columns:
        kind = _column_kind(frame, col, opts)
        s = frame[col]
        if kind == "numeric" and col != target and s.isin([np.inf, -np.inf]).any():
            n_inf = int(s.isin([np.inf, -np.inf]).sum())
            warnings.append(f"column {col!r}: {n_inf} infinite values were treated as missing")
            s = frame[col] = s.replace([np.inf, -np.inf], np.nan)
        role, reason = _column_role(col, s, n, target, sensitive, predictions, opts)
        if role == "excluded":
            excluded[col] = reason or "excluded"
        columns.append(ColumnSchema(name=col, kind=kind, role=role, missing=int(s.isna().sum()), unique=int(s.nunique(dropna=True)), reason=reason))
        if role == "feature" or (role == "sensitive" and opts.sensitive_as_features):
            (numeric if kind == "numeric" else categorical).append(col)
    return columns, excluded, numeric, categorical


def labelled(target: pd.Series) -> np.ndarray:
    """Rows that have a target (missing and infinite targets are dropped, as in ``prepare_dataset``)."""
    keep = target.notna().to_numpy().copy()
    if is_numeric(target):
        keep &= ~target.isin([np.inf, -np.inf]).to_numpy()
    return keep


def count_labelled(part: pd.DataFrame, target: str) -> int:
    """Labelled rows of a partition (the row numbers of the bootstrap weights count these)."""
    return int(labelled(part[target]).sum())

"""From a table to a :class:`Dataset`: target and sensitive columns validated, column
kinds and the task inferred, ID-like and personal-identifier columns excluded with a
stated reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from audit.config import DataOptions
from audit.errors import DataError

from audit.data.columns import ColumnSchema, as_text, classify_columns, is_numeric
from audit.data.read import E_NO_ROWS, INTAKE_WARNINGS, dedupe_columns, frame_sha256, load_table

E_UNKNOWN_TARGET = "target column {col!r} is not in the data; columns are: {cols}"
E_UNKNOWN_SENSITIVE = "sensitive column {col!r} is not in the data; columns are: {cols}"
E_TARGET_SENSITIVE = "column {col!r} cannot be both the target and a sensitive attribute"
E_ONE_CLASS = "target column {col!r} has a single value ({value!r}); a model needs at least two classes"
E_MOSTLY_MISSING = "target column {col!r} is missing in {pct:.0f}% of rows; at most 50% may be missing"
E_MULTICLASS = (
    "target column {col!r} has {n} classes; at most {max} are supported (data.max_classes): "
    "group rare classes together, or declare the column numeric (data.column_types) to audit it as regression"
)
E_NO_FEATURES = "no usable feature is left after excluding {excluded}; the model needs at least one feature column"
E_NO_SENSITIVE = "name at least one sensitive column (for example sex or race) to audit fairness"

@dataclass(frozen=True, eq=False)
class Dataset:
    """A validated table ready for modelling. Not serialised; the manifest describes it."""

    frame: pd.DataFrame
    name: str
    sha256: str
    target: str
    sensitive: tuple[str, ...]
    task: str  # "binary" | "multiclass" | "regression"
    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    immutable: tuple[str, ...]
    excluded: Mapping[str, str]
    columns: tuple[ColumnSchema, ...]
    warnings: tuple[str, ...]
    positive_label: str | None
    y: np.ndarray
    groups: pd.DataFrame  # sensitive columns as string group labels
    rows_in_file: int
    sampled: bool = False
    options: DataOptions = field(default_factory=DataOptions)
    # Class labels in code order: y == k means classes[k]. Binary: (negative, positive); regression: ().
    classes: tuple[str, ...] = ()
    predictions: str | None = None  # the user's predictions column: in the frame, never a feature

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def X(self) -> pd.DataFrame:
        return self.frame[list(self.features)]


def prepare_dataset(
    frame: pd.DataFrame,
    *,
    target: str,
    sensitive: tuple[str, ...] | list[str],
    options: DataOptions | None = None,
    name: str = "data",
    sha256: str | None = None,
    seed: int = 0,
    positive_label: str | None = None,
    predictions: str | None = None,
) -> Dataset:
    """Validate ``frame`` and infer its schema.

    Parameters
    ----------
    frame : the table as read.
    target : the label column.
    sensitive : sensitive attribute columns (at least one).
    options : data options (limits, exclusions, overrides).
    name, sha256 : provenance for the manifest; sha256 defaults to a hash of the content.
    seed : used when the table is sampled down to ``options.max_rows``.
    positive_label : which label value is the positive class (default: 1 / True / yes / the
        minority class).
    predictions : a column holding the user's model output: kept in the frame, never a feature.

    Returns
    -------
    Dataset
    """
    opts = options or DataOptions()
    sensitive = tuple(sensitive)
    frame = dedupe_columns(frame)
    _check_names(frame, target, sensitive, predictions, opts, name)
    sha = sha256 or frame_sha256(frame)
    rows_in_file = len(frame)
    # Taken off the frame so a frame prepared twice does not repeat them.
    warnings: list[str] = list(frame.attrs.pop(INTAKE_WARNINGS, ()))

    frame, sampled = _labelled_rows(frame, target, opts, seed, warnings)

    task, y, pos, classes = _infer_task(frame[target], target, positive_label, max_classes=opts.max_classes,
                                        numeric_declared=opts.column_types.get(target) == "numeric")

    columns, excluded, numeric, categorical = classify_columns(frame, target, sensitive, predictions, opts, warnings)

    features = _features(frame, numeric, categorical, sensitive, excluded, opts, warnings)

    # Categorical features as strings so one-hot encoding sees one consistent type.
    for c in categorical:
        frame[c] = frame[c].astype("object").where(frame[c].notna(), None)
        frame[c] = frame[c].map(lambda v: None if v is None else str(v)).astype(object)
    groups = _group_table(frame, sensitive, opts.min_group_size, warnings)
    keep = [c for c in frame.columns if c not in excluded]
    frame = frame[keep].copy()
    return Dataset(
        frame=frame, name=name, sha256=sha, target=target, sensitive=sensitive, task=task, features=features,
        numeric=tuple(c for c in features if c in numeric),
        categorical=tuple(c for c in features if c in categorical), immutable=tuple(opts.immutable),
        excluded=excluded, columns=tuple(columns), warnings=tuple(warnings), positive_label=pos, y=y, groups=groups,
        rows_in_file=rows_in_file, sampled=sampled, options=opts, classes=classes, predictions=predictions or None,
    )


def _features(frame: pd.DataFrame, numeric: list[str], categorical: list[str], sensitive: tuple[str, ...],
              excluded: Mapping[str, str], opts: DataOptions, warnings: list[str]) -> tuple[str, ...]:
    """The model inputs in column order; at least one must be non-sensitive, and every immutable column one of them."""
    for col, why in excluded.items():
        if why != "excluded by the user":
            warnings.append(f"column {col!r} excluded from the features: {why}")
    features = tuple(c for c in frame.columns if c in numeric or c in categorical)
    non_sensitive = [c for c in features if c not in sensitive]
    if not non_sensitive:
        listed = ", ".join(f"{c} ({r})" for c, r in excluded.items()) or "the target and sensitive columns"
        raise DataError(E_NO_FEATURES.format(excluded=listed))
    for c in opts.immutable:
        if c not in features:
            raise DataError(f"immutable column {c!r} is not a model feature")

    return features


def _check_names(frame: pd.DataFrame, target: str, sensitive: tuple[str, ...], predictions: str | None,
                 opts: DataOptions, name: str) -> None:
    """Every column the caller named is in the data and plays one role."""
    cols = [str(c) for c in frame.columns]
    if frame.empty or len(frame) == 0:
        raise DataError(E_NO_ROWS.format(name=name))
    shown = ", ".join(cols[:30]) + (" ..." if len(cols) > 30 else "")
    if target not in frame.columns:
        raise DataError(E_UNKNOWN_TARGET.format(col=target, cols=shown))
    if not sensitive:
        raise DataError(E_NO_SENSITIVE)
    for s in sensitive:
        if s not in frame.columns:
            raise DataError(E_UNKNOWN_SENSITIVE.format(col=s, cols=shown))
        if s == target:
            raise DataError(E_TARGET_SENSITIVE.format(col=s))
    if predictions and (predictions not in frame.columns or predictions == target or predictions in sensitive):
        raise DataError(f"predictions column {predictions!r} must be a column of the data other than the target and sensitive columns; columns are: {shown}")
    for c in (*opts.exclude, *opts.immutable, *opts.column_types):
        if c not in frame.columns:
            raise DataError(f"column {c!r} named in the data options is not in the data; columns are: {shown}")


def _labelled_rows(frame: pd.DataFrame, target: str, opts: DataOptions, seed: int, warnings: list[str]) -> tuple[pd.DataFrame, bool]:
    """Rows with a target (at most half may lack one), sampled down to ``max_rows``; whether it was sampled."""
    rows_in_file = len(frame)
    if is_numeric(frame[target]) and frame[target].isin([np.inf, -np.inf]).any():
        frame[target] = frame[target].replace([np.inf, -np.inf], np.nan)
    y_raw = frame[target]
    missing_share = float(y_raw.isna().mean())
    if missing_share > 0.5:
        raise DataError(E_MOSTLY_MISSING.format(col=target, pct=100 * missing_share))
    if missing_share > 0:
        n_drop = int(y_raw.isna().sum())
        warnings.append(f"{n_drop} rows with a missing target were dropped")
        frame = frame.loc[y_raw.notna()]
    frame = frame.reset_index(drop=True)
    sampled = False
    if opts.max_rows and len(frame) > opts.max_rows:
        frame = frame.sample(opts.max_rows, random_state=seed).reset_index(drop=True)
        sampled = True
        warnings.append(f"the table has {rows_in_file} rows; a seeded sample of {opts.max_rows} was audited")

    return frame, sampled


def _group_table(frame: pd.DataFrame, sensitive: tuple[str, ...], min_group_size: int, warnings: list[str]) -> pd.DataFrame:
    """Sensitive columns as string group labels, with a warning for every group below the minimum size."""
    groups = pd.DataFrame(index=frame.index)
    for s_col in sensitive:
        groups[s_col] = _group_labels(frame[s_col], s_col, warnings)
        counts = groups[s_col].value_counts()
        small = counts[counts < min_group_size]
        for g, k in small.items():
            warnings.append(
                f"sensitive group {s_col}={g} has only {k} rows (minimum {min_group_size}); "
                "its metrics are reported but flagged and excluded from verdicts"
            )
    return groups


def _group_labels(s: pd.Series, col: str, warnings: list[str]) -> pd.Series:
    """Sensitive values as string group labels; many-valued numeric columns become quartile bins."""
    if is_numeric(s) and s.nunique(dropna=True) > 10:
        binned = pd.qcut(s, q=4, duplicates="drop")
        warnings.append(f"numeric sensitive column {col!r} was grouped into quartile bins for group metrics")
        out = binned.astype(str)
        return out.where(s.notna(), "missing")
    return pd.Series(as_text(s, "missing"), index=s.index, dtype=object, name=s.name)


def _infer_task(
    y: pd.Series, col: str, positive_label: str | None, *, max_classes: int = 20, numeric_declared: bool = False
) -> tuple[str, np.ndarray, str | None, tuple[str, ...]]:
    """Task, encoded target, positive label (binary only) and class labels in code order.

    Two values: binary. A numeric target with fractional values, more distinct integers
    than ``max_classes``, or declared numeric: regression. Otherwise 3 to ``max_classes``
    values: multiclass, coded 0..k-1 in sorted label order (numeric labels sorted as numbers).
    """
    values = y.dropna()
    uniq = pd.unique(values)
    if len(uniq) < 2:
        raise DataError(E_ONE_CLASS.format(col=col, value=str(uniq[0]) if len(uniq) else None))
    if len(uniq) == 2:
        labels = [str(u) for u in uniq]
        if positive_label is not None:
            if str(positive_label) not in labels:
                raise DataError(f"positive label {positive_label!r} is not a value of {col!r}: values are {labels}")
            pos = str(positive_label)
        elif set(labels) <= {"0", "1", "0.0", "1.0"}:
            pos = "1" if "1" in labels else "1.0"
        elif set(l.strip().lower() for l in labels) == {"yes", "no"}:
            pos = next(l for l in labels if l.strip().lower() == "yes")
        elif set(l.lower() for l in labels) == {"true", "false"}:
            pos = next(l for l in labels if l.lower() == "true")
        else:
            counts = values.astype(str).value_counts()
            # The minority class is the event of interest by convention (">50K", "default", "reoffend").
            pos = str(counts.index[-1]) if counts.iloc[-1] != counts.iloc[0] else sorted(labels)[-1]
        yy = (y.astype(str) == pos).to_numpy(dtype=np.int64)
        neg = next(l for l in labels if l != pos)
        return "binary", yy, pos, (neg, pos)
    if is_numeric(y):
        is_int = np.allclose(values.to_numpy(dtype=float), np.round(values.to_numpy(dtype=float)))
        if not is_int or numeric_declared or len(uniq) > max_classes:
            return "regression", y.to_numpy(dtype=float), None, ()
        order = sorted(uniq, key=float)
    else:
        order = sorted(uniq, key=str)
    if len(uniq) > max_classes:
        raise DataError(E_MULTICLASS.format(col=col, n=len(uniq), max=max_classes))
    classes = tuple(str(v) for v in order)
    code = {c: k for k, c in enumerate(classes)}
    yy = y.astype(str).map(code).to_numpy(dtype=np.int64)
    return "multiclass", yy, None, classes


def load_dataset(
    source: str | Path | bytes | IO[bytes] | pd.DataFrame,
    *,
    target: str,
    sensitive: tuple[str, ...] | list[str],
    options: DataOptions | None = None,
    seed: int = 0,
    name: str | None = None,
    predictions: str | None = None,
) -> Dataset:
    """Read and prepare a dataset in one call (a path, bytes, file object or DataFrame)."""
    opts = options or DataOptions()
    if isinstance(source, pd.DataFrame):
        return prepare_dataset(source.copy(), target=target, sensitive=sensitive, options=opts, name=name or "data", seed=seed, predictions=predictions)
    frame, shown, sha = load_table(source, options=opts, name=name)
    return prepare_dataset(frame, target=target, sensitive=sensitive, options=opts, name=shown, sha256=sha, seed=seed, predictions=predictions)


def align_current(current: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Check and coerce a second ("current") table to the reference dataset's schema."""
    missing = [c for c in dataset.features if c not in current.columns]
    if missing:
        raise DataError(f"the current data lacks feature columns of the reference data: {', '.join(missing)}")
    out = pd.DataFrame(index=range(len(current)))
    cur = current.reset_index(drop=True)
    for c in dataset.features:
        if c in dataset.numeric:
            conv = pd.to_numeric(cur[c], errors="coerce")
            bad = conv.isna() & cur[c].notna()
            if bad.any():
                raise DataError(f"column {c!r} is numeric in the reference data but the current data holds {cur[c][bad].iloc[0]!r}")
            out[c] = conv.replace([np.inf, -np.inf], np.nan).to_numpy()
        else:
            out[c] = as_text(cur[c], None)
    if dataset.target in cur.columns:
        out[dataset.target] = cur[dataset.target].to_numpy()
    for s in dataset.sensitive:
        if s not in out.columns and s in cur.columns:
            out[s] = cur[s].to_numpy()
    if dataset.predictions and dataset.predictions in cur.columns:
        # Prediction drift of a predictions-only audit reads it (checked by attach.current_predictions).
        out[dataset.predictions] = cur[dataset.predictions].to_numpy()
    return out

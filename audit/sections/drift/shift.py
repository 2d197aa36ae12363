"""The frames the drift audit compares: splits with coded labels, and simulated shifts.

The grammar (steps separated by ``;``, spaces around tokens ignored)::

    SPEC := STEP (";" STEP)*
    STEP := COL ":" ("+" | "-") K ["sd"]     shift numeric COL by K reference standard
                                              deviations ("sd") or by K in COL's own units
          | COL ":" CATEGORY "=" SHARE       re-weight categorical COL so that CATEGORY makes
                                              up SHARE (0..1) of the rows; the other categories
                                              keep their relative mix
          | COL "=" CATEGORY ":x" FACTOR     over-sample (FACTOR > 1) or under-sample
                                              (FACTOR < 1) the rows where COL == CATEGORY

Examples: ``age:+1sd``, ``hours_per_week:-0.5sd``, ``capital_gain:+1000``,
``race:White=0.5``, ``sex:Female=0.8``, ``sex=Female:x2; age:+0.5sd``.

Re-weighting is done by *thinning* (dropping rows without replacement), never by
drawing duplicates: a duplicated row can land in both the training and the
held-out fold of the domain classifier, which then "recognises" the current data
by memory and overstates drift. The shifted frame is therefore usually smaller
than its base; its size is stated in the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from audit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from audit.data import Dataset
    from audit.models.baselines import TrainedModels

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_RE_NUMERIC = re.compile(rf"^(?P<col>[^:=]+?)\s*:\s*(?P<sign>[+-])\s*(?P<k>{_NUM})\s*(?P<sd>sd)?$", re.I)
_RE_SHARE = re.compile(rf"^(?P<col>[^:=]+?)\s*:\s*(?P<cat>[^=]+?)\s*=\s*(?P<share>{_NUM})$")
_RE_FACTOR = re.compile(rf"^(?P<col>[^:=]+?)\s*=\s*(?P<cat>.+?)\s*:\s*x\s*(?P<k>{_NUM})$", re.I)
_GRAMMAR = "'COL:+Ksd' (numeric shift), 'COL:CATEGORY=SHARE' (re-weight) or 'COL=CATEGORY:xFACTOR' (over/under-sample)"
MIN_ROWS = 20


@dataclass(frozen=True)
class ShiftStep:
    """One parsed step. ``kind`` is "numeric", "share" or "factor"."""

    text: str
    column: str
    kind: str
    amount: float = 0.0  # numeric: the shift; factor: the factor; share: the target share
    in_sd: bool = False
    category: str = ""


def parse_shift(spec: str) -> tuple[ShiftStep, ...]:
    """Parse a shift SPEC (see the module docstring); an empty spec gives no steps.

    Raises
    ------
    ConfigError
        When a step matches none of the three forms or a value is out of range.
    """
    steps = []
    for raw in spec.split(";"):
        text = raw.strip()
        if not text:
            continue
        if m := _RE_NUMERIC.match(text):
            k = float(m["k"]) * (-1 if m["sign"] == "-" else 1)
            steps.append(ShiftStep(text, m["col"].strip(), "numeric", k, bool(m["sd"])))
        elif m := _RE_FACTOR.match(text):
            steps.append(ShiftStep(text, m["col"].strip(), "factor", float(m["k"]), category=m["cat"]))
        elif m := _RE_SHARE.match(text):
            share = float(m["share"])
            if share > 1:
                raise ConfigError(f"drift.simulate_shift step {text!r}: a share must be between 0 and 1, got {share}")
            steps.append(ShiftStep(text, m["col"].strip(), "share", share, category=m["cat"]))
        else:
            raise ConfigError(f"drift.simulate_shift step {text!r} is not understood: expected {_GRAMMAR}, e.g. 'age:+1sd; race:White=0.5'")
    return tuple(steps)


def apply_shift(
    frame: pd.DataFrame,
    steps: tuple[ShiftStep, ...],
    *,
    reference: pd.DataFrame,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    seed: int,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Apply ``steps`` in order to a copy of ``frame``.

    Parameters
    ----------
    frame : the base rows (every column is carried along, the target included).
    steps : from :func:`parse_shift`.
    reference : supplies the standard deviations of ``+Ksd`` shifts.
    numeric, categorical : which columns are which; a category step may also name
        any other string column of ``frame`` (e.g. a sensitive column that is not a feature).
    seed : drives the thinning.

    Returns
    -------
    (shifted frame with a fresh index, one plain-words description per step)
    """
    rng = np.random.default_rng(seed)
    out = frame.reset_index(drop=True).copy()
    said = []
    for step in steps:
        if step.column not in out.columns:
            shown = ", ".join(map(str, out.columns[:30]))
            raise ConfigError(f"drift.simulate_shift step {step.text!r}: unknown column {step.column!r}; columns are: {shown}")
        if step.kind == "numeric":
            out, text = _shift_numeric(out, step, reference, numeric)
        else:
            if step.column in numeric:
                raise ConfigError(
                    f"drift.simulate_shift step {step.text!r}: {step.column!r} is numeric, expected a categorical column "
                    f"(shift a numeric feature with '{step.column}:+1sd')"
                )
            out, text = _reweight(out, step, rng)
        said.append(text)
        if len(out) < MIN_ROWS:
            raise ConfigError(
                f"drift.simulate_shift step {step.text!r} leaves {len(out)} rows; at least {MIN_ROWS} are needed to compare"
            )
    return out, tuple(said)


def _shift_numeric(out: pd.DataFrame, step: ShiftStep, reference: pd.DataFrame, numeric: tuple[str, ...]) -> tuple[pd.DataFrame, str]:
    col = step.column
    if col not in numeric:
        raise ConfigError(
            f"drift.simulate_shift step {step.text!r}: {col!r} is categorical, expected a numeric column "
            f"(re-weight a category with '{col}:CATEGORY=0.5')"
        )
    x = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=np.float64)
    delta = step.amount
    how = f"{step.amount:+g}"
    if step.in_sd:
        sd = float(pd.to_numeric(reference[col], errors="coerce").std()) if col in reference.columns else float("nan")
        if not np.isfinite(sd) or sd == 0:
            raise ConfigError(f"drift.simulate_shift step {step.text!r}: {col!r} has no spread in the reference data, so a shift in sd is undefined")
        delta = step.amount * sd
        how = f"{step.amount:+g} sd (reference sd {sd:.4g})"
    finite = x[np.isfinite(x)]
    # Whole-number columns stay whole: fractional values would let the domain
    # classifier separate the sides on the fractional part alone.
    if len(finite) and np.all(finite == np.round(finite)):
        delta = float(np.round(delta))
        how += f", rounded to {delta:+g} because {col} holds whole numbers"
    out[col] = x + delta
    return out, f"{col} shifted by {how}"


def _reweight(out: pd.DataFrame, step: ShiftStep, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    col = step.column
    labels = out[col].astype("object").where(out[col].notna(), None).map(lambda v: None if v is None else str(v))
    is_cat = (labels == step.category).to_numpy()
    g, o = int(is_cat.sum()), int((~is_cat).sum())
    if g == 0:
        present = ", ".join(sorted({str(v) for v in labels.dropna().unique()})[:30])
        raise ConfigError(f"drift.simulate_shift step {step.text!r}: {col!r} has no category {step.category!r}; categories are: {present}")
    before = g / (g + o)
    if step.kind == "factor":
        if step.amount < 0:
            raise ConfigError(f"drift.simulate_shift step {step.text!r}: the factor must be 0 or more, got {step.amount}")
        share = step.amount * g / (step.amount * g + o) if (step.amount * g + o) > 0 else 1.0
    else:
        share = step.amount
    # Keep every row of the side that must grow and thin the other side.
    if share == before:
        keep_g, keep_o = g, o
    elif share > before:
        keep_g, keep_o = g, int(round(g * (1 - share) / share))
    else:
        keep_g, keep_o = int(round(o * share / (1 - share))), o
    keep = np.zeros(len(out), dtype=bool)
    idx_g, idx_o = np.flatnonzero(is_cat), np.flatnonzero(~is_cat)
    keep[rng.choice(idx_g, size=min(keep_g, g), replace=False)] = True
    keep[rng.choice(idx_o, size=min(keep_o, o), replace=False)] = True
    after = min(keep_g, g) / max(keep.sum(), 1)
    verb = "over-sampled" if share > before else "under-sampled" if share < before else "kept"
    return out.loc[keep].reset_index(drop=True), (
        f"{col}={step.category} {verb}: share {before:.3f} -> {after:.3f} ({int(keep.sum())} of {len(out)} rows kept)"
    )



def split_frame(trained: TrainedModels, which: str) -> pd.DataFrame:
    """A split's features, its labels (0/1 or values, as float), any sensitive column
    that is not a feature (so a shift can re-weight it) and the user's predictions column."""
    out = getattr(trained, f"X_{which}").copy()
    out[trained.dataset.target] = getattr(trained, f"y_{which}").astype(np.float64)
    groups = getattr(trained, f"groups_{which}")
    for s in trained.dataset.sensitive:
        if s not in out.columns:
            out[s] = groups[s].to_numpy()
    user = getattr(trained, "user", None)
    if user is not None and not user.callable:
        # A predictions column (never a feature) rides along, as a current file's copy does.
        raw = user.raw if user.raw is not None else user.values
        out[user.column] = raw[getattr(trained, f"idx_{which}")]
    return out


def code_labels(frame: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """``frame`` with its target column (when present) coded like the training labels
    (1.0 = the positive label; multiclass: the class code; NaN = missing)."""
    if ds.target not in frame.columns:
        return frame
    out = frame.copy()
    raw = out[ds.target]
    if ds.task == "binary":
        known = set(ds.frame[ds.target].dropna().astype(str).unique())
        unknown = sorted(set(raw.dropna().astype(str).unique()) - known)
        if unknown:
            raise DataError(
                f"the target column {ds.target!r} of the compared data holds {unknown[:5]}; expected the training labels {sorted(known)}"
            )
        out[ds.target] = np.where(raw.isna(), np.nan, (raw.astype(str) == ds.positive_label).astype(np.float64))
    elif ds.task == "multiclass":
        from audit.sections.drift.multiclass import code_classes

        out[ds.target] = code_classes(raw, ds.classes, ds.target)
    else:
        out[ds.target] = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    return out

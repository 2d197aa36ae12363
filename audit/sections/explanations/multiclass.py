"""SHAP of a multiclass model: per class, summed over classes, and for the predicted class.

shap gives one attribution per feature *and class* (in the model's logits for multinomial
logistic regression and gradient boosting). The report keeps three views of it:

* global importance summed over classes (mean |SHAP| of every class added up), the
  section's ranking: a feature that separates any two classes ranks high;
* per class: its base value, importance and additivity check (base + contributions =
  that class's logit on every explained row);
* per row, the predicted class: the contributions to the logit of the class the model
  chose, which the beeswarm, dependence, group and local views draw.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from audit.sections.explanations.shap_summary import FeatureImportance, importance
from audit.sections.explanations.shap_values import ShapResult
from audit.serial import ReportMixin


@dataclass(frozen=True)
class ClassShap(ReportMixin):
    """One class's SHAP summary: base value, importance (mean |SHAP| for this class's output)
    and the additivity error of base + contributions against this class's output."""

    label: str
    base_value: float
    importance: tuple[FeatureImportance, ...]
    max_abs_error: float
    n_predicted: int  # explained rows the model gives this class


def multiclass_views(sh: ShapResult, pred: np.ndarray, classes: tuple[str, ...], features: tuple[str, ...],
                     sensitive: tuple[str, ...]) -> tuple[ShapResult, tuple[FeatureImportance, ...], dict[str, ClassShap], np.ndarray]:
    """(predicted-class view, importance summed over classes, per-class summaries, base value of each row)."""
    n = len(pred)
    rows = np.arange(n)
    err = sh.additivity_error.reshape(n, -1) if n else np.zeros((0, len(classes)))
    view = dataclasses.replace(sh, values=sh.values[rows, :, pred] if n else np.zeros((0, len(features))),
                               outputs=sh.outputs[rows, pred] if n else np.zeros(0),
                               base_value=float(np.mean(sh.base_value[pred])) if n else float(np.mean(sh.base_value)))
    summed = importance(np.abs(sh.values).sum(axis=2), features, sensitive)
    # The signed mean of the summed view is not meaningful (logits of all classes move
    # together); the mean signed contribution to the predicted class is shown instead.
    signed = dict(zip(features, view.values.mean(axis=0) if n else np.zeros(len(features))))
    summed = tuple(dataclasses.replace(fi, mean_shap=float(f"{signed[fi.feature]:.6g}")) for fi in summed)
    per_class = {lab: ClassShap(label=lab, base_value=float(sh.base_value[c]), importance=importance(sh.values[:, :, c], features, sensitive),
                                max_abs_error=float(err[:, c].max()) if n else 0.0, n_predicted=int((pred == c).sum()))
                 for c, lab in enumerate(classes)}
    return view, summed, per_class, np.asarray(sh.base_value)[pred]

"""The fairness verdict's rules: the four-fifths rule on selection rates, and disparity thresholds with intervals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from audit.serial import ReportMixin
from audit.stats import Estimate
from audit.verdict import Verdict, decide


@dataclass(frozen=True)
class FourFifths(ReportMixin):
    """The four-fifths rule on one grouping key, over adequately sized groups.

    ``ratios`` maps each adequate group to its selection rate divided by the
    ``reference_group``'s (the highest); the rule passes when all are at least ``threshold``.
    """

    threshold: float
    reference_group: str
    lowest_group: str
    lowest_ratio: float
    passes: bool
    failing_groups: tuple[str, ...]
    ratios: Mapping[str, float]


def four_fifths(names: tuple[str, ...], rates: np.ndarray, adequate: np.ndarray, threshold: float) -> FourFifths | None:
    idx = [i for i in np.flatnonzero(adequate) if np.isfinite(rates[i])]
    if len(idx) < 2:
        return None
    ref = max(idx, key=lambda i: rates[i])
    ratios = {names[i]: float(rates[i] / rates[ref]) if rates[ref] > 0 else 1.0 for i in idx}
    low = min(ratios, key=ratios.get)
    failing = tuple(g for g, r in ratios.items() if r < threshold)
    return FourFifths(threshold=threshold, reference_group=names[ref], lowest_group=low, lowest_ratio=ratios[low],
                      passes=not failing, failing_groups=failing, ratios=ratios)


def fairness_verdict(task: str, keys: Mapping[str, tuple[str, ...]], disp: Mapping[str, Mapping[str, Estimate]], ff: Mapping[str, FourFifths],
             excluded: Mapping[str, Mapping[str, str]], adequate: Mapping[str, np.ndarray], y_std: float, opts) -> Verdict:
    fails, warns, passes, notes = [], [], [], []
    for key in keys:
        d = disp[key]
        if excluded[key]:
            small = ", ".join(f"{g} ({r.split(',')[0]})" for g, r in excluded[key].items())
            notes.append(f"{key}: {small} below the minimum group size: reported but excluded from the verdict")
        if adequate[key].sum() < 2:
            notes.append(f"{key}: fewer than two groups are large enough to compare; no verdict for it")
            continue
        if task != "binary":
            mp = d["mean_prediction_difference"]
            z = mp.value / y_std if y_std > 0 else np.nan
            if np.isfinite(z) and z > opts.warn_regression_gap:
                warns.append(f"{key}: mean prediction differs by {mp.value:.3g} [{mp.low:.3g}, {mp.high:.3g}] between groups, "
                             f"{z:.2f} target standard deviations (> {opts.warn_regression_gap})")
            else:
                passes.append(f"{key}: mean prediction gap {mp.value:.3g} is within {opts.warn_regression_gap} target standard deviations")
            continue
        dp, eo, rule = d["demographic_parity_difference"], d["equalized_odds_difference"], ff.get(key)
        dp_txt = f"demographic parity difference {dp.text()}"
        if rule is not None and not rule.passes:
            ff_txt = (f"{key}: selection rate of {rule.lowest_group} is {rule.lowest_ratio:.2f} x that of {rule.reference_group} "
                      f"(four-fifths rule: below {rule.threshold})")
            if np.isfinite(dp.low) and dp.low > opts.warn_parity_difference:
                fails.append(f"{ff_txt}, and the {dp_txt} lies above {opts.warn_parity_difference}")
            elif not np.isfinite(dp.low):
                warns.append(f"{ff_txt}; demographic parity difference {dp.value:.3f} has no interval to confirm it (fairness.bootstrap = 0)")
            else:
                warns.append(f"{ff_txt}; the {dp_txt} does not exclude {opts.warn_parity_difference}")
        elif dp.value > opts.warn_parity_difference:
            warns.append(f"{key}: {dp_txt} exceeds {opts.warn_parity_difference}")
        else:
            passes.append(f"{key}: four-fifths rule holds and the {dp_txt} is within {opts.warn_parity_difference}")
        if np.isfinite(eo.value) and eo.value > opts.warn_equalized_odds_difference:
            warns.append(f"{key}: equalized odds difference {eo.text()} exceeds "
                         f"{opts.warn_equalized_odds_difference} (error rates differ between groups)")
    if not (fails or warns or passes):
        # Nothing could be compared: a pass would claim a check that never ran.
        warns.append("no sensitive attribute has two groups with at least the minimum number of test rows: "
                     "fairness could not be assessed")
    v = decide(fails, warns, passes)
    return Verdict(v.status, v.reasons + tuple(notes))

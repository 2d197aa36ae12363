"""The documented range of every numeric option, checked by one validator.

Every option class (``DataOptions``, ``ModelOptions`` and each section's ``XOptions``)
is decorated with ``@bounded("table")``: after the class's own checks, each numeric
field (and each number of a ``tuple[float, ...]`` field) must lie in the inclusive
range below, and a tuple may hold at most ``MAX_ITEMS`` numbers. Upper bounds exist
because an option multiplies work (``bootstrap = 10**12`` would run for ever); they
sit well above any useful setting. Finer rules (open ends, "0 or at least 100",
warn <= fail) stay in the classes' ``__post_init__``.

This table is the documentation: the README's option reference points here, and
``tests/test_hardening_options.py`` checks that every numeric field of every option
class has an entry and nothing stale remains.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

from audit.errors import ConfigError

T = TypeVar("T")

MAX_ITEMS = 50  # numbers in a tuple option (noise levels, epsilons...): each adds a full pass

_PROB = (0.0, 1.0)
_CONF = (0.5, 0.999)
_BOOT = (0, 100_000)

RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "data": {
        "max_file_mb": (0.001, 1_000_000), "min_group_size": (1, 1_000_000), "max_rows": (0, 10**10), "max_classes": (3, 1000),
        "max_uncompressed_mb": (0.001, 1_000_000), "max_input_rows": (1, 10**10), "max_columns": (1, 1_000_000),
        "max_cells": (1, 10**11), "max_excel_cells": (1, 10**9),
    },
    "models": {"test_size": _PROB, "val_size": _PROB, "cv_folds": (0, 20), "cv_max_rows": (0, 10**10)},
    "engine": {"workers": (1, 64), "sample_rows": (1_000, 10**8)},
    "performance": {
        "bootstrap": _BOOT, "confidence": _CONF, "calibration_bins": (2, 1000), "learning_curve_sizes": _PROB, "learning_curve_max_rows": (0, 10**10),
        "warn_gap": (0, 1_000_000), "warn_ece": _PROB,
    },
    "fairness": {
        "bootstrap": _BOOT, "confidence": _CONF, "four_fifths": _PROB, "warn_parity_difference": _PROB,
        "warn_equalized_odds_difference": _PROB, "warn_regression_gap": (0, 100), "proxy_threshold": _PROB,
        "proxy_bins": (2, 1000), "proxy_max_rows": (0, 10_000_000), "mitigation_max_rows": (0, 10_000_000),
        "refit_max_rows": (0, 10**10),
        "expgrad_eps": _PROB, "expgrad_max_iter": (1, 1000),
    },
    "explanations": {
        "sample_size": (1, 100_000), "background_size": (1, 10_000), "agnostic_max_rows": (1, 100_000),
        "agnostic_permutations": (1, 1000), "top_k": (0, 10_000), "dependence_features": (0, 1000),
        "dependence_bins": (1, 1000), "additivity_tolerance": (0, 1_000_000), "permutation_sample": (1, 1_000_000),
        "permutation_repeats": (1, 1000), "surrogate_depth": (1, 50), "surrogate_sample": (1, 10_000_000),
        "warn_fidelity": _PROB, "error_tree_depth": (0, 50), "min_cohort_size": (1, 10_000_000),
        "n_clusters": (0, 1000), "cluster_max_rows": (0, 10**10), "confidence": _CONF,
    },
    "robustness": {
        "max_rows": (0, 10_000_000), "repeats": (1, 1000), "noise_levels": (0, 10), "corruption_rates": _PROB,
        "missing_rates": _PROB, "attack_rows": (0, 1_000_000), "attack_budgets": (0, 10), "hsj_max_iter": (1, 1000),
        "hsj_max_eval": (1, 100_000), "hsj_init_eval": (1, 100_000), "hsj_init_size": (1, 100_000),
        "pgd_max_iter": (1, 10_000), "max_flip_values": (1, 10_000), "edge_quantile": (0, 0.5),
        "min_edge_rows": (1, 10_000_000), "regression_tolerance": (0, 1000), "verdict_noise_level": (0, 10),
        "warn_noise_flip": _PROB, "fail_noise_flip": _PROB, "verdict_corruption_rate": _PROB,
        "warn_corruption_flip": _PROB, "verdict_budget": (0, 10), "warn_attack_success": _PROB,
        "fail_attack_success": _PROB, "warn_sensitive_flip": _PROB, "fail_sensitive_flip": _PROB,
        "warn_proxy_flip": _PROB, "warn_edge_drop": _PROB,
    },
    "drift": {
        "alpha": _PROB, "wasserstein_threshold": (0, 1000), "jensen_shannon_threshold": _PROB, "psi_bins": (2, 1000),
        "quantiles": (10, 1_000_000), "dataset_drift_share": _PROB, "domain_sample": (50, 10_000_000),
        "domain_folds": (2, 20), "domain_max_iter": (1, 10_000), "domain_auc_warn": (0.5, 1.0),
        "importance_rows": (10, 10_000_000), "importance_repeats": (1, 1000), "min_importance": _PROB,
        "confidence": _CONF, "score_rows": (10, 100_000_000), "performance_bootstrap": _BOOT,
        "max_performance_drop": (0, 1000),
    },
    "population": {
        # The bootstrap weights are a (rows x replicates) matrix per block of 65,536 rows: 1,000 is ~0.5 GB.
        "bootstrap": (0, 1000), "confidence": _CONF, "auc_bins": (10, 100_000), "block_rows": (1_000, 100_000_000),
        "four_fifths": _PROB, "warn_parity_difference": _PROB, "warn_equalized_odds_difference": _PROB,
    },
    "privacy": {
        "target_epsilons": (0, 1000), "delta": _PROB, "epochs": (1, 1000), "batch_size": (1, 1_000_000),
        "learning_rate": (0, 1000), "momentum": _PROB, "max_grad_norm": (0, 1_000_000), "mlp_hidden": (1, 10_000),
        "max_train_rows": (0, 100_000_000), "attack_rows": (20, 10_000_000), "bootstrap": _BOOT,
        "confidence": _CONF, "low_fpr": (0, 0.5), "accuracy_budget": _PROB, "warn_attack_auc": (0.5, 1.0),
        "fail_attack_auc": (0.5, 1.0), "torch_threads": (0, 1024),
    },
}


def range_of(table: str, name: str) -> tuple[float, float]:
    """The inclusive range of option ``name`` of TOML table ``table`` (for forms and docs)."""
    return RANGES[table][name]


def _num(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def _in_range(v: Any, lo: float, hi: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) and lo <= v <= hi


def check_ranges(obj: Any, table: str) -> None:
    """Raise :class:`ConfigError` naming the option, its range and the value when one is out of range."""
    for name, (lo, hi) in RANGES[table].items():
        value = getattr(obj, name)
        span = f"from {_num(lo)} to {_num(hi)}"
        if isinstance(value, tuple):
            if len(value) > MAX_ITEMS or not all(_in_range(v, lo, hi) for v in value):
                shown = value if len(value) <= 8 else f"{len(value)} numbers"
                raise ConfigError(f"{table}.{name} must hold at most {MAX_ITEMS} numbers, each {span}; got {shown!r}")
        elif not _in_range(value, lo, hi):
            raise ConfigError(f"{table}.{name} must be {span}; got {value!r}")


def bounded(table: str) -> Callable[[type[T]], type[T]]:
    """Class decorator (above ``@dataclass``): check the ranges of ``RANGES[table]`` on construction."""

    def wrap(cls: type[T]) -> type[T]:
        init = cls.__init__
        names = {f.name for f in dataclasses.fields(cls)}
        stale = set(RANGES[table]) - names
        if stale:  # a renamed option must not silently lose its range
            raise TypeError(f"RANGES[{table!r}] names options {cls.__name__} lacks: {sorted(stale)}")

        # __init__, not __post_init__: dataclass only calls a __post_init__ that existed when it ran.
        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)  # the class's own checks (__post_init__) run first
            check_ranges(self, table)

        cls.__init__ = __init__  # type: ignore[method-assign]
        return cls

    return wrap

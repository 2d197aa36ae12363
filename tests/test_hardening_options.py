"""Every numeric option has a documented range, checked centrally (issue 17, item 3)."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from audit.bounds import MAX_ITEMS, RANGES
from audit.config import DataOptions, ModelOptions, build_options, config_from_mapping
from audit.errors import ConfigError
from audit.sections import registry


def _option_classes() -> dict[str, type]:
    out = {"data": DataOptions, "models": ModelOptions}
    for spec in registry.active():
        out[spec.name] = spec.options_type()
    return out


def _numeric_fields(cls: type) -> set[str]:
    hints = typing.get_type_hints(cls)
    out = set()
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if tp in (int, float) or tp in (tuple[float, ...], tuple[int, ...]):
            out.add(f.name)
    return out


@pytest.mark.parametrize("table", sorted(_option_classes()))
def test_every_numeric_option_has_a_range_and_defaults_lie_inside(table):
    cls = _option_classes()[table]
    assert set(RANGES[table]) == _numeric_fields(cls)
    cls()  # the defaults satisfy their own ranges


@pytest.mark.parametrize("table", sorted(_option_classes()))
def test_one_past_each_upper_bound_is_refused_naming_option_range_and_value(table):
    cls = _option_classes()[table]
    hints = typing.get_type_hints(cls)
    for name, (lo, hi) in RANGES[table].items():
        tp = hints[name]
        over = hi + 1 if tp is int else hi * 2 + 1
        value = (float(over),) if tp not in (int, float) else over
        with pytest.raises(ConfigError) as info:
            cls(**{name: value})
        msg = str(info.value)
        # The class's own finer rules may speak first (e.g. warn <= fail); they name the option too.
        assert f"{table}.{name}" in msg or name in msg, msg


def test_the_reported_examples_are_refused():
    with pytest.raises(ConfigError, match=r"^performance.bootstrap must be from 0 to 100,000; got 1000000000000$"):
        build_options(_option_classes()["performance"], {"bootstrap": 10**12}, section="performance")
    with pytest.raises(ConfigError, match=r"^privacy.epochs must be from 1 to 1,000; got 1000000$"):
        config_from_mapping({"target": "y", "privacy": {"epochs": 10**6}}).options_for(
            "privacy", _option_classes()["privacy"])


def test_tuple_options_are_capped_in_length_and_per_number():
    robustness = _option_classes()["robustness"]
    with pytest.raises(ConfigError, match=rf"robustness.noise_levels must hold at most {MAX_ITEMS} numbers, each from 0 to 10"):
        robustness(noise_levels=tuple(i / 1000 for i in range(200)) + (0.1,))
    with pytest.raises(ConfigError, match=r"privacy.target_epsilons must hold at most 50 numbers, each from 0 to 1,000; got \(1e\+300,\)"):
        _option_classes()["privacy"](target_epsilons=(1e300,))


def test_nan_and_infinity_are_out_of_range():
    with pytest.raises(ConfigError, match=r"data.max_file_mb must be from 0.001 to 1,000,000; got inf"):
        DataOptions(max_file_mb=float("inf"))
    with pytest.raises(ConfigError, match=r"models.cv_folds must be from 0 to 20; got 100"):
        ModelOptions(cv_folds=100)
    with pytest.raises(ConfigError, match=r"drift.confidence"):
        _option_classes()["drift"](confidence=float("nan"))

"""Generic dataclass <-> JSON-able dict conversion for report objects.

Hand-written rather than using a library (pydantic, dacite) to keep report
classes plain frozen dataclasses with no runtime dependency: the rules are few
(nested dataclasses, tuples, mappings, optionals, plain scalars) and exact
round-trip is tested for every section type.

Non-finite floats become ``None`` in JSON (strict JSON has no NaN) and come back
as ``nan`` / ``inf`` is not representable and is mapped to ``None`` as well.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Union


def to_jsonable(value: Any) -> Any:
    """Convert a report object (dataclass tree) to plain JSON-able Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return to_jsonable(value.tolist())
    raise TypeError(f"cannot serialise {type(value).__name__} in a report")


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from the output of :func:`to_jsonable`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return _freeze(data)
    if origin in (Union, types.UnionType):
        if data is None:
            if type(None) in args:
                return None
            non_none = [a for a in args if a is not type(None)]
            if float in non_none:
                return math.nan
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return from_jsonable(non_none[0], data)
        for a in non_none:  # first that fits
            try:
                return from_jsonable(a, data)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"value {data!r} fits none of {tp}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object for {tp.__name__}, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = from_jsonable(hints[f.name], data[f.name])
        return tp(**kwargs)
    if origin is tuple:
        if data is None:
            return ()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], v) for v in data)
        if args:
            return tuple(from_jsonable(a, v) for a, v in zip(args, data))
        return tuple(_freeze(v) for v in data)
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        kt, vt = args if args else (str, Any)
        return {from_jsonable(kt, k) if kt is not str else k: from_jsonable(vt, v) for k, v in data.items()}
    if origin is list:
        return [from_jsonable(args[0] if args else Any, v) for v in data]
    if tp is float:
        return math.nan if data is None else float(data)
    if tp is int:
        return int(data)
    if tp is str:
        if not isinstance(data, str):
            raise TypeError(f"expected a string, got {type(data).__name__}")
        return data
    if tp is bool:
        return bool(data)
    if origin is typing.Literal:
        if data not in args:
            raise ValueError(f"{data!r} is not one of {args}")
        return data
    return data


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return {k: _freeze(x) for k, x in v.items()}
    return v


class ReportMixin:
    """Gives a frozen dataclass ``to_dict`` / ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        return from_jsonable(cls, data)

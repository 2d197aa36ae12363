"""The fairness part of a model card: groups, per-group metrics with intervals, disparities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._card_blocks import Block, Paragraph, StatusLine
from ._card_generic import auto_blocks


def fairness_blocks(fair: Mapping[str, Any]) -> list[Block]:
    v = fair.get("verdict") or {}
    return [StatusLine(str(v.get("status", "not run")), tuple(map(str, v.get("reasons") or ()))), *auto_blocks(fair)]


def fairness_factors(fair: Mapping[str, Any] | None) -> list[Block]:
    if fair is None:
        return [Paragraph("Intersectional groups come from the fairness audit, which was not run.", muted=True)]
    return []


def fairness_metric_names(fair: Mapping[str, Any] | None) -> tuple[str, ...]:
    return ()


def fairness_metric_entries(fair: Mapping[str, Any] | None) -> list[tuple[str, float | None, float | None, float | None, str]]:
    return []

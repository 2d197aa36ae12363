"""Verdicts: pass / warn / fail with reasons, decided in the core."""

from __future__ import annotations

from dataclasses import dataclass

from audit.serial import ReportMixin

PASS, WARN, FAIL = "pass", "warn", "fail"
_ORDER = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Verdict(ReportMixin):
    """One area's status and the reasons behind it (reasons name the threshold)."""

    status: str
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in _ORDER:
            raise ValueError(f"verdict status must be pass, warn or fail; got {self.status!r}")


def decide(fails: list[str], warns: list[str], passes: list[str] | None = None) -> Verdict:
    """The worst status among the findings, with the reasons of that status first."""
    if fails:
        return Verdict(FAIL, tuple(fails + warns))
    if warns:
        return Verdict(WARN, tuple(warns))
    return Verdict(PASS, tuple(passes or ()))


def worst(statuses: list[str]) -> str:
    return max(statuses, key=_ORDER.__getitem__) if statuses else PASS

"""What the user's audited model is, as the report states it (kept apart so ModelsReport can hold it)."""

from __future__ import annotations

from dataclasses import dataclass

from audit.serial import ReportMixin


@dataclass(frozen=True)
class UserModelInfo(ReportMixin):
    """What the audited model is, in the manifest and the model card's "Model details"."""

    kind: str  # "onnx" | "skops" | "predictions"
    label: str
    file_name: str | None
    sha256: str | None
    producer: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    evaluate_on: str  # "all" | "test"
    evaluated_rows: int
    threshold: float | None
    callable: bool
    notes: tuple[str, ...] = ()

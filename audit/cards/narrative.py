"""The editable, human-written part of a model card and a datasheet.

Numbers come from the audit report; what a model is *for* and what its authors
know about it cannot, so these fields are typed in (dashboard form, or the
``[modelcard]`` / ``[datasheet]`` tables of the CLI's TOML config, or a YAML
file) and stored with the audit as ``Narrative.to_dict()`` JSON.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import ConfigError

if TYPE_CHECKING:
    from audit.report import AuditReport

MAX_FIELD_CHARS = 20_000
MAX_ITEMS = 200
# C0 controls other than tab / newline / carriage return are invalid in XML (PDF
# paragraph markup) and HTML; they never belong in prose.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class DatasheetNarrative:
    """Answers to the datasheet questions that the data cannot answer (Gebru et al., 2021)."""

    motivation: str = ""
    collection: str = ""
    preprocessing: str = ""
    uses: str = ""
    distribution: str = ""
    maintenance: str = ""


@dataclass(frozen=True)
class Narrative:
    """The editable fields of a model card (Mitchell et al., 2019) and its datasheet.

    List fields (``owners``, ``primary_uses``, ...) hold one item per entry; when
    read from a dict or file they also accept one string with one item per line.
    ``owners`` entries may carry a contact in angle brackets: ``"Risk team <risk@example.org>"``.
    ``licence`` is an SPDX identifier (``Apache-2.0``), ``proprietary`` or free text.
    """

    model_name: str = ""
    overview: str = ""
    version: str = ""
    owners: tuple[str, ...] = ()
    licence: str = ""
    references: tuple[str, ...] = ()
    primary_uses: tuple[str, ...] = ()
    primary_users: tuple[str, ...] = ()
    out_of_scope_uses: tuple[str, ...] = ()
    factors: str = ""
    ethical_considerations: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    recommendations: tuple[str, ...] = ()
    datasheet: DatasheetNarrative = field(default_factory=DatasheetNarrative)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{"modelcard": {...}, "datasheet": {...}}``, the shape of the TOML tables."""
        card = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "datasheet"}
        return {"modelcard": card, "datasheet": dataclasses.asdict(self.datasheet)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Narrative":
        """Build from ``{"modelcard": {...}, "datasheet": {...}}`` (either table may be absent).

        Raises
        ------
        ConfigError
            On an unknown table or key, or a value of the wrong type.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"a narrative must be a mapping with modelcard and datasheet tables; found {type(data).__name__}")
        unknown = [k for k in data if k not in ("modelcard", "datasheet")]
        if unknown:
            raise ConfigError(f"unknown narrative table(s) {', '.join(map(repr, unknown))}: expected modelcard and/or datasheet")
        card = _read_table(cls, data.get("modelcard") or {}, "modelcard", skip=("datasheet",))
        sheet = _read_table(DatasheetNarrative, data.get("datasheet") or {}, "datasheet")
        return cls(**card, datasheet=DatasheetNarrative(**sheet))

    @property
    def is_empty(self) -> bool:
        return self == Narrative()


# What the dashboard shows next to each field: a label and the question it answers.
MODELCARD_FIELDS: dict[str, tuple[str, str]] = {
    "model_name": ("Model name", "What is the model called? (default: the audited baseline)"),
    "overview": ("Overview", "In one or two sentences, what does the model do?"),
    "version": ("Version", "Which version of the model is this?"),
    "owners": ("Owners", "Who owns the model? One per line, e.g. 'Credit risk team <risk@example.org>'."),
    "licence": ("Licence", "Under what licence may the model be used? (SPDX identifier, 'proprietary' or text)"),
    "references": ("References", "Links to papers, code or documentation, one per line."),
    "primary_uses": ("Primary intended uses", "What is the model for? One use per line."),
    "primary_users": ("Primary intended users", "Who is expected to use it? One per line."),
    "out_of_scope_uses": ("Out-of-scope uses", "What must the model not be used for? One per line."),
    "factors": ("Relevant factors", "Beyond the sensitive attributes audited, which groups, instruments or environments matter?"),
    "ethical_considerations": ("Ethical considerations", "What risks to people does the model carry, and how are they mitigated? One per line."),
    "caveats": ("Caveats", "What should a reader of this card know about its limits? One per line."),
    "recommendations": ("Recommendations", "What do you recommend to users of the model? One per line."),
}
DATASHEET_FIELDS: dict[str, tuple[str, str]] = {
    "motivation": ("Motivation", "For what purpose was the dataset created? Who created it, on whose behalf, and who funded it?"),
    "collection": ("Collection process", "How was the data collected, over what time frame, from whom? Were people told, and did they consent?"),
    "preprocessing": ("Preprocessing, cleaning, labelling", "Was the data cleaned, filtered or labelled before this audit? How?"),
    "uses": ("Uses", "What has the dataset been used for? What should it not be used for?"),
    "distribution": ("Distribution", "How is the dataset shared, and under what licence or terms?"),
    "maintenance": ("Maintenance", "Who maintains the dataset? How are errors reported and corrected?"),
}


def load_narrative(path: str | Path) -> Narrative:
    """Read the narrative from a TOML config (its ``[modelcard]`` and ``[datasheet]`` tables)
    or a YAML file (top-level ``modelcard:`` and ``datasheet:`` mappings).

    A TOML config without those tables gives an empty narrative, so any audit config
    can be passed. Files ending in ``.yaml`` / ``.yml`` are read as YAML, others as TOML.

    Raises
    ------
    ConfigError
        When the file is missing or unparseable, or a field is unknown or mistyped.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"narrative file not found: {p}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the narrative file {p}: {exc.strerror or exc}") from exc
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(raw.decode("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"narrative file {p} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"narrative file {p} must hold a mapping with modelcard and/or datasheet keys; found {type(data).__name__}")
        if data and not ({"modelcard", "datasheet"} & set(data)):
            raise ConfigError(f"narrative file {p} has no modelcard or datasheet key; found {', '.join(map(str, data))}")
    else:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    return Narrative.from_dict({k: data[k] for k in ("modelcard", "datasheet") if k in data})


def narrative_of(report: AuditReport) -> Narrative:
    """The narrative saved in a report's config (the ``[modelcard]`` / ``[datasheet]`` tables the
    audit ran with), or an empty one when there is none or it does not validate: a card must
    still be exportable from an old or hand-edited report."""
    opts = report.manifest.section_options
    try:
        return Narrative.from_dict({k: opts[k] for k in ("modelcard", "datasheet") if k in opts})
    except ConfigError:
        return Narrative()


def clean(text: Any) -> str:
    """Drop control characters that no output format can hold."""
    return _CONTROL.sub("", str(text))


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _read_table(cls: type, raw: Any, table: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{table}] must be a table of fields; found {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            raise ConfigError(f"unknown field {key!r} in [{table}]: expected some of {', '.join(names)}")
        where = f"{table}.{key}"
        if hints[key] is str:
            out[key] = _one_text(value, where)
        else:
            out[key] = _text_list(value, where)
    return out


def _one_text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be text; found {type(value).__name__} {value!r}")
    if len(value) > MAX_FIELD_CHARS:
        raise ConfigError(f"{where} must be at most {MAX_FIELD_CHARS:,} characters; found {len(value):,}")
    return clean(value).strip()


def _text_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.splitlines()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigError(f"{where} must be a list of text items or text with one item per line; found {type(value).__name__} {value!r}")
    if len(items) > MAX_ITEMS:
        raise ConfigError(f"{where} must have at most {MAX_ITEMS} items; found {len(items)}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ConfigError(f"{where} item {i + 1} must be text; found {type(item).__name__} {item!r}")
        text = _one_text(item, where)
        if text:
            out.append(text)
    return tuple(out)

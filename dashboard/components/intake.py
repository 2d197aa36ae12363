"""The "New audit" form pieces: sample button, upload, column pickers, schema editor, options.

Each panel returns a :class:`PendingRun` when the user asks for an audit, else None.
The start page runs it after every widget is drawn, so the page never looks stale.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from audit.config import AuditConfig, DataOptions, UserModelOptions
from audit.errors import AuditError
from audit.report import AuditReport
from dashboard import components as ui
from dashboard import forms, state
from dashboard.components.user_model import model_picker

UPLOAD_TYPES = ["csv", "gz", "tsv", "txt", "parquet", "pq", "xlsx", "xls"]


@dataclass(frozen=True)
class PendingRun:
    config: AuditConfig
    data: Any  # a path or a named BytesIO
    current: Any
    key: str
    model_file: Any = None  # the user's model file (audit.models.loading.ModelFile), already checked


def _named_bytes(raw: bytes, name: str) -> io.BytesIO:
    buf = io.BytesIO(raw)
    buf.name = name  # the core names the data set after the file
    return buf


def sample_panel() -> PendingRun | None:
    with st.container(border=True):
        st.subheader("Try the embedded sample")
        st.markdown("**UCI Adult** (census income, 48,842 rows): predict whether income exceeds 50K from "
                    "13 features; the sensitive attributes are *sex* and *race*.")
        preset = st.segmented_control(
            "Preset", ["Quick", "Full"], default="Quick", key="sample_preset",
            help="Quick: a seeded 4,000-row sample with smaller resampling budgets, through the same pipeline. "
                 "Full: every row with the options of sample_data/adult.toml (takes minutes).")
        if not st.button("Run the sample audit", type="primary", icon=":material/play_arrow:", key="run_sample"):
            return None
        try:
            config = forms.sample_config(quick=preset != "Full")
            key = state.audit_key(state.path_sha256(forms.SAMPLE_DATA), config)
        except AuditError as exc:
            st.error(ui.md(exc))
            return None
        return PendingRun(config, str(forms.SAMPLE_DATA), None, key)


def open_report_panel() -> AuditReport | None:
    with st.expander("Open a saved report (report.json from `python -m audit run`)"):
        up = st.file_uploader("Report JSON", type=["json"], key="upload_report")
        if up is None:
            return None
        raw = up.getvalue()
        try:
            # Someone else's file: marked imported, so every page and card says its verdicts were not computed here.
            report = AuditReport.from_json(raw, imported_from=up.name)
        except AuditError as exc:
            st.error(ui.md(exc))
            return None
        if st.button("Open this report", key="open_report"):
            state.set_current(report, state.report_key_of_json(raw))
            return report
        return None


def upload_panel() -> PendingRun | None:
    with st.container(border=True):
        st.subheader("Audit your own data")
        up = st.file_uploader("Training data: CSV (optionally gzipped), Parquet or Excel", type=UPLOAD_TYPES, key="upload_data")
        cur = st.file_uploader("Current data (optional): rows met in use, compared with the training data by the drift audit",
                               type=UPLOAD_TYPES, key="upload_current")
        if up is None:
            st.caption("Upload a table to choose the target and sensitive columns.")
            return None
        raw = up.getvalue()
        sha = state.bytes_sha256(raw)
        try:
            frame = state.read_table(sha, up.name, DataOptions().max_file_mb, raw)
        except AuditError as exc:
            st.error(ui.md(exc))
            return None
        st.caption(f"{ui.md(up.name)}: {len(frame):,} rows × {frame.shape[1]} columns")
        with st.expander("Preview (first 20 rows)"):
            st.dataframe(frame.head(20))
        cols = [str(c) for c in frame.columns]
        c1, c2 = st.columns(2)
        target = c1.selectbox("Target column (the label)", cols, index=forms.guess_target(cols), key=f"target_{sha[:12]}")
        others = [c for c in cols if c != target]
        sensitive = c2.multiselect("Sensitive attributes", others, default=forms.guess_sensitive(others),
                                   key=f"sensitive_{sha[:12]}_{target}")
        if not sensitive:
            st.info("Choose at least one sensitive attribute (for example sex, race or age) to audit fairness.")
            return None
        try:
            inferred = state.infer_schema(sha, up.name, target, tuple(sensitive), frame)
        except AuditError as exc:
            st.error(ui.md(exc))
            return None
        data_opts = _schema_editor(inferred, key=f"schema_{sha[:12]}_{state.bytes_sha256(repr((target, sensitive)).encode())[:8]}")
        choice = model_picker([c for c in others if c not in sensitive], key=sha[:12])
        if choice is None:
            return None
        config = _options_form(target, sensitive, data_opts, n_rows=len(frame))
        if config is None:
            return None
        if choice.options.get("path") or choice.options.get("predictions"):
            try:
                config = config.replace(model=UserModelOptions(**choice.options))
            except AuditError as exc:
                st.error(ui.md(exc))
                return None
        cur_raw = cur.getvalue() if cur is not None else None
        key = state.audit_key(sha, config, (state.bytes_sha256(cur_raw) if cur_raw is not None else "") + choice.fingerprint)
        current = _named_bytes(cur_raw, cur.name) if cur is not None else None
        return PendingRun(config, _named_bytes(raw, up.name), current, key, choice.file)


def _schema_editor(inferred: state.InferredSchema, *, key: str) -> dict[str, Any]:
    task = {"binary": "binary classification", "multiclass": "multiclass classification"}.get(inferred.task, inferred.task)
    pos = f", positive class {ui.md(inferred.positive_label)}" if inferred.positive_label is not None else ""
    st.markdown(f"**Inferred schema**: {task}{pos}; {inferred.n_features} features. "
                "Edit a column's type, exclude it from the features, or mark it immutable (attacks must not change it).")
    for w in inferred.warnings:
        st.warning(ui.md(w))
    edited = st.data_editor(
        pd.DataFrame(forms.schema_rows(inferred.columns)), key=key, hide_index=True, width="stretch",
        disabled=["column", "role", "missing", "unique", "note"],
        column_config={
            "type": st.column_config.SelectboxColumn("type", options=["numeric", "categorical"], required=True),
            "exclude": st.column_config.CheckboxColumn("exclude", help="leave this column out of the features"),
            "immutable": st.column_config.CheckboxColumn("immutable", help="a numeric feature attacks must not change"),
            "note": st.column_config.TextColumn("note", help="why the core excludes a column by itself"),
        },
    )
    return forms.data_options_from_edits(inferred.columns, edited.to_dict("records"))


def _number(label: str, value: Any, kind: str, key: str, help: str) -> Any:
    if kind == "int":
        return st.number_input(label, value=int(value), step=1, key=key, help=help or None)
    step = 10 ** math.floor(math.log10(abs(value))) if value else 0.01
    return st.number_input(label, value=float(value), step=float(step), format="%g", key=key, help=help or None)


def _options_form(target: str, sensitive: list[str], data_opts: dict[str, Any], *, n_rows: int) -> AuditConfig | None:
    avail = forms.available_sections()
    with st.form("audit_options"):
        st.markdown("**Audit options**")
        sections = st.multiselect("Sections (models always run)", list(avail), default=list(avail),
                                  format_func=lambda s: ui.area_label(s), key="opt_sections")
        c1, c2, c3, c4 = st.columns(4)
        max_rows = c1.number_input("Rows to audit (0 = all)", min_value=0, value=0 if n_rows <= 20000 else 20000, step=1000,
                                   key="opt_max_rows", help="a seeded sample when the table is larger")
        seed = c2.number_input("Seed", min_value=0, max_value=2**32 - 1, value=0, step=1, key="opt_seed")
        folds = c3.number_input("Cross-validation folds", min_value=0, max_value=10, value=5, step=1, key="opt_cv",
                                help="0 skips cross-validation")
        min_group = c4.number_input("Smallest group in verdicts", min_value=1, value=30, step=5, key="opt_min_group",
                                    help="smaller sensitive groups are reported but flagged and left out of verdicts")
        section_opts: dict[str, dict[str, Any]] = {}
        with st.expander("Section options: sample sizes and thresholds"):
            for s in avail:
                fields = forms.option_fields(s)
                if not fields:
                    continue
                st.markdown(f"**{ui.area_label(s)}**")
                grid = st.columns(3)
                values = {}
                for i, f in enumerate(fields):
                    with grid[i % 3]:
                        label = f.name.replace("_", " ")
                        k = f"opt_{s}_{f.name}"
                        if f.kind == "bool":
                            values[f.name] = st.checkbox(label, value=f.default, key=k, help=f.help or None)
                        elif f.kind == "str":
                            values[f.name] = st.text_input(label, value=f.default, key=k, help=f.help or None)
                        else:
                            values[f.name] = _number(label, f.default, f.kind, k, f.help)
                section_opts[s] = forms.changed_options(fields, values)
        if not st.form_submit_button("Run audit", type="primary", icon=":material/play_arrow:"):
            return None
    data = {**data_opts, "min_group_size": int(min_group)}
    if max_rows:
        data["max_rows"] = int(max_rows)
    try:
        config = forms.build_config(target=target, sensitive=sensitive, sections=sections, seed=int(seed), data=data,
                                    models={"cv_folds": int(folds)}, section_options=section_opts)
    except AuditError as exc:
        st.error(ui.md(exc))
        return None
    return config

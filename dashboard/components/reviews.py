"""The pieces of the Reviews page: save, the review queue, submit and decide, comments, the trail;
and the review state the model card shows.

Every rule (who may save, submit, approve, resolve) is the store's: the panels
offer the action, and show the store's refusal with :func:`auth.store_error`.
A change that succeeds reruns the page with a one-line note, so lists are fresh.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from audit.errors import AuditError, StoreError
from audit.report import AuditReport
from audit.sections import registry
from audit.store.core import AuditRecord, Outcome, Status
from dashboard import components as ui
from dashboard import state
from dashboard.charts import reviews as rc
from dashboard.components import auth, links

COMMENT_SECTIONS = ("general", *registry.active().scorecard_areas)
OUTCOME_LABELS = {Outcome.APPROVED: "Approve", Outcome.CHANGES_REQUESTED: "Request changes"}


def _done(message: str) -> None:
    state.flash("success", message)
    st.rerun()


def open_audit(store: Any, user: Any, audit_id: int, run: int | None = None, *, refusal: str | None = None) -> bool:
    """Make a stored run (default the latest) the current report of this session, exactly as saved.

    When the store refuses (no such audit or run, no permission), its reason is shown,
    after ``refusal`` when given, and False returned.
    """
    try:
        rec = store.get_audit(audit_id, user=user, run=run)
        report = AuditReport.from_json(rec.report_json)
    except AuditError as exc:  # StoreError included
        st.error(f"{refusal}: {ui.md(exc)}." if refusal else ui.md(exc), icon=":material/block:")
        return False
    narrative = json.loads(rec.model_card_json) if rec.model_card_json else None
    state.open_stored(report, rec.id, rec.run, narrative, latest=rec.run == rec.latest_run)
    return True


def save_panel(store: Any, user: Any, report: AuditReport) -> None:
    """Save the current (unsaved) audit as a new draft, or as a new run of an audit of the same data.

    The model card narrative being edited for this report is saved with it.
    """
    key = state.current_key() or "report"
    m = report.manifest
    narrative = state.narrative_fields(key)
    with st.container(border=True):
        st.subheader("Save the current audit")
        model = f" · model {ui.md(report.models.selected_label)}" if report.models is not None else ""
        st.markdown(f"**{ui.md(m.dataset.name)}** · {m.rows_used:,} rows{model} · overall {ui.badge(report.overall_status)} "
                    f"· audited {ui.md(m.started_at)}")
        st.caption("Only you see it until it is saved; saved audits are visible to every signed-in user. "
                   + ("The model card narrative is saved with it." if narrative else "No model card narrative yet."))
        same_data = store.list_audits(user=user, dataset=m.dataset.sha256)
        target = st.selectbox("Save as", [None, *same_data], key="save_as",
                              format_func=lambda a: "a new audit" if a is None else
                              f"run {a.run + 1} of audit #{a.id} (same data, {rc.status_label(a.status)}, by {a.author})")
        if not st.button("Save to the shared store", type="primary", icon=":material/save:", key="save_audit"):
            return
        card = json.dumps(narrative, default=str) if narrative else None
        try:
            if target is None:
                saved = store.create_audit(user=user, dataset_name=m.dataset.name, dataset_sha256=m.dataset.sha256,
                                           report_json=report.to_json(), model_card_json=card)
            else:
                saved = store.add_run(target.id, user=user, report_json=report.to_json(), model_card_json=card,
                                      dataset_sha256=m.dataset.sha256)
        except StoreError as exc:
            auth.store_error(exc)
            return
    state.set_saved_audit_id(key, saved.id)
    _done(f"Saved as run {saved.run} of audit #{saved.id} ({rc.status_label(saved.status)}).")


def review_queue(store: Any, user: Any, *, current: int | None) -> None:
    """Audits waiting for a decision, with a way to open one."""
    waiting = [a for a in store.list_audits(user=user, status=Status.IN_REVIEW) if a.id != current]
    if not waiting:
        return
    with st.expander(f"Waiting for review ({len(waiting)})", expanded=current is None):
        ui.table(rc.audit_rows(waiting))
        pick = st.selectbox("Audit", [a.id for a in waiting], key="queue_pick",
                            format_func={a.id: rc.audit_label(a) for a in waiting}.get)
        if st.button("Open it to review", icon=":material/open_in_new:", key="queue_open") and \
                open_audit(store, user, pick):
            _done(f"Opened audit #{pick}; every page now shows its report.")


def load(store: Any, user: Any, audit_id: int) -> AuditRecord:
    """The latest run of the audit under review, or an error and a stopped page."""
    try:
        return store.get_audit(audit_id, user=user)
    except StoreError as exc:
        auth.store_error(exc)
        st.stop()


def header(rec: AuditRecord) -> None:
    st.header(f"Audit #{rec.id}: {ui.md(rec.dataset_name)}")
    if '"imported_from"' in rec.report_json:  # cheap pre-check; the parse confirms
        imported = json.loads(rec.report_json).get("imported_from")
        if imported:
            st.warning(f"Imported from {ui.md(imported)}: this run was opened from a file, so its numbers and "
                       "verdicts were not computed here.", icon=":material/upload_file:")
    st.markdown(f"Status :blue-badge[{rc.status_label(rec.status)}] · author **{ui.md(rec.author)}** · "
                f"run {rec.run} of {rec.latest_run} · saved {ui.md(rec.created_at)}")
    shown = state.current_key() or ""
    if shown.startswith(state.STORED_PREFIX) and shown.rsplit(":", 1)[-1] != str(rec.latest_run):
        st.warning("The pages show an earlier run of this audit; the review covers the latest run.")
    links.copy_link()


def _reviewed_run(rec: AuditRecord) -> int:
    """The run this reviewer has in front of them: the one the pages show, if it is this audit's."""
    shown = state.current_key() or ""
    prefix = f"{state.STORED_PREFIX}{rec.id}:"
    return int(shown[len(prefix):]) if shown.startswith(prefix) and shown[len(prefix):].isdigit() else rec.run


def workflow(store: Any, user: Any, rec: AuditRecord) -> None:
    """Submit a draft; decide on an audit in review; the decisions so far."""
    st.subheader("Review")
    if rec.status is Status.DRAFT:
        st.caption("A draft: its author (or an admin) submits it for review.")
        if st.button("Submit for review", type="primary", icon=":material/send:", key="submit_review"):
            try:
                store.submit_for_review(rec.id, user=user)
            except StoreError as exc:
                auth.store_error(exc)
            else:
                _done(f"Audit #{rec.id} is now in review.")
    elif rec.status is Status.IN_REVIEW:
        with st.form("decision_form"):
            outcome = st.radio("Decision", list(OUTCOME_LABELS), format_func=OUTCOME_LABELS.get, horizontal=True,
                               key="decision_outcome")
            note = st.text_area("Reasoning", key="decision_note",
                                placeholder="What you checked, what must change before approval")
            decided = st.form_submit_button("Record the decision", type="primary", key="decide")
        st.caption("Reviewers and admins decide; an author may request changes on their own audit but not approve it.")
        if decided:
            try:
                store.decide(rec.id, user=user, run=_reviewed_run(rec), outcome=outcome, note=note)
            except StoreError as exc:
                auth.store_error(exc)
            else:
                _done(f"Audit #{rec.id}: {rc.status_label(outcome)}.")
    else:
        st.caption("Decided. A new run of the audit would send it back to review.")
    decisions = store.list_decisions(rec.id, user=user)
    if decisions:
        ui.table([{"when": d.created_at, "reviewer": d.reviewer, "decision": rc.status_label(d.outcome),
                   "run": d.run, "note": d.note} for d in decisions])


def _body(text: str) -> str:
    return "  \n".join(ui.md(line) for line in text.splitlines()) or " "


def _comment(store: Any, user: Any, c: Any, depth: int) -> None:
    box = st.columns([1, 14])[1] if depth else st.container()
    with box.container(border=True):
        state_badge = f" :green-badge[resolved by {ui.md(c.resolved_by)}]" if c.resolved else ""
        st.markdown(f"**{ui.md(c.author)}** on :violet-badge[{c.section}] · #{c.id} · {ui.md(c.created_at[:16])}"
                    + (f" · answers #{c.parent_id}" if c.parent_id else "") + state_badge)
        st.markdown(_body(c.body))
        if st.button("Reopen" if c.resolved else "Resolve", key=f"resolve_{c.id}", type="tertiary",
                     icon=":material/undo:" if c.resolved else ":material/check:"):
            try:
                store.resolve_comment(c.id, user=user, resolved=not c.resolved)
            except StoreError as exc:
                auth.store_error(exc)
            else:
                _done(f"Comment #{c.id} {'reopened' if c.resolved else 'resolved'}.")
        if c.author == user.username and not c.resolved:
            _edit_box(store, user, c)


def _edit_box(store: Any, user: Any, c: Any) -> None:
    """The author's own open comment can be reworded; the store's trail keeps the edit."""
    with st.expander("Edit", icon=":material/edit:"), st.form(f"edit_comment_{c.id}"):
        body = st.text_area("Comment", value=c.body, key=f"edit_body_{c.id}")
        saved = st.form_submit_button("Save the edit", key=f"edit_save_{c.id}")
    if saved and body != c.body:
        try:
            store.edit_comment(c.id, user=user, body=body)
        except StoreError as exc:
            auth.store_error(exc)
        else:
            _done(f"Comment #{c.id} edited; the audit trail records the change.")


def comments(store: Any, user: Any, rec: AuditRecord) -> None:
    """Comments per report section, answers nested under what they answer, and a form to add one."""
    st.subheader("Comments")
    items = store.list_comments(rec.id, user=user)
    open_count = sum(not c.resolved for c in items)
    st.caption(f"{len(items)} comments, {open_count} open." if items else "No comments yet.")
    for c, depth in rc.threads(items):
        _comment(store, user, c, depth)
    labels = {c.id: f"#{c.id} {c.author} on {c.section}: {c.body[:60]}" for c in items}
    with st.form("comment_form", clear_on_submit=True):
        section = st.selectbox("Section", COMMENT_SECTIONS, key="comment_section")
        parent = st.selectbox("In answer to", [None, *labels], key="comment_parent",
                              format_func=lambda i: "(a new comment)" if i is None else labels[i])
        body = st.text_area("Comment", key="comment_body")
        posted = st.form_submit_button("Post", icon=":material/chat:", key="post_comment")
    if posted:
        if parent is not None:  # an answer belongs to the section of what it answers
            section = next(c.section for c in items if c.id == parent)
        try:
            store.add_comment(rec.id, user=user, body=body, section=section, parent_id=parent)
        except StoreError as exc:
            auth.store_error(exc)
        else:
            _done("Comment posted.")


def trail(store: Any, user: Any, audit_id: int) -> None:
    """Every change to this audit, oldest first (append-only in the store)."""
    with st.expander("Audit trail"):
        ui.table(rc.event_rows(store.list_events(user=user, audit_id=audit_id)))


def review_summary_for(key: str | None) -> dict | None:
    """The store's review state of this report, when it was saved and someone is signed in."""
    audit_id, user = state.saved_audit_id(key), state.current_user()
    if audit_id is None or user is None:
        return None
    try:
        return state.audit_store().review_summary(audit_id, user=user)
    except AuditError as exc:
        st.warning(f"Review state unavailable: {ui.md(exc)}")
        return None


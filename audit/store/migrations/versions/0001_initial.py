"""Initial audit store schema: users, audits and their runs, decisions, comments, events.

Revision ID: 0001
Revises:

A frozen copy of the tables in ``audit/_store_schema.py`` as of this revision;
later schema changes go in new revisions, never here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'reviewer', 'admin')", name="ck_users_role"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "audits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_name", sa.String(255), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id", name="fk_audits_author_id_users"),
                  nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("latest_run", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("status IN ('draft', 'in_review', 'approved', 'changes_requested')",
                           name="ck_audits_status"),
    )
    op.create_index("ix_audits_dataset_name", "audits", ["dataset_name"])
    op.create_index("ix_audits_dataset_sha256", "audits", ["dataset_sha256"])
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id", name="fk_audit_runs_audit_id_audits"),
                  nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("report_json", sa.Text, nullable=False),
        sa.Column("model_card_json", sa.Text, nullable=True),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", name="fk_audit_runs_created_by_users"),
                  nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("audit_id", "run", name="uq_audit_runs_audit_id_run"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id", name="fk_decisions_audit_id_audits"),
                  nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_decisions_user_id_users"),
                  nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("outcome IN ('approved', 'changes_requested')", name="ck_decisions_outcome"),
    )
    op.create_index("ix_decisions_audit_id", "decisions", ["audit_id"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id", name="fk_comments_audit_id_audits"),
                  nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_comments_user_id_users"),
                  nullable=False),
        sa.Column("section", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", name="fk_comments_parent_id_comments"),
                  nullable=True),
        sa.Column("resolved", sa.Boolean, nullable=False),
        sa.Column("resolved_by", sa.Integer, sa.ForeignKey("users.id", name="fk_comments_resolved_by_users"),
                  nullable=True),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_comments_audit_id", "comments", ["audit_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_events_user_id_users"),
                  nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audits.id", name="fk_events_audit_id_audits"),
                  nullable=True),
        sa.Column("details_json", sa.Text, nullable=False),
    )
    op.create_index("ix_events_audit_id", "events", ["audit_id"])
    if op.get_bind().dialect.name == "sqlite":
        # The store's API has no way to change the trail; these make the file itself
        # refuse it too, so a stray UPDATE from a SQL console fails loudly.
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )


def downgrade() -> None:
    for name in ("events", "comments", "decisions", "audit_runs", "audits", "users"):
        op.drop_table(name)

"""Single sign-on identities (issue 19).

Revision ID: 0005
Revises: 0004

- ``identities``: an OpenID Connect identity (issuer and subject, and the e-mail it had
  when first seen) and the account it signs in as. See ``audit/store/sso.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_identities_user_id_users"),
                  nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),
    )
    op.create_index("ix_identities_user_id", "identities", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_identities_user_id", table_name="identities")
    op.drop_table("identities")

"""server-side sessions of the staff pages (signed in by OpenID Connect)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True, comment="SHA-256 of the cookie's id"),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("directorate", sa.String(40), nullable=True),
        sa.Column(
            "id_token",
            sa.Text(),
            nullable=False,
            comment="the provider's ID token, for logout's id_token_hint",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_staff_sessions_last_seen_at"), "staff_sessions", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_sessions_last_seen_at"), table_name="staff_sessions")
    op.drop_table("staff_sessions")

"""staff sessions know the provider's session and subject (OpenID Connect back-channel logout)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "staff_sessions",
        sa.Column(
            "provider_sid",
            sa.String(200),
            nullable=True,
            comment="the provider's session (sid of the ID token): a logout token naming it ends this",
        ),
    )
    op.add_column(
        "staff_sessions",
        sa.Column(
            "provider_subject",
            sa.String(200),
            nullable=True,
            comment="the provider's user (sub): a logout token without sid ends all of them",
        ),
    )
    op.create_index(op.f("ix_staff_sessions_provider_sid"), "staff_sessions", ["provider_sid"])
    op.create_index(op.f("ix_staff_sessions_provider_subject"), "staff_sessions", ["provider_subject"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_sessions_provider_subject"), table_name="staff_sessions")
    op.drop_index(op.f("ix_staff_sessions_provider_sid"), table_name="staff_sessions")
    op.drop_column("staff_sessions", "provider_subject")
    op.drop_column("staff_sessions", "provider_sid")

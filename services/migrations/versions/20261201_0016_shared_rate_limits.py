"""rate limits shared by every API process: one token bucket per caller (a channel key, a
citizen's address) in PostgreSQL

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("caller", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False, comment="requests left in the bucket"),
        sa.Column("allowed", sa.Boolean(), nullable=False, comment="whether the last request got one"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, comment="when it was last counted"),
    )
    op.create_index(op.f("ix_rate_limits_at"), "rate_limits", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limits_at"), table_name="rate_limits")
    op.drop_table("rate_limits")

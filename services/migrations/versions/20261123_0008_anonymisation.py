"""anonymisation: when a closed request's personal data were anonymised, and indexes for the job

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The requests the nightly job still has to look at: closed, and not anonymised since (last) closed.
# Anonymised requests leave the index, so it stays as small as the backlog.
DUE = "closed_at IS NOT NULL AND (anonymised_at IS NULL OR anonymised_at < closed_at)"


def upgrade() -> None:
    op.add_column(
        "citizen_requests",
        sa.Column(
            "anonymised_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="when the personal data were anonymised (KVKK retention)",
        ),
    )
    op.create_index(
        "ix_citizen_requests_to_anonymise",
        "citizen_requests",
        ["closed_at"],
        postgresql_where=sa.text(DUE),
    )
    # The job finds the mails and SMS sent to a citizen by their address.
    op.create_index(op.f("ix_notifications_recipient"), "notifications", ["recipient"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_recipient"), table_name="notifications")
    op.drop_index("ix_citizen_requests_to_anonymise", table_name="citizen_requests")
    op.drop_column("citizen_requests", "anonymised_at")

"""sms delivery: the SMS centre's message ids and delivery state on notifications, receipts kept

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column(
            "smsc_message_ids",
            postgresql.ARRAY(sa.String(65)),
            comment="SMS: the SMS centre's message id of each part",
        ),
    )
    op.add_column(
        "notifications",
        sa.Column(
            "delivery_status",
            sa.String(10),
            comment="SMS: DELIVRD once every part is delivered, else a part's final SMPP state",
        ),
    )
    op.add_column(
        "notifications",
        sa.Column(
            "delivered_at", sa.DateTime(timezone=True), comment="SMS: when the last part reached the phone"
        ),
    )
    # A receipt names one part's id: find its notification without a scan.
    op.create_index(
        "ix_notifications_smsc_message_ids", "notifications", ["smsc_message_ids"], postgresql_using="gin"
    )
    op.create_table(
        "sms_receipts",
        sa.Column("smsc_message_id", sa.String(65), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, comment="SMPP message state: DELIVRD, UNDELIV, …"),
        sa.Column("error", sa.String(10), comment="the receipt's err: code"),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("smsc_message_id", name="pk_sms_receipts"),
    )


def downgrade() -> None:
    op.drop_table("sms_receipts")
    op.drop_index("ix_notifications_smsc_message_ids", table_name="notifications")
    op.drop_column("notifications", "delivered_at")
    op.drop_column("notifications", "delivery_status")
    op.drop_column("notifications", "smsc_message_ids")

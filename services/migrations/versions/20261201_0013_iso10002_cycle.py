"""ISO 10002 cycle: priorities and service times per priority, district, the citizen's choice of
status updates, objections to an answer, satisfaction ratings

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIORITY = sa.Enum("acil", "yuksek", "normal", name="priority", native_enum=False, length=10)


def upgrade() -> None:
    op.add_column(
        "categories",
        sa.Column("default_priority", PRIORITY, nullable=False, server_default="normal"),
    )
    op.add_column(
        "categories",
        sa.Column(
            "high_service_days",
            sa.Integer(),
            nullable=True,
            comment="service time in working days at priority yüksek (empty: half the normal one)",
        ),
    )
    op.add_column(
        "categories",
        sa.Column(
            "urgent_service_hours",
            sa.Integer(),
            nullable=False,
            server_default="24",
            comment="service time in clock hours at priority acil",
        ),
    )
    op.add_column(
        "citizen_requests", sa.Column("priority", PRIORITY, nullable=False, server_default="normal")
    )
    op.add_column(
        "citizen_requests",
        sa.Column("district", sa.String(60), nullable=True, comment="ilçe, as the channel gave it"),
    )
    op.add_column(
        "citizen_requests",
        sa.Column(
            "objection_deadline",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="until when the citizen may object to the answer (ISO 10002 7.8)",
        ),
    )
    op.add_column(
        "citizen_contacts",
        sa.Column(
            "wants_updates",
            sa.Boolean(),
            nullable=False,
            server_default=sa.true(),
            comment="status updates on the way (true) or only the receipt and the answer",
        ),
    )
    op.create_table(
        "objections",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "request_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("citizen_requests.id"), nullable=False
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status", sa.String(20), nullable=False, comment="acik / yeniden-acildi / kapanis-onaylandi"
        ),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("justification", sa.Text()),
    )
    op.create_index("ix_objections_request_id", "objections", ["request_id"])
    # One open objection per request (ISO 10002 7.8): the database refuses a second one.
    op.create_index(
        "uq_objections_one_open",
        "objections",
        ["request_id"],
        unique=True,
        postgresql_where=sa.text("status = 'acik'"),
    )
    op.create_table(
        "satisfaction_ratings",
        sa.Column(
            "request_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("citizen_requests.id"),
            primary_key=True,
        ),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("rated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_satisfaction_score"),
    )
    # Health and safety first (ISO 10002 7.5): the sample catalogue's dangerous categories.
    op.execute(
        "UPDATE categories SET default_priority = 'acil', urgent_service_hours = 4 "
        "WHERE code IN ('VET-SOKAK')"
    )
    op.execute(
        "UPDATE categories SET default_priority = 'yuksek' WHERE code IN ('PARK-AGAC', 'TEMIZLIK-COP')"
    )


def downgrade() -> None:
    op.drop_table("satisfaction_ratings")
    op.drop_index("uq_objections_one_open", table_name="objections")
    op.drop_index("ix_objections_request_id", table_name="objections")
    op.drop_table("objections")
    op.drop_column("citizen_contacts", "wants_updates")
    op.drop_column("citizen_requests", "objection_deadline")
    op.drop_column("citizen_requests", "district")
    op.drop_column("citizen_requests", "priority")
    op.drop_column("categories", "urgent_service_hours")
    op.drop_column("categories", "high_service_days")
    op.drop_column("categories", "default_priority")

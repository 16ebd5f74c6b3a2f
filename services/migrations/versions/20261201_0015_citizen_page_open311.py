"""citizen page and Open311: a category's description and extra questions (Open311 attributes),
the answers on the request, and photos the citizen attaches

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "categories",
        sa.Column("description", sa.String(500), nullable=True, comment="what the category covers, public"),
    )
    op.add_column(
        "categories",
        sa.Column(
            "attributes",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
            comment="extra questions asked at intake",
        ),
    )
    op.add_column(
        "citizen_requests",
        sa.Column(
            "attributes",
            postgresql.JSONB(),
            nullable=True,
            comment="answers to the category's extra questions, by attribute code",
        ),
    )
    op.create_table(
        "request_photos",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "request_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("citizen_requests.id"), nullable=False
        ),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_index(op.f("ix_request_photos_request_id"), "request_photos", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_request_photos_request_id"), table_name="request_photos")
    op.drop_table("request_photos")
    op.drop_column("citizen_requests", "attributes")
    op.drop_column("categories", "attributes")
    op.drop_column("categories", "description")

"""process deployments: what kalite-deploy gave the engine, version by version

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_deployments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("resource_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, comment="process / form / decision"),
        sa.Column(
            "resource_id", sa.String(200), nullable=False, comment="process id, form id or decision id"
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition_key", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_deployments")),
    )
    op.create_index(op.f("ix_process_deployments_resource_name"), "process_deployments", ["resource_name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_process_deployments_resource_name"), table_name="process_deployments")
    op.drop_table("process_deployments")

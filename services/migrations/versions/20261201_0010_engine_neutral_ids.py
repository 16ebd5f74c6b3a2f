"""engine-neutral identifiers: the old engine's integer keys become the engine's string ids (Operaton)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose rows name the process instance working on them. Keys of the old engine are kept as
# text: they still identify the instance in that engine's archive.
INSTANCE_TABLES = ("system_checks", "citizen_requests", "nonconformities", "difs")
UNIQUE_PER_INSTANCE = ("system_checks", "nonconformities", "difs")


def upgrade() -> None:
    for table in INSTANCE_TABLES:
        op.alter_column(table, "process_instance_key", new_column_name="process_instance_id")
        op.alter_column(
            table,
            "process_instance_id",
            type_=sa.String(64),
            postgresql_using="process_instance_id::text",
        )
    for table in UNIQUE_PER_INSTANCE:
        op.execute(
            f"ALTER TABLE {table} RENAME CONSTRAINT uq_{table}_process_instance_key"
            f" TO uq_{table}_process_instance_id"
        )
    op.alter_column("process_deployments", "definition_key", new_column_name="definition_id")
    op.alter_column(
        "process_deployments", "definition_id", type_=sa.String(255), postgresql_using="definition_id::text"
    )
    op.add_column(
        "outbox",
        sa.Column(
            "attempted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="last publish attempt, committed before it (a lease against a second publisher)",
        ),
    )
    op.add_column(
        "outbox",
        sa.Column(
            "starts_process",
            sa.Boolean(),
            nullable=False,
            server_default=sa.true(),
            comment="true: starts an instance; false: goes to the waiting instance of the business key",
        ),
    )


def downgrade() -> None:
    op.drop_column("outbox", "starts_process")
    op.drop_column("outbox", "attempted_at")
    op.alter_column(
        "process_deployments", "definition_id", type_=sa.BigInteger(), postgresql_using="NULL::bigint"
    )
    op.alter_column("process_deployments", "definition_id", new_column_name="definition_key")
    for table in UNIQUE_PER_INSTANCE:
        op.execute(
            f"ALTER TABLE {table} RENAME CONSTRAINT uq_{table}_process_instance_id"
            f" TO uq_{table}_process_instance_key"
        )
    for table in INSTANCE_TABLES:
        op.alter_column(table, "process_instance_id", type_=sa.BigInteger(), postgresql_using="NULL::bigint")
        op.alter_column(table, "process_instance_id", new_column_name="process_instance_key")

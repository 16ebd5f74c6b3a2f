"""audit inbox: lines committed with their change, chained into audit_log by the sealer

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A line is never changed on its way to the chain: the sealer copies it and deletes it.
GUARD = """
CREATE FUNCTION refuse_audit_inbox_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_inbox lines are not changed: % refused', TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_inbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_inbox")),
        sa.CheckConstraint(
            "action IN ('read', 'insert', 'update', 'delete')", name=op.f("ck_audit_inbox_action")
        ),
    )
    op.execute(GUARD)
    op.execute(
        "CREATE TRIGGER audit_inbox_unchanged BEFORE UPDATE ON audit_inbox "
        "FOR EACH ROW EXECUTE FUNCTION refuse_audit_inbox_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_inbox_unchanged ON audit_inbox")
    op.execute("DROP FUNCTION refuse_audit_inbox_change()")
    op.drop_table("audit_inbox")

"""audit log: append-only, hash-chained trail of reads and changes of personal data and quality records

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Append-only in the database itself: no code path — API, script or console — changes or removes
# a line. (The table's owner can still switch the trigger off; the hash chain shows what changed.)
GUARD = """
CREATE FUNCTION refuse_audit_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$
"""
HASH = "~ '^[0-9a-f]{64}$'"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "actor",
            sa.Text(),
            nullable=False,
            comment="a staff user, kanal:<key>, worker:<task type>, system",
        ),
        sa.Column("action", sa.String(10), nullable=False, comment="read / insert / update / delete"),
        sa.Column("entity", sa.String(63), nullable=False, comment="table name"),
        sa.Column("entity_id", sa.Text(), nullable=False, comment="primary key as text"),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.CheckConstraint("seq > 0", name=op.f("ck_audit_log_seq")),
        sa.CheckConstraint(
            "action IN ('read', 'insert', 'update', 'delete')", name=op.f("ck_audit_log_action")
        ),
        sa.CheckConstraint(f"hash {HASH} AND prev_hash {HASH}", name=op.f("ck_audit_log_hashes")),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    op.execute(GUARD)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION refuse_audit_log_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_log_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION refuse_audit_log_change()")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_table("audit_log")

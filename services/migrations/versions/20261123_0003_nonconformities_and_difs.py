"""nonconformities, findings, DİFs, actions, evidence, approvals, escalations; retention guard

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 04:10:00
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Quality records under retention (clause 7: 20 years after closure) refuse deletion in the
# database itself, so no code path — API, script or console — can remove them early.
RETAINED = ("nonconformities", "findings", "difs", "dif_archives")
GUARD = """
CREATE FUNCTION refuse_delete_under_retention() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.retention_until IS NULL OR OLD.retention_until > now() THEN
    RAISE EXCEPTION '% record is under retention until %', TG_TABLE_NAME, OLD.retention_until
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN OLD;
END $$;
"""


def _id() -> sa.Column[uuid.UUID]:
    return sa.Column("id", sa.UUID(), nullable=False)


def _at(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{target.split('.')[0]}")
    )


def upgrade() -> None:
    # Catalogue: who approves DİFs (director's Tasklist group) and where stalled approvals go next.
    op.add_column("directorates", sa.Column("director_group", sa.String(100), nullable=True))
    op.add_column("directorates", sa.Column("head_email", sa.String(320), nullable=True))
    op.execute(
        "UPDATE directorates SET director_group = 'mudur-' || lower(code), head_email = director_email"
    )
    op.alter_column(
        "directorates", "director_group", nullable=False, comment="Tasklist candidate group of its director"
    )
    op.alter_column(
        "directorates",
        "head_email",
        nullable=False,
        comment="head of department (daire başkanı): next level for stalled approvals",
    )
    op.create_table(
        "offices",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("staff_group", sa.String(100), nullable=False, comment="Tasklist candidate group"),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_offices")),
    )
    op.execute("CREATE SEQUENCE record_numbers")
    op.create_table(
        "nonconformities",
        _id(),
        sa.Column("number", sa.String(30), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=True),
        sa.Column("directorate_code", sa.String(40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, comment="what was wrong"),
        sa.Column("source", sa.String(30), nullable=False, comment="how it was found"),
        sa.Column("reference", sa.String(100), nullable=True, comment="caller's id, for safe retries"),
        sa.Column("found_by", sa.String(100), nullable=False),
        _at("found_at"),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("decision", sa.String(20), nullable=True, comment="yeniden-ac / yonlendir"),
        sa.Column("institution_code", sa.String(40), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("process_instance_key", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=True),
        _fk("request_id", "nonconformities", "citizen_requests.id"),
        _fk("directorate_code", "nonconformities", "directorates.code"),
        _fk("institution_code", "nonconformities", "institutions.code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nonconformities")),
        sa.UniqueConstraint("number", name=op.f("uq_nonconformities_number")),
        sa.UniqueConstraint("process_instance_key", name=op.f("uq_nonconformities_process_instance_key")),
        sa.UniqueConstraint("source", "reference", name=op.f("uq_nonconformities_source")),
    )
    for column in ("request_id", "directorate_code", "status"):
        op.create_index(op.f(f"ix_nonconformities_{column}"), "nonconformities", [column])
    op.create_table(
        "findings",
        _id(),
        sa.Column("number", sa.String(30), nullable=False),
        sa.Column("nonconformity_id", sa.UUID(), nullable=False),
        sa.Column("directorate_code", sa.String(40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _at("opened_at"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=True),
        _fk("nonconformity_id", "findings", "nonconformities.id"),
        _fk("directorate_code", "findings", "directorates.code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("number", name=op.f("uq_findings_number")),
        sa.UniqueConstraint("nonconformity_id", name=op.f("uq_findings_nonconformity_id")),
    )
    op.create_index(op.f("ix_findings_directorate_code"), "findings", ["directorate_code"])
    op.create_table(
        "difs",
        _id(),
        sa.Column("number", sa.String(30), nullable=False),
        sa.Column("finding_id", sa.UUID(), nullable=False),
        sa.Column("directorate_code", sa.String(40), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("planned_by", sa.String(100), nullable=True),
        _at("opened_at"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("process_instance_key", sa.BigInteger(), nullable=True),
        _fk("finding_id", "difs", "findings.id"),
        _fk("directorate_code", "difs", "directorates.code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_difs")),
        sa.UniqueConstraint("number", name=op.f("uq_difs_number")),
        sa.UniqueConstraint("finding_id", name=op.f("uq_difs_finding_id")),
        sa.UniqueConstraint("process_instance_key", name=op.f("uq_difs_process_instance_key")),
    )
    op.create_index(op.f("ix_difs_directorate_code"), "difs", ["directorate_code"])
    op.create_index(op.f("ix_difs_status"), "difs", ["status"])
    op.create_table(
        "dif_actions",
        _id(),
        sa.Column("dif_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(100), nullable=False, comment="Tasklist user name of the owner"),
        sa.Column("responsible_email", sa.String(320), nullable=False, comment="where reminders go"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, comment="acik / tamamlandi / geri-gonderildi"),
        sa.Column("completed_by", sa.String(100), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        _fk("dif_id", "dif_actions", "difs.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dif_actions")),
        sa.UniqueConstraint("dif_id", "position", name=op.f("uq_dif_actions_dif_id")),
    )
    op.create_index(op.f("ix_dif_actions_dif_id"), "dif_actions", ["dif_id"])
    op.create_table(
        "evidence_files",
        _id(),
        sa.Column("action_id", sa.UUID(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        _at("uploaded_at"),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        _fk("action_id", "evidence_files", "dif_actions.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_files")),
    )
    op.create_index(op.f("ix_evidence_files_action_id"), "evidence_files", ["action_id"])
    op.create_table(
        "dif_approvals",
        _id(),
        sa.Column("dif_id", sa.UUID(), nullable=False),
        sa.Column("step", sa.String(30), nullable=False, comment="mudur-onayi / eys-dogrulama"),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        _at("at"),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        _fk("dif_id", "dif_approvals", "difs.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dif_approvals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_dif_approvals_idempotency_key")),
    )
    op.create_index(op.f("ix_dif_approvals_dif_id"), "dif_approvals", ["dif_id"])
    op.create_table(
        "escalations",
        _id(),
        sa.Column("dif_id", sa.UUID(), nullable=False),
        sa.Column("action_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False, comment="eylem-hatirlatma / eylem-gecikmesi / onay"),
        sa.Column(
            "level", sa.String(40), nullable=False, comment="who was told: sorumlu, mudur, daire-baskani, …"
        ),
        sa.Column("recipient", sa.String(320), nullable=False),
        _at("at"),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        _fk("dif_id", "escalations", "difs.id"),
        _fk("action_id", "escalations", "dif_actions.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_escalations_idempotency_key")),
    )
    op.create_index(op.f("ix_escalations_dif_id"), "escalations", ["dif_id"])
    op.create_table(
        "quality_events",
        _id(),
        sa.Column("nonconformity_id", sa.UUID(), nullable=True),
        sa.Column("dif_id", sa.UUID(), nullable=True),
        _at("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        _fk("nonconformity_id", "quality_events", "nonconformities.id"),
        _fk("dif_id", "quality_events", "difs.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_quality_events_idempotency_key")),
    )
    op.create_index(op.f("ix_quality_events_nonconformity_id"), "quality_events", ["nonconformity_id"])
    op.create_index(op.f("ix_quality_events_dif_id"), "quality_events", ["dif_id"])
    op.create_table(
        "dif_archives",
        sa.Column("dif_id", sa.UUID(), nullable=False),
        _at("archived_at"),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        _fk("dif_id", "dif_archives", "difs.id"),
        sa.PrimaryKeyConstraint("dif_id", name=op.f("pk_dif_archives")),
    )
    op.execute(GUARD)
    for table in RETAINED:
        op.execute(
            f"CREATE TRIGGER {table}_retention BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_delete_under_retention()"
        )


def downgrade() -> None:
    for table in RETAINED:
        op.execute(f"DROP TRIGGER {table}_retention ON {table}")
    op.execute("DROP FUNCTION refuse_delete_under_retention()")
    for table in (
        "dif_archives",
        "quality_events",
        "escalations",
        "dif_approvals",
        "evidence_files",
        "dif_actions",
        "difs",
        "findings",
        "nonconformities",
        "offices",
    ):
        op.drop_table(table)
    op.execute("DROP SEQUENCE record_numbers")
    op.drop_column("directorates", "head_email")
    op.drop_column("directorates", "director_group")

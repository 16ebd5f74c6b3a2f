"""monitoring summaries (issue #15): working-day calendar, per-request rows, daily and monthly
sums and working-day histograms, and the triggers that mark a request's row stale

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 19:00:00

The triggers put a request's id into `indicator_dirty` whenever something the figures count about
it changes (a history entry, its own row, a nonconformity, an objection, a rating); the refresh
(services/indicator_refresh.py) recomputes exactly those. Every request existing at upgrade is
marked, so the first refresh fills the tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.sql.schema import SchemaItem

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAILY_COUNTS = (
    "requests",
    "answered",
    "due_answered",
    "on_time",
    "closed",
    "reopened",
    "redirected",
    "wrong_directorate",
    "info_requested",
    "info_unanswered",
    "nonconforming",
    "objected",
    "objection_upheld",
    "objection_rejected",
    "objection_open",
    "invited",
    "rated",
    "rated_invited",
    "rating_sum",
    "rating_low",
)
FLAGS = (
    "on_time",
    "reopened",
    "redirected",
    "wrong_directorate",
    "info_requested",
    "info_unanswered",
    "nonconforming",
    "objected",
    "objection_upheld",
    "objection_rejected",
    "objection_open",
    "invited",
)
# Table → the column naming the request, and the columns of citizen_requests the figures read.
MARKED = {
    "request_events": "request_id",
    "nonconformities": "request_id",
    "objections": "request_id",
    "satisfaction_ratings": "request_id",
}
REQUEST_COLUMNS = "received_at, channel, category_code, directorate_code, due_at, closed_at, merged_into_id"


def _day(monthly: bool) -> sa.Column[object]:
    comment = "first day of the month" if monthly else None
    return sa.Column("day", sa.Date(), nullable=False, comment=comment)


def _cell(monthly: bool) -> list[SchemaItem]:
    return [
        _day(monthly),
        sa.Column("directorate_code", sa.String(40), nullable=False),
        sa.Column("category_code", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in DAILY_COUNTS],
        sa.PrimaryKeyConstraint("day", "directorate_code", "category_code", "channel"),
    ]


def _histogram(monthly: bool) -> list[SchemaItem]:
    return [
        _day(monthly),
        sa.Column("directorate_code", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False, comment="yanit / kapanis"),
        sa.Column("wd", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "directorate_code", "channel", "kind", "wd"),
    ]


def upgrade() -> None:
    op.create_table(
        "working_calendar",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column(
            "wd_index", sa.Integer(), nullable=False, comment="working days from 2015-01-01 up to this day"
        ),
    )
    op.create_table("indicator_dirty", sa.Column("request_id", UUID(as_uuid=True), primary_key=True))
    op.create_table(
        "indicator_requests",
        sa.Column("request_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_day", sa.Date(), nullable=False, comment="Istanbul date of receipt"),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("category_code", sa.String(40), nullable=False, comment="'' when not routed"),
        sa.Column("directorate_code", sa.String(40), nullable=False, comment="'' when not routed"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True, comment="current due date"),
        sa.Column(
            "first_due_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="due date of the first service period",
        ),
        sa.Column("first_answer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_wd", sa.Integer(), nullable=True, comment="working days receipt → first answer"),
        sa.Column("close_wd", sa.Integer(), nullable=True, comment="working days receipt → close"),
        *[sa.Column(flag, sa.Boolean(), nullable=False) for flag in FLAGS],
        sa.Column("rating", sa.SmallInteger(), nullable=True),
    )
    op.create_index(
        "ix_indicator_requests_cell",
        "indicator_requests",
        ["received_day", "directorate_code", "category_code", "channel"],
    )
    op.create_index(
        "ix_indicator_requests_open",
        "indicator_requests",
        ["received_day"],
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index("ix_indicator_requests_category", "indicator_requests", ["category_code", "received_day"])
    op.create_table("indicator_daily", *_cell(False))
    op.create_table("indicator_monthly", *_cell(True))
    op.create_table("indicator_durations", *_histogram(False))
    op.create_table("indicator_durations_monthly", *_histogram(True))
    op.execute(
        "CREATE FUNCTION indicator_mark_request() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO indicator_dirty (request_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;"
        " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION indicator_mark_related() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF NEW.request_id IS NOT NULL THEN"
        " INSERT INTO indicator_dirty (request_id) VALUES (NEW.request_id) ON CONFLICT DO NOTHING;"
        " END IF; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER indicator_mark AFTER INSERT OR UPDATE OF"
        f" {REQUEST_COLUMNS} ON citizen_requests"
        " FOR EACH ROW EXECUTE FUNCTION indicator_mark_request()"
    )
    for table in MARKED:
        op.execute(
            f"CREATE TRIGGER indicator_mark AFTER INSERT OR UPDATE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION indicator_mark_related()"
        )
    op.execute("INSERT INTO indicator_dirty (request_id) SELECT id FROM citizen_requests")


def downgrade() -> None:
    for table in (*MARKED, "citizen_requests"):
        op.execute(f"DROP TRIGGER indicator_mark ON {table}")
    op.execute("DROP FUNCTION indicator_mark_related()")
    op.execute("DROP FUNCTION indicator_mark_request()")
    for table in (
        "indicator_durations_monthly",
        "indicator_durations",
        "indicator_monthly",
        "indicator_daily",
    ):
        op.drop_table(table)
    op.drop_index("ix_indicator_requests_category", table_name="indicator_requests")
    op.drop_index("ix_indicator_requests_open", table_name="indicator_requests")
    op.drop_index("ix_indicator_requests_cell", table_name="indicator_requests")
    op.drop_table("indicator_requests")
    op.drop_table("indicator_dirty")
    op.drop_table("working_calendar")

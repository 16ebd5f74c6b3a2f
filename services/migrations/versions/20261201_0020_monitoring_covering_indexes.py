"""monitoring summaries: covering indexes for the open requests' rows and a category's rows
(index-only scans: "overdue now" over a year of 1.5 million requests went from 157 to 57 ms)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_INCLUDES = ["due_at", "directorate_code", "category_code", "channel", "first_answer_at"]
CATEGORY_INCLUDES = ["directorate_code", "channel", "answer_wd", "close_wd"]


def _indexes(open_includes: list[str], category_includes: list[str]) -> None:
    op.drop_index("ix_indicator_requests_open", table_name="indicator_requests")
    op.drop_index("ix_indicator_requests_category", table_name="indicator_requests")
    op.create_index(
        "ix_indicator_requests_open",
        "indicator_requests",
        ["received_day"],
        postgresql_include=open_includes,
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index(
        "ix_indicator_requests_category",
        "indicator_requests",
        ["category_code", "received_day"],
        postgresql_include=category_includes,
    )


def upgrade() -> None:
    _indexes(OPEN_INCLUDES, CATEGORY_INCLUDES)


def downgrade() -> None:
    _indexes([], [])

"""duplicate requests: earthdistance for "same place", an index of open requests' locations, merged_into_id

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 12:00:00

`earthdistance` is not a trusted extension: creating it needs a superuser (`cube` is trusted, a
database owner may create it). Where the application's role is not one, a superuser creates both
in the application's database before this migration runs; `IF NOT EXISTS` then finds them and
needs no privilege:

    CREATE EXTENSION IF NOT EXISTS earthdistance CASCADE;   -- also creates cube

The local stack does this itself (deploy/local/stack.py, also in template1 for test databases).

The index is on `request_location(latitude, longitude)`, which is `ll_to_earth` with the extension's
schema pinned as its search path. earthdistance 1.1 (PostgreSQL ≤ 17) writes its functions as
strings resolved through the caller's search path, so an index on `ll_to_earth` itself cannot be
rebuilt where that path is empty: pg_restore fails on it ("type earth does not exist"; tried) and
PostgreSQL 17's maintenance commands would too. A function with its own search path is not
inlined, so index and queries name it and the planner matches them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exactly the requests a new one can be a duplicate of; services/duplicates.py repeats this
# predicate in its query so that the planner may use the index.
OPEN_WITH_LOCATION = (
    "closed_at IS NULL AND merged_into_id IS NULL AND latitude IS NOT NULL AND longitude IS NOT NULL"
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS cube")
    op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
    schema = op.get_bind().scalar(
        sa.text("SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'earthdistance'")
    )
    op.execute(
        f"CREATE FUNCTION request_location(latitude double precision, longitude double precision)"
        f" RETURNS {schema}.earth LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"
        f" SET search_path = {schema} RETURN {schema}.ll_to_earth(latitude, longitude)"
    )
    op.add_column(
        "citizen_requests",
        sa.Column(
            "merged_into_id",
            UUID(as_uuid=True),
            sa.ForeignKey("citizen_requests.id", name="fk_citizen_requests_merged_into_id_citizen_requests"),
            nullable=True,
            comment="the earlier request this duplicate was merged into; its answer is this one's",
        ),
    )
    op.create_index("ix_citizen_requests_merged_into_id", "citizen_requests", ["merged_into_id"])
    op.create_index(
        "ix_citizen_requests_open_location",
        "citizen_requests",
        [sa.text("request_location(latitude, longitude)")],
        postgresql_using="gist",
        postgresql_where=sa.text(OPEN_WITH_LOCATION),
    )


def downgrade() -> None:
    op.drop_index("ix_citizen_requests_open_location", table_name="citizen_requests")
    op.drop_index("ix_citizen_requests_merged_into_id", table_name="citizen_requests")
    op.drop_column("citizen_requests", "merged_into_id")
    op.execute("DROP FUNCTION request_location(double precision, double precision)")
    # The extensions stay: a superuser created earthdistance (the application's role may not drop
    # it), and other objects may use them.

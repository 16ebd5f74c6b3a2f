"""encrypt citizens' contact data at rest

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.config import get_settings
from services.personal_data import cipher

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("full_name", "phone", "email", "address")
PLAIN = {
    "full_name": sa.String(120),
    "phone": sa.String(20),
    "email": sa.String(320),
    "address": sa.String(500),
}


def _rewrite(convert: str) -> None:
    """Encrypt (or, going down, decrypt) every stored contact with PERSONAL_DATA_KEYS."""
    fernet = cipher(tuple(get_settings().personal_data_key_list))
    connection = op.get_bind()
    # Column names come from COLUMNS above, never from input.
    select_all = f"SELECT request_id, {', '.join(COLUMNS)} FROM citizen_contacts"  # noqa: S608
    update = "UPDATE citizen_contacts SET " + ", ".join(f"{c} = :{c}" for c in COLUMNS)  # noqa: S608
    for row in connection.execute(sa.text(select_all)).all():
        values: dict[str, str | None] = {}
        for column in COLUMNS:
            value = getattr(row, column)
            if value is not None:
                token = (
                    fernet.encrypt(value.encode()) if convert == "encrypt" else fernet.decrypt(value.encode())
                )
                values[column] = token.decode()
            else:
                values[column] = None
        connection.execute(
            sa.text(update + " WHERE request_id = :request_id"), {**values, "request_id": row.request_id}
        )


def upgrade() -> None:
    for column in COLUMNS:
        op.alter_column("citizen_contacts", column, type_=sa.Text(), existing_type=PLAIN[column])
    _rewrite("encrypt")


def downgrade() -> None:
    _rewrite("decrypt")
    for column in COLUMNS:
        op.alter_column("citizen_contacts", column, type_=PLAIN[column], existing_type=sa.Text())

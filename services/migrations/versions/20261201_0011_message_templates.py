"""message templates: every mail and SMS text as versioned data an administrator changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("key", sa.String(100), nullable=False, comment="the event, e.g. vatandas.yanit-olumlu"),
        sa.Column("medium", sa.String(10), nullable=False, comment="eposta / sms"),
        sa.Column(
            "category_code",
            sa.String(40),
            nullable=True,
            comment="the category it is for; NULL: every category without its own",
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "subject", sa.Text(), nullable=False, comment="Jinja2 template of the mail subject; empty for SMS"
        ),
        sa.Column("body", sa.Text(), nullable=False, comment="Jinja2 template of the text"),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True, comment="why it was changed"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
    )
    # A category-less template is a NULL category: coalesce so that NULLs collide too.
    op.create_index(
        "uq_message_templates_version",
        "message_templates",
        ["key", "medium", sa.text("coalesce(category_code, '')"), "version"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_message_templates_version", table_name="message_templates")
    op.drop_table("message_templates")

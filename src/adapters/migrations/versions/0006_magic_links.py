"""magic links

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "magic_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("application_identifier", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_identifier"],
            ["applications.identifier"],
            name=op.f("fk_magic_links_application_identifier_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_magic_links")),
    )
    with op.batch_alter_table("magic_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_magic_links_application_identifier"),
            ["application_identifier"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("magic_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_magic_links_application_identifier"))

    op.drop_table("magic_links")

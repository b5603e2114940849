"""pre-fill fetches by source, and the buyer's name on markets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prefill_fetches",
        sa.Column("application_identifier", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_identifier"],
            ["applications.identifier"],
            name=op.f("fk_prefill_fetches_application_identifier_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "application_identifier", "source", name=op.f("pk_prefill_fetches")
        ),
    )
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.drop_column("buyer_name")
    op.drop_table("prefill_fetches")

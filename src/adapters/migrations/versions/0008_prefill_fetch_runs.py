"""how many times a pre-fill source was asked (the candidate may ask a failed one again)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prefill_fetches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runs", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("prefill_fetches", schema=None) as batch_op:
        batch_op.drop_column("runs")

"""market optional keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added nullable, filled, then made NOT NULL: existing markets get an empty choice.
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("optional_keys", sa.JSON(), nullable=True))
    op.execute("UPDATE markets SET optional_keys = '[]'")
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.alter_column("optional_keys", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.drop_column("optional_keys")

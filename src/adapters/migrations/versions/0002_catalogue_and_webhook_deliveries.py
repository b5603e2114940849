"""catalogue and webhook deliveries

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "catalogue_categories",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("buyer_label", sa.String(length=255), nullable=False),
        sa.Column("candidate_label", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_categories")),
    )
    op.create_table(
        "catalogue_subcategories",
        sa.Column("key", sa.String(length=150), nullable=False),
        sa.Column("category_key", sa.String(length=100), nullable=False),
        sa.Column("buyer_label", sa.String(length=255), nullable=False),
        sa.Column("candidate_label", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_key"],
            ["catalogue_categories.key"],
            name=op.f("fk_catalogue_subcategories_category_key_catalogue_categories"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_subcategories")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("editor_client_id", sa.String(length=64), nullable=False),
        sa.Column("resource_identifier", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["editor_client_id"],
            ["editors.client_id"],
            name=op.f("fk_webhook_deliveries_editor_client_id_editors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_editor_client_id"), ["editor_client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_resource_identifier"),
            ["resource_identifier"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_status"), ["status"], unique=False)

    op.create_table(
        "catalogue_attributes",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("category_key", sa.String(length=100), nullable=False),
        sa.Column("subcategory_key", sa.String(length=150), nullable=False),
        sa.Column("buyer_title", sa.Text(), nullable=False),
        sa.Column("buyer_description", sa.Text(), nullable=False),
        sa.Column("candidate_title", sa.Text(), nullable=False),
        sa.Column("candidate_description", sa.Text(), nullable=False),
        sa.Column("input_type", sa.String(length=50), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("market_types", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("source_field", sa.Text(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_key"],
            ["catalogue_categories.key"],
            name=op.f("fk_catalogue_attributes_category_key_catalogue_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["subcategory_key"],
            ["catalogue_subcategories.key"],
            name=op.f("fk_catalogue_attributes_subcategory_key_catalogue_subcategories"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_attributes")),
    )


def downgrade() -> None:

    op.drop_table("catalogue_attributes")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_status"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_resource_identifier"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_editor_client_id"))

    op.drop_table("webhook_deliveries")
    op.drop_table("catalogue_subcategories")
    op.drop_table("catalogue_categories")

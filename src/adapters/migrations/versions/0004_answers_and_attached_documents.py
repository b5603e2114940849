"""answers and attached documents

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "answers",
        sa.Column("application_identifier", sa.String(length=32), nullable=False),
        sa.Column("attribute_key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_identifier"],
            ["applications.identifier"],
            name=op.f("fk_answers_application_identifier_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_identifier", "attribute_key", name=op.f("pk_answers")),
    )
    op.create_table(
        "attached_documents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("application_identifier", sa.String(length=32), nullable=False),
        sa.Column("attribute_key", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.String(length=100), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("scan", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_identifier"],
            ["applications.identifier"],
            name=op.f("fk_attached_documents_application_identifier_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attached_documents")),
    )
    with op.batch_alter_table("attached_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attached_documents_application_identifier"),
            ["application_identifier"],
            unique=False,
        )

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("company_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("lot_numbers", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("declaration_accepted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("documents_generated_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Existing applications have chosen no lot yet.
    op.execute("UPDATE applications SET lot_numbers = '[]'")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.alter_column("lot_numbers", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("documents_generated_at")
        batch_op.drop_column("declaration_accepted_at")
        batch_op.drop_column("lot_numbers")
        batch_op.drop_column("company_name")

    with op.batch_alter_table("attached_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attached_documents_application_identifier"))

    op.drop_table("attached_documents")
    op.drop_table("answers")

"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "editors",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("client_secret_hash", sa.String(length=64), nullable=False),
        sa.Column("authorized", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("can_create_defense_markets", sa.Boolean(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.String(length=128), nullable=True),
        sa.Column("buyer_return_url", sa.Text(), nullable=True),
        sa.Column("candidate_return_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_editors")),
        sa.UniqueConstraint("name", name=op.f("uq_editors_name")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["editors.client_id"], name=op.f("fk_access_tokens_client_id_editors")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_access_tokens")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_client_id"), ["client_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource_identifier", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["editors.client_id"], name=op.f("fk_idempotency_keys_client_id_editors")
        ),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "markets",
        sa.Column("identifier", sa.String(length=32), nullable=False),
        sa.Column("editor_client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("buyer_siret", sa.String(length=14), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("market_type_codes", sa.JSON(), nullable=False),
        sa.Column("lot_limit", sa.Integer(), nullable=True),
        sa.Column("provider_user_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("field_keys", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["editor_client_id"],
            ["editors.client_id"],
            name=op.f("fk_markets_editor_client_id_editors"),
        ),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_markets")),
    )
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_markets_editor_client_id"), ["editor_client_id"], unique=False
        )

    op.create_table(
        "applications",
        sa.Column("identifier", sa.String(length=32), nullable=False),
        sa.Column("market_identifier", sa.String(length=32), nullable=False),
        sa.Column("editor_client_id", sa.String(length=64), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=True),
        sa.Column("provider_user_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["editor_client_id"],
            ["editors.client_id"],
            name=op.f("fk_applications_editor_client_id_editors"),
        ),
        sa.ForeignKeyConstraint(
            ["market_identifier"],
            ["markets.identifier"],
            name=op.f("fk_applications_market_identifier_markets"),
        ),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_applications")),
        sa.UniqueConstraint("market_identifier", "siret", name="uq_applications_market_siret"),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applications_editor_client_id"), ["editor_client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_applications_market_identifier"), ["market_identifier"], unique=False
        )

    op.create_table(
        "lots",
        sa.Column("market_identifier", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cpv_code", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["market_identifier"],
            ["markets.identifier"],
            name=op.f("fk_lots_market_identifier_markets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("market_identifier", "number", name=op.f("pk_lots")),
    )


def downgrade() -> None:

    op.drop_table("lots")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_market_identifier"))
        batch_op.drop_index(batch_op.f("ix_applications_editor_client_id"))

    op.drop_table("applications")
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_markets_editor_client_id"))

    op.drop_table("markets")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_client_id"))

    op.drop_table("access_tokens")
    op.drop_table("editors")

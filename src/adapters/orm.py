"""SQLAlchemy tables and the imperative mapping of the domain entities onto them.

The domain classes stay plain dataclasses; this module teaches SQLAlchemy how to persist them.
Alembic owns the schema: `migrations/` must follow every change made here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from passemarche.domain.answers import Answer, AttachedDocument
from passemarche.domain.application import Application
from passemarche.domain.catalogue import Attribute, Category, Subcategory
from passemarche.domain.clock import ensure_utc
from passemarche.domain.editor import AccessToken, Editor
from passemarche.domain.idempotency import IdempotencyRecord
from passemarche.domain.magic_link import MagicLink
from passemarche.domain.market import Lot, Market
from passemarche.domain.prefill import SourceFetch
from passemarche.domain.siret import Siret
from passemarche.domain.webhook import WebhookDelivery
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry, relationship
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class SiretType(TypeDecorator[Siret]):
    impl = String(14)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Siret | None:
        return None if value is None else Siret(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Always aware UTC in Python, whatever the database keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


editors = Table(
    "editors",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("client_secret_hash", String(64), nullable=False),
    Column("authorized", Boolean, nullable=False, default=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("can_create_defense_markets", Boolean, nullable=False, default=False),
    Column("webhook_url", Text),
    Column("webhook_secret", String(128)),
    Column("buyer_return_url", Text),
    Column("candidate_return_url", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("client_id", String(64), ForeignKey("editors.client_id"), nullable=False, index=True),
    Column("scope", String(255), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

markets = Table(
    "markets",
    metadata,
    Column("identifier", String(32), primary_key=True),
    Column(
        "editor_client_id",
        String(64),
        ForeignKey("editors.client_id"),
        nullable=False,
        index=True,
    ),
    Column("name", String(255), nullable=False),
    Column("buyer_siret", SiretType, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("market_type_codes", JSON, nullable=False),
    Column("lot_limit", Integer),
    Column("provider_user_id", String(255)),
    Column("status", String(16), nullable=False),
    Column("field_keys", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("webhook_status", String(16)),
    Column("optional_keys", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("buyer_name", String(255)),
)

lots = Table(
    "lots",
    metadata,
    Column(
        "market_identifier",
        String(32),
        ForeignKey("markets.identifier", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("cpv_code", String(10)),
)

applications = Table(
    "applications",
    metadata,
    Column("identifier", String(32), primary_key=True),
    Column(
        "market_identifier",
        String(32),
        ForeignKey("markets.identifier"),
        nullable=False,
        index=True,
    ),
    Column(
        "editor_client_id",
        String(64),
        ForeignKey("editors.client_id"),
        nullable=False,
        index=True,
    ),
    Column("siret", SiretType),
    Column("provider_user_id", String(255)),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("webhook_status", String(16)),
    Column("company_name", String(255)),
    Column("lot_numbers", JSON, nullable=False),
    Column("declaration_accepted_at", UtcDateTime),
    Column("documents_generated_at", UtcDateTime),
    UniqueConstraint("market_identifier", "siret", name="uq_applications_market_siret"),
)

answers = Table(
    "answers",
    metadata,
    Column(
        "application_identifier",
        String(32),
        ForeignKey("applications.identifier", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("attribute_key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("origin", String(16), nullable=False),
    Column("source", String(100)),
    Column("updated_at", UtcDateTime, nullable=False),
)

attached_documents = Table(
    "attached_documents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "application_identifier",
        String(32),
        ForeignKey("applications.identifier", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attribute_key", String(200), nullable=False),
    Column("slot", String(100), nullable=False),
    Column("original_name", String(255), nullable=False),
    Column("storage_key", String(500), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("scan", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client_id", String(64), ForeignKey("editors.client_id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("resource_identifier", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

categories = Table(
    "catalogue_categories",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("buyer_label", String(255), nullable=False),
    Column("candidate_label", String(255), nullable=False),
    Column("position", Integer, nullable=False),
)

subcategories = Table(
    "catalogue_subcategories",
    metadata,
    Column("key", String(150), primary_key=True),
    Column("category_key", String(100), ForeignKey("catalogue_categories.key"), nullable=False),
    Column("buyer_label", String(255), nullable=False),
    Column("candidate_label", String(255), nullable=False),
    Column("position", Integer, nullable=False),
)

attributes = Table(
    "catalogue_attributes",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("category_key", String(100), ForeignKey("catalogue_categories.key"), nullable=False),
    Column(
        "subcategory_key", String(150), ForeignKey("catalogue_subcategories.key"), nullable=False
    ),
    Column("buyer_title", Text, nullable=False),
    Column("buyer_description", Text, nullable=False),
    Column("candidate_title", Text, nullable=False),
    Column("candidate_description", Text, nullable=False),
    Column("input_type", String(50), nullable=False),
    Column("mandatory", Boolean, nullable=False),
    Column("market_types", JSON, nullable=False),
    Column("position", Integer, nullable=False),
    Column("source", String(100)),
    Column("source_field", Text),
    Column("archived_at", UtcDateTime),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event", String(64), nullable=False),
    Column(
        "editor_client_id", String(64), ForeignKey("editors.client_id"), nullable=False, index=True
    ),
    Column("resource_identifier", String(32), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("next_attempt_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
)

magic_links = Table(
    "magic_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "application_identifier",
        String(32),
        ForeignKey("applications.identifier", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("email", String(320), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("version", Integer, nullable=False),
)

prefill_fetches = Table(
    "prefill_fetches",
    metadata,
    Column(
        "application_identifier",
        String(32),
        ForeignKey("applications.identifier", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("source", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("filled", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("runs", Integer, nullable=False, server_default="1"),
)

mapper_registry = registry(metadata=metadata)
_mapped = False


def start_mappers() -> None:
    """Map the domain classes once per process (mapping twice is an error)."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(Editor, editors)
    mapper_registry.map_imperatively(AccessToken, access_tokens)
    mapper_registry.map_imperatively(Lot, lots)
    mapper_registry.map_imperatively(
        Market,
        markets,
        # Optimistic locking: an UPDATE that finds another version (a concurrent finalisation,
        # whatever the database's isolation) changes nothing and fails as a conflict.
        version_id_col=markets.c.version,
        properties={
            "lots": relationship(
                Lot, order_by=lots.c.number, cascade="all, delete-orphan", lazy="selectin"
            )
        },
    )
    mapper_registry.map_imperatively(Application, applications)
    mapper_registry.map_imperatively(IdempotencyRecord, idempotency_keys)
    mapper_registry.map_imperatively(Category, categories)
    mapper_registry.map_imperatively(Subcategory, subcategories)
    mapper_registry.map_imperatively(Attribute, attributes)
    mapper_registry.map_imperatively(WebhookDelivery, webhook_deliveries)
    mapper_registry.map_imperatively(Answer, answers)
    mapper_registry.map_imperatively(AttachedDocument, attached_documents)
    # Optimistic locking: two redemptions of one link at the same moment cannot both succeed.
    mapper_registry.map_imperatively(MagicLink, magic_links, version_id_col=magic_links.c.version)
    # Optimistic locking: the global deadline (on a page view) and a late job cannot both end it.
    mapper_registry.map_imperatively(
        SourceFetch, prefill_fetches, version_id_col=prefill_fetches.c.version
    )
    _mapped = True

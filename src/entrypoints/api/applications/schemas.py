"""Request and response schemas of the applications resource (envelope-only requests, see
markets/schemas.py for why)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields
from passemarche.entrypoints.api.schemas import UtcTimestamp


class MarketApplicationInputSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    siret = fields.Raw(allow_none=True, metadata={"type": "string", "pattern": r"^\d{14}$"})
    provider_user_id = fields.Raw(allow_none=True, metadata={"type": "string", "maxLength": 255})


class CreateApplicationRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    # Optional: every field inside is optional, so an empty body creates an application too.
    market_application = fields.Nested(MarketApplicationInputSchema, load_default=dict)


class ApplicationCreatedSchema(Schema):
    identifier = fields.String(metadata={"example": "FT20240615A1B2C3D4"})
    application_url = fields.String()


class ApplicationSchema(Schema):
    identifier = fields.String()
    market_identifier = fields.String()
    siret = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["in_progress", "completed"]})
    provider_user_id = fields.String(allow_none=True)
    created_at = UtcTimestamp()
    completed_at = UtcTimestamp(allow_none=True)
    attestation_available = fields.Boolean()
    documents_package_available = fields.Boolean()
    webhook_status = fields.String(
        allow_none=True, metadata={"enum": ["pending", "processing", "delivered", "failed", None]}
    )

"""Request and response schemas of the markets resource.

The request schemas check the envelope only (a `public_market` object); the fields inside are
validated by the domain, which reports every rule at once with the reference's messages. The
field declarations here describe them for the OpenAPI document.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields
from passemarche.domain.market import MARKET_TYPE_CODES
from passemarche.entrypoints.api.schemas import UtcTimestamp


class LotInputSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.Raw(allow_none=True, metadata={"type": "string", "maxLength": 255})
    cpv_code = fields.Raw(allow_none=True, metadata={"type": "string", "pattern": r"^\d{8}-\d$"})


class PublicMarketInputSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.Raw(
        allow_none=True,
        metadata={
            "type": "string",
            "maxLength": 255,
            "example": "Fourniture de matériel informatique",
        },
    )
    lot_name = fields.Raw(allow_none=True, metadata={"type": "string", "maxLength": 255})
    lots = fields.Raw(
        allow_none=True,
        metadata={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 255},
                    "cpv_code": {"type": "string", "pattern": r"^\d{8}-\d$"},
                },
            },
            "description": "Plusieurs lots ; incompatible avec lot_name",
        },
    )
    lot_limit = fields.Raw(allow_none=True, metadata={"type": "integer", "minimum": 1})
    deadline = fields.Raw(
        allow_none=True,
        metadata={"type": "string", "format": "date-time", "example": "2030-12-31T23:59:59Z"},
    )
    siret = fields.Raw(
        allow_none=True,
        metadata={"type": "string", "pattern": r"^\d{14}$", "example": "13002526500013"},
    )
    market_type_codes = fields.Raw(
        allow_none=True,
        metadata={"type": "array", "items": {"type": "string", "enum": list(MARKET_TYPE_CODES)}},
    )
    provider_user_id = fields.Raw(allow_none=True, metadata={"type": "string", "maxLength": 255})


class CreateMarketRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    public_market = fields.Nested(PublicMarketInputSchema, required=True)


class MarketCreatedSchema(Schema):
    identifier = fields.String(metadata={"example": "VR-2024-A1B2C3D4E5F6"})
    configuration_url = fields.String()


class LotSchema(Schema):
    number = fields.Integer()
    name = fields.String()
    cpv_code = fields.String(allow_none=True)


class MarketSchema(Schema):
    identifier = fields.String()
    name = fields.String()
    buyer_siret = fields.String()
    status = fields.String(metadata={"enum": ["draft", "completed"]})
    deadline = UtcTimestamp()
    market_type_codes = fields.List(fields.String())
    lots = fields.List(fields.Nested(LotSchema))
    lot_limit = fields.Integer(allow_none=True)
    field_keys = fields.List(fields.String())
    provider_user_id = fields.String(allow_none=True)
    created_at = UtcTimestamp()
    completed_at = UtcTimestamp(allow_none=True)
    webhook_status = fields.String(
        allow_none=True, metadata={"enum": ["pending", "processing", "delivered", "failed", None]}
    )

"""Schemas shared by the API resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields


def format_timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, e.g. 2024-06-15T14:30:45.123Z."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class UtcTimestamp(fields.DateTime):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return format_timestamp(value)


class ErrorSchema(Schema):
    error = fields.String(metadata={"description": "Description de l'erreur"})
    errors = fields.Raw(
        metadata={
            "description": "Détails : une liste de messages, ou un objet champ → messages",
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            ],
        }
    )


class RateLimitErrorSchema(Schema):
    error = fields.String(metadata={"example": "Rate limit exceeded"})
    retry_after = fields.Integer(metadata={"description": "Secondes avant de réessayer"})


COMMON_ERRORS = {
    401: "Token manquant, invalide, expiré ou révoqué",
    403: "Scope insuffisant ou accès refusé",
    429: "Limite de taux dépassée",
}


def document_common_errors(blueprint: Any, *statuses: int) -> Any:
    """Decorator documenting the errors every authenticated endpoint may answer."""

    def decorate(view: Any) -> Any:
        for status in statuses:
            schema = RateLimitErrorSchema if status == 429 else ErrorSchema
            view = blueprint.alt_response(
                status, schema=schema, description=COMMON_ERRORS.get(status, "Erreur")
            )(view)
        return view

    return decorate

"""Reading the `Idempotency-Key` header of the create endpoints."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from passemarche.domain.idempotency import MAX_KEY_LENGTH, IdempotencyRequest
from werkzeug.exceptions import BadRequest

_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
HEADER = "Idempotency-Key"


def idempotency_request(operation: str, payload: Any) -> IdempotencyRequest | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not _PRINTABLE.match(key):
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces"
        )
    return IdempotencyRequest.for_payload(key, operation, payload)


IDEMPOTENCY_HEADER_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": (
        "Clé choisie par l'éditeur : la même clé avec le même corps dans les 24 h renvoie la "
        "première réponse (en-tête Idempotent-Replayed: true) ; avec un autre corps, 422."
    ),
}

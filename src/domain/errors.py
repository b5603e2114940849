"""One hierarchy of domain errors.

Messages are the API's published English messages: editors match them, so they are part of the
contract. How an error becomes an HTTP status lives in one place in the entrypoints.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the business core raises on purpose."""

    message = "Domain error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class ValidationFailed(DomainError):
    """Input breaks one or more rules; `messages` holds all of them, in field order."""

    message = "Validation failed"

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class InvalidSiret(DomainError):
    """A SIRET that is not 14 digits or fails the checksum."""

    message = "Le numéro de SIRET saisi est invalide ou non reconnu"


class FieldRejected(DomainError):
    """One field rejected alone, reported keyed by its name (the reference's object form)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """Unknown resource, or one that belongs to another editor (never tell them apart)."""

    message = "Resource not found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    message = "Forbidden"

    def __init__(self, reasons: list[str] | None = None) -> None:
        super().__init__()
        self.reasons = list(reasons or [])


class ApplicationNotCompleted(DomainError):
    message = "Application not completed"


class DocumentNotAvailable(DomainError):
    """A completed application whose document is not generated yet."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class MarketAlreadyCompleted(DomainError):
    message = "Market is already completed"


class IdempotencyKeyReused(DomainError):
    message = "Idempotency-Key reused with a different request"


class NotAuthenticated(DomainError):
    """Missing, unknown, expired or revoked access token, or an editor cut off since."""

    message = "Not authorized"


class InsufficientScope(DomainError):
    message = "Forbidden"


class ClientAuthenticationFailed(DomainError):
    """OAuth2: unknown client or wrong secret."""

    message = "Client authentication failed"


class EditorNotAuthorized(DomainError):
    """OAuth2: the client authenticated but the editor is switched off."""

    message = "Editor is not authorized or active"


class EditorAlreadyExists(DomainError):
    message = "An editor with this name already exists"

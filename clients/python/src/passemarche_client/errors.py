"""The errors the client raises: one class per kind of failure the integrator handles differently.

API errors carry what the API said: `error` (a string) and `errors` (a list of messages, or for
an invalid SIRET on a market the reference's object form `{"siret": [...]}`)."""

from __future__ import annotations

from typing import Any


class PasseMarcheError(Exception):
    """Base class of every error of this package."""


class TransportError(PasseMarcheError):
    """The API could not be reached or the connection broke, after every retry."""


class ProtocolError(PasseMarcheError):
    """The answer is not one the API gives: an unexpected status (a redirect, say: the base URL
    is wrong, or a proxy stands in between) or a success body that is not the expected JSON.
    `status` is the HTTP status (None when the connection itself went wrong)."""

    def __init__(
        self, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> None:
        self.status = status
        self.request_id = request_id
        super().__init__(message)


class ApiError(PasseMarcheError):
    """The API answered with an error status. Subclasses name the statuses a client handles."""

    def __init__(
        self,
        status: int,
        error: str | None = None,
        errors: list[str] | dict[str, list[str]] | None = None,
        *,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.errors = errors
        self.body = body
        self.request_id = request_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.error:
            parts.append(self.error)
        if self.errors:
            parts.append(str(self.errors))
        return ": ".join(parts)

    @property
    def messages(self) -> list[str]:
        """Every message as a flat list (`errors` may be a list or a field → list object)."""
        if isinstance(self.errors, dict):
            return [message for values in self.errors.values() for message in values]
        if isinstance(self.errors, list):
            return [str(message) for message in self.errors]
        return [self.error] if self.error else []


class BadRequest(ApiError):
    """400: the request itself is malformed (not retried)."""


class Unauthorized(ApiError):
    """401: credentials or token refused (a token is renewed once before this is raised)."""


class Forbidden(ApiError):
    """403: not allowed (scope, another editor's resource, market not open to candidates)."""


class NotFound(ApiError):
    """404: unknown resource, or a document not generated yet (`retry_after` then set)."""

    retry_after: float | None = None


class ValidationError(ApiError):
    """422: the API refused the values; `errors` lists why."""


class RateLimited(ApiError):
    """429 still answered after every retry; `retry_after` in seconds."""

    retry_after: float | None = None


class ServerError(ApiError):
    """5xx still answered after every retry."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    422: ValidationError,
    429: RateLimited,
}


def error_for(
    status: int, body: Any, request_id: str | None = None, retry_after: float | None = None
) -> ApiError:
    """The typed error of a response; `body` is its decoded JSON (or None)."""
    error: str | None = None
    errors: Any = None
    if isinstance(body, dict):
        raw_error = body.get("error")
        error = str(raw_error) if raw_error is not None else None
        # OAuth errors describe themselves in `error_description`.
        if body.get("error_description") and not body.get("errors"):
            errors = [str(body["error_description"])]
        else:
            errors = body.get("errors")
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    exception = cls(status, error, errors, body=body, request_id=request_id)
    if isinstance(exception, NotFound | RateLimited):
        exception.retry_after = retry_after
    return exception

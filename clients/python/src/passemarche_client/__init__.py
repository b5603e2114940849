"""Reference Python client of the Passe Marché API (see clients/python/README.md)."""

__version__ = "0.1.0"

from passemarche_client.client import PasseMarcheClient  # noqa: E402
from passemarche_client.errors import (  # noqa: E402
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    PasseMarcheError,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    ValidationError,
)
from passemarche_client.models import (  # noqa: E402
    Application,
    CreatedApplication,
    CreatedMarket,
    Download,
    Lot,
    Market,
    Token,
    WebhookEvent,
)
from passemarche_client.retry import RetryPolicy  # noqa: E402
from passemarche_client.webhooks import (  # noqa: E402
    ReplayedWebhook,
    ReplayGuard,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "ApiError",
    "Application",
    "BadRequest",
    "CreatedApplication",
    "CreatedMarket",
    "Download",
    "Forbidden",
    "Lot",
    "Market",
    "NotFound",
    "PasseMarcheClient",
    "PasseMarcheError",
    "ProtocolError",
    "RateLimited",
    "ReplayGuard",
    "ReplayedWebhook",
    "RetryPolicy",
    "ServerError",
    "Token",
    "TransportError",
    "Unauthorized",
    "ValidationError",
    "WebhookEvent",
    "WebhookVerificationError",
    "sign_webhook",
    "verify_webhook",
]

"""Magic links: how a candidate comes back to an application by email.

A link carries a 256-bit random token; only its SHA-256 hash is kept, with the application and
the email it was sent to. It opens one session, once, within 30 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passemarche.domain.errors import DomainError

MAGIC_LINK_LIFETIME = timedelta(minutes=30)
# At most this many links per application per window: enough for a candidate who mistyped,
# too few to flood a mailbox.
MAGIC_LINK_LIMIT = 5
MAGIC_LINK_WINDOW = timedelta(hours=1)

# The catalogue attribute whose answer is the application's contact email.
CONTACT_EMAIL_KEY = "identite_entreprise_contact_email"


class MagicLinkInvalid(DomainError):
    """Unknown, expired, already used, replaced, or meant for another application: one message,
    so that a link's state is never disclosed."""

    message = "Ce lien de connexion n’est plus valide : demandez-en un nouveau."


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(eq=False)
class MagicLink:
    token_hash: str
    application_identifier: str
    email: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None  # replaced by a newer link

    @classmethod
    def issue(
        cls, token_hash: str, application_identifier: str, email: str, now: datetime
    ) -> MagicLink:
        return cls(
            token_hash=token_hash,
            application_identifier=application_identifier,
            email=normalise_email(email),
            created_at=now,
            expires_at=now + MAGIC_LINK_LIFETIME,
        )

    def is_usable(self, now: datetime) -> bool:
        """Valid strictly before `expires_at`: at 30 minutes exactly the link is expired."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at

    def redeem(self, now: datetime) -> None:
        if not self.is_usable(now):
            raise MagicLinkInvalid()
        self.used_at = now

    def revoke(self, now: datetime) -> None:
        if self.used_at is None and self.revoked_at is None:
            self.revoked_at = now


def may_issue_another(recent: int) -> bool:
    """`recent`: links issued for the application during the last MAGIC_LINK_WINDOW."""
    return recent < MAGIC_LINK_LIMIT

"""Candidate access by magic link: asking for a link by email, and redeeming it.

Asking never tells whether a link was sent (unknown application, another email, too many
requests all look the same), so the form cannot be used to learn an application's contact.
"""

from __future__ import annotations

from passemarche.domain.hashing import hash_secret
from passemarche.domain.identifiers import new_secret
from passemarche.domain.magic_link import (
    CONTACT_EMAIL_KEY,
    MAGIC_LINK_LIFETIME,
    MAGIC_LINK_WINDOW,
    MagicLink,
    MagicLinkInvalid,
    may_issue_another,
    normalise_email,
)
from passemarche.services.ports import Clock, Mailer, MailMessage
from passemarche.services.unit_of_work import AbstractUnitOfWork, ConflictError

SUBJECT = "Votre lien de connexion à Passe Marché"


def request_magic_link(
    uow: AbstractUnitOfWork,
    clock: Clock,
    mailer: Mailer,
    application_identifier: str,
    email: str,
    link_base_url: str,
) -> None:
    """Mail a single-use link when `email` is the application's contact email.

    Completed applications may ask too (to read their summary and download their attestation).
    Issuing a link replaces the outstanding ones of the same application and email. The mail is
    sent after the commit; a mail server failure raises MailNotSent.
    """
    now = clock.now()
    email = normalise_email(email)
    with uow:
        application = uow.applications.get(application_identifier)
        if application is None or not email:
            return
        answer = uow.answers.get(application_identifier, CONTACT_EMAIL_KEY)
        contact = answer.value.get("text") if answer is not None else None
        if not isinstance(contact, str) or normalise_email(contact) != email:
            return
        recent = uow.magic_links.issued_since(application_identifier, now - MAGIC_LINK_WINDOW)
        if not may_issue_another(len(recent)):
            return  # silent: the outstanding link, if any, still works
        market = uow.markets.get(application.market_identifier)
        market_name = market.name if market is not None else application.market_identifier
        for previous in uow.magic_links.outstanding(application_identifier, email):
            previous.revoke(now)
        token = new_secret()
        uow.magic_links.add(MagicLink.issue(hash_secret(token), application_identifier, email, now))
        uow.commit()
    mailer.send(magic_link_message(email, market_name, _link(link_base_url, token)))


def redeem_magic_link(
    uow: AbstractUnitOfWork, clock: Clock, application_identifier: str, token: str
) -> None:
    """Use the link once; MagicLinkInvalid when unknown, expired, used, replaced or meant for
    another application (a link for another application is refused without being spent)."""
    if not token:
        raise MagicLinkInvalid()
    now = clock.now()
    with uow:
        link = uow.magic_links.get(hash_secret(token))
        if link is None or link.application_identifier != application_identifier:
            raise MagicLinkInvalid()
        link.redeem(now)
        try:
            uow.commit()
        except ConflictError:  # redeemed at the same moment by another request
            raise MagicLinkInvalid() from None


def magic_link_message(email: str, market_name: str, link: str) -> MailMessage:
    minutes = int(MAGIC_LINK_LIFETIME.total_seconds() // 60)
    text = (
        "Bonjour,\n"
        "\n"
        "Vous avez demandé à reprendre votre candidature au marché "
        f"« {market_name} » sur Passe Marché.\n"
        "\n"
        "Pour vous connecter, ouvrez ce lien :\n"
        f"{link}\n"
        "\n"
        f"Ce lien est valable {minutes} minutes et ne peut servir qu’une seule fois.\n"
        "\n"
        "Si vous n’avez pas demandé ce lien, ignorez ce message : "
        "personne ne peut se connecter sans lui.\n"
        "\n"
        "L’équipe Passe Marché\n"
    )
    return MailMessage(to=email, subject=SUBJECT, text=text)


def _link(base_url: str, token: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}token={token}"

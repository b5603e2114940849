"""Magic links on the in-memory unit of work, with a mailer that records instead of sending."""

import re
from datetime import timedelta

import pytest
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.domain.answers import Answer
from passemarche.domain.hashing import hash_secret
from passemarche.domain.magic_link import (
    CONTACT_EMAIL_KEY,
    MAGIC_LINK_LIMIT,
    MagicLink,
    MagicLinkInvalid,
)
from passemarche.services.candidate_access import redeem_magic_link, request_magic_link

from tests.contract.repository_contract import a_market, an_application, an_editor
from tests.support import FixedClock, RecordingMailer

APPLICATION = "FT20260615AAAAAAAA"
OTHER_APPLICATION = "FT20260615BBBBBBBB"
CONTACT = "Marie.Dupont@Example.fr"
VERIFY_URL = (
    "https://passemarche.example.fr/candidate/market_applications/FT20260615AAAAAAAA/verify"
)


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def uow(store):
    return MemoryUnitOfWork(store)


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def mailer():
    return RecordingMailer()


def with_contact(uow, clock, identifier, email, siret):
    uow.applications.add(an_application(identifier, siret=siret))
    uow.answers.add(Answer(identifier, CONTACT_EMAIL_KEY, {"text": email}, clock.now()))


@pytest.fixture(autouse=True)
def applications(uow, clock):
    with uow:
        uow.editors.add(an_editor())
        uow.markets.add(a_market())
        with_contact(uow, clock, APPLICATION, CONTACT, "73282932000074")
        with_contact(uow, clock, OTHER_APPLICATION, "autre@example.fr", "35600000000048")
        uow.commit()


def ask(uow, clock, mailer, email=CONTACT, application=APPLICATION):
    return request_magic_link(uow, clock, mailer, application, email, VERIFY_URL)


def token_in(message):
    found = re.search(r"\?token=([A-Za-z0-9_-]+)\n", message.text)
    assert found, message.text
    return found.group(1)


def stored_links(store):
    return list(store.magic_links.values())


def test_the_contact_email_receives_one_mail_with_a_working_link(uow, clock, mailer):
    assert ask(uow, clock, mailer, email="  marie.dupont@EXAMPLE.fr ") is None

    [message] = mailer.sent
    assert message.to == "marie.dupont@example.fr"
    assert message.subject == "Votre lien de connexion à Passe Marché"
    assert f"{VERIFY_URL}?token=" in message.text
    assert "« Fourniture de matériel informatique – lot « portables » »" in message.text
    assert "valable 30 minutes" in message.text
    assert "Si vous n’avez pas demandé ce lien, ignorez ce message" in message.text
    redeem_magic_link(uow, clock, APPLICATION, token_in(message))


def test_another_email_or_application_sends_nothing_and_looks_the_same(uow, clock, mailer, store):
    assert ask(uow, clock, mailer, email="intrus@example.fr") is None
    assert ask(uow, clock, mailer, email="") is None
    assert ask(uow, clock, mailer, application="FT20260615ZZZZZZZZ") is None
    assert ask(uow, clock, mailer, email="autre@example.fr") is None  # the other one's contact

    assert mailer.sent == []
    assert stored_links(store) == []


def test_an_application_without_a_contact_email_sends_nothing(uow, clock, mailer, store):
    with uow:
        uow.answers.get(APPLICATION, CONTACT_EMAIL_KEY).value = {"text": ""}
        uow.commit()

    ask(uow, clock, mailer, email="")

    assert mailer.sent == []


def test_a_completed_application_may_still_ask_for_a_link(uow, clock, mailer):
    with uow:
        uow.applications.get(APPLICATION).submit(clock.now())
        uow.commit()

    ask(uow, clock, mailer)

    redeem_magic_link(uow, clock, APPLICATION, token_in(mailer.sent[0]))


def test_a_link_works_until_just_before_30_minutes(uow, clock, mailer):
    ask(uow, clock, mailer)
    clock.advance(minutes=29, seconds=59)

    redeem_magic_link(uow, clock, APPLICATION, token_in(mailer.sent[0]))


def test_a_link_expires_at_30_minutes_exactly(uow, clock, mailer):
    ask(uow, clock, mailer)
    clock.advance(minutes=30)

    with pytest.raises(MagicLinkInvalid):
        redeem_magic_link(uow, clock, APPLICATION, token_in(mailer.sent[0]))


def test_a_link_works_once(uow, clock, mailer):
    ask(uow, clock, mailer)
    token = token_in(mailer.sent[0])
    redeem_magic_link(uow, clock, APPLICATION, token)

    with pytest.raises(MagicLinkInvalid) as refused:
        redeem_magic_link(uow, clock, APPLICATION, token)
    assert refused.value.message == (
        "Ce lien de connexion n’est plus valide : demandez-en un nouveau."
    )


def test_a_link_opens_only_its_own_application_and_is_not_spent_elsewhere(uow, clock, mailer):
    ask(uow, clock, mailer)
    token = token_in(mailer.sent[0])

    with pytest.raises(MagicLinkInvalid):
        redeem_magic_link(uow, clock, OTHER_APPLICATION, token)
    redeem_magic_link(uow, clock, APPLICATION, token)


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 43])
def test_unknown_tokens_are_refused(uow, clock, token):
    with pytest.raises(MagicLinkInvalid):
        redeem_magic_link(uow, clock, APPLICATION, token)


def test_a_new_link_replaces_the_previous_one(uow, clock, mailer):
    ask(uow, clock, mailer)
    clock.advance(minutes=1)
    ask(uow, clock, mailer)
    first, second = (token_in(message) for message in mailer.sent)

    with pytest.raises(MagicLinkInvalid):
        redeem_magic_link(uow, clock, APPLICATION, first)
    redeem_magic_link(uow, clock, APPLICATION, second)


def test_at_most_five_links_an_hour_per_application(uow, clock, mailer):
    assert MAGIC_LINK_LIMIT == 5
    for _ in range(MAGIC_LINK_LIMIT):
        ask(uow, clock, mailer)
        clock.advance(minutes=1)

    assert ask(uow, clock, mailer) is None  # refused, and it looks the same
    assert len(mailer.sent) == MAGIC_LINK_LIMIT
    # The refused request did not replace the last link sent.
    redeem_magic_link(uow, clock, APPLICATION, token_in(mailer.sent[-1]))

    clock.advance(minutes=56)  # the first link is now more than an hour old
    ask(uow, clock, mailer)
    assert len(mailer.sent) == MAGIC_LINK_LIMIT + 1


def test_the_token_is_never_stored_in_clear(uow, clock, mailer, store):
    ask(uow, clock, mailer)
    token = token_in(mailer.sent[0])

    [link] = stored_links(store)
    assert link.token_hash == hash_secret(token)
    assert token not in repr(vars(link))
    assert link.email == "marie.dupont@example.fr"
    assert link.expires_at - link.created_at == timedelta(minutes=30)
    assert token not in repr(mailer.sent[0])  # the body stays out of reprs (and logs)


def test_the_token_is_256_bits_of_randomness(uow, clock, mailer):
    ask(uow, clock, mailer)
    clock.advance(minutes=1)
    ask(uow, clock, mailer)
    first, second = (token_in(message) for message in mailer.sent)

    assert len(first) >= 43 and first != second


def test_a_link_ends_used_or_replaced_but_never_both():
    now = FixedClock().now()
    link = MagicLink.issue("h" * 64, APPLICATION, " A@B.fr", now)
    link.redeem(now)
    link.revoke(now + timedelta(minutes=1))

    assert (link.email, link.used_at, link.revoked_at) == ("a@b.fr", now, None)
    assert not link.is_usable(now)

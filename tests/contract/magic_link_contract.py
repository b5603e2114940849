"""The magic-link repository contract, written once for every storage adapter.

Bound in tests/integration/test_magic_link_repository.py to the in-memory fake, SQLite and
PostgreSQL through a `uow_factory` fixture, like the main repository contract.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from passemarche.domain.magic_link import MagicLink

from tests.contract.repository_contract import NOW, a_market, an_application, an_editor

APPLICATION = "FT20260615AAAAAAAA"
OTHER_APPLICATION = "FT20260615BBBBBBBB"


def a_link(
    token_hash: str = "a" * 64,
    application: str = APPLICATION,
    email: str = "marie.dupont@example.fr",
    minutes: float = 0,
) -> MagicLink:
    return MagicLink.issue(token_hash, application, email, NOW + timedelta(minutes=minutes))


def seed_applications(uow_factory):
    """An editor, its market and two applications; returns the factory."""
    with uow_factory() as uow:
        uow.editors.add(an_editor())
        uow.markets.add(a_market())
        uow.commit()
    with uow_factory() as uow:  # in order: nothing tells the mapper applications need a market
        uow.applications.add(an_application(APPLICATION, siret="73282932000074"))
        uow.applications.add(an_application(OTHER_APPLICATION, siret="35600000000048"))
        uow.commit()
    return uow_factory


class MagicLinkRepositoryContract:
    @pytest.fixture
    def seeded(self, uow_factory):
        return seed_applications(uow_factory)

    def test_a_link_round_trips_with_its_times_in_utc(self, seeded):
        paris = timezone(timedelta(hours=2))
        with seeded() as uow:
            uow.magic_links.add(
                MagicLink.issue("a" * 64, APPLICATION, "Marie@Example.fr", NOW.astimezone(paris))
            )
            uow.commit()
        with seeded() as uow:
            link = uow.magic_links.get("a" * 64)
            assert link is not None
            assert (link.application_identifier, link.email) == (APPLICATION, "marie@example.fr")
            assert link.created_at == NOW and link.created_at.utcoffset() == timedelta(0)
            assert link.expires_at == NOW + timedelta(minutes=30)
            assert (link.used_at, link.revoked_at) == (None, None)

    def test_an_unknown_hash_finds_nothing(self, seeded):
        with seeded() as uow:
            assert uow.magic_links.get("f" * 64) is None

    def test_redeeming_and_replacing_are_kept(self, seeded):
        with seeded() as uow:
            uow.magic_links.add(a_link("a" * 64))
            uow.magic_links.add(a_link("b" * 64))
            uow.commit()
        with seeded() as uow:
            uow.magic_links.get("a" * 64).redeem(NOW + timedelta(minutes=1))
            uow.magic_links.get("b" * 64).revoke(NOW + timedelta(minutes=2))
            uow.commit()
        with seeded() as uow:
            assert uow.magic_links.get("a" * 64).used_at == NOW + timedelta(minutes=1)
            assert uow.magic_links.get("b" * 64).revoked_at == NOW + timedelta(minutes=2)

    def test_a_link_not_committed_is_not_kept(self, seeded):
        with seeded() as uow:
            uow.magic_links.add(a_link())
        with seeded() as uow:
            assert uow.magic_links.get("a" * 64) is None

    def test_issued_since_counts_one_application_from_a_moment_on(self, seeded):
        with seeded() as uow:
            uow.magic_links.add(a_link("c" * 64, minutes=20))
            uow.magic_links.add(a_link("a" * 64, minutes=0))
            uow.magic_links.add(a_link("b" * 64, minutes=10, email="autre@example.fr"))
            uow.magic_links.add(a_link("d" * 64, minutes=30, application=OTHER_APPLICATION))
            uow.commit()
        with seeded() as uow:
            since = uow.magic_links.issued_since(APPLICATION, NOW + timedelta(minutes=10))
            assert [link.token_hash for link in since] == ["b" * 64, "c" * 64]
            everything = uow.magic_links.issued_since(APPLICATION, NOW)
            assert [link.token_hash for link in everything] == ["a" * 64, "b" * 64, "c" * 64]

    def test_outstanding_links_are_the_unused_ones_of_that_email(self, seeded):
        with seeded() as uow:
            uow.magic_links.add(a_link("a" * 64, minutes=0))
            uow.magic_links.add(a_link("b" * 64, minutes=1))
            uow.magic_links.add(a_link("c" * 64, minutes=2))
            uow.magic_links.add(a_link("d" * 64, minutes=3))
            uow.magic_links.add(a_link("e" * 64, minutes=4, email="autre@example.fr"))
            uow.magic_links.add(a_link("f" * 64, minutes=5, application=OTHER_APPLICATION))
            uow.commit()
        with seeded() as uow:
            uow.magic_links.get("b" * 64).redeem(NOW + timedelta(minutes=6))
            uow.magic_links.get("c" * 64).revoke(NOW + timedelta(minutes=6))
            uow.commit()
        with seeded() as uow:
            outstanding = uow.magic_links.outstanding(APPLICATION, "marie.dupont@example.fr")
            # Expired links are outstanding too: replacing them is harmless.
            assert [link.token_hash for link in outstanding] == ["a" * 64, "d" * 64]

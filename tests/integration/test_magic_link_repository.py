"""The magic-link repository contract on the in-memory fake, SQLite and PostgreSQL, and what only
a database can show: two redemptions of one link at the same moment."""

from datetime import timedelta

import pytest
from passemarche.adapters.database import create_database_engine
from passemarche.adapters.orm import start_mappers
from passemarche.adapters.unit_of_work import SqlAlchemyUnitOfWork, session_factory_for
from passemarche.services.unit_of_work import ConflictError

from tests.contract.magic_link_contract import (
    NOW,
    MagicLinkRepositoryContract,
    a_link,
    seed_applications,
)


def sqlalchemy_factory(request, kind):
    url = request.getfixturevalue("database_url_for")(kind)
    start_mappers()
    engine = create_database_engine(url)
    sessions = session_factory_for(engine)
    return engine, lambda: SqlAlchemyUnitOfWork(sessions)


class TestMagicLinkRepositories(MagicLinkRepositoryContract):
    pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_uow_factory(request):
    engine, factory = sqlalchemy_factory(request, request.param)
    yield factory
    engine.dispose()


class TestConcurrentRedemption:
    """Both requests read the link unused; only the first commit may spend it."""

    @pytest.fixture
    def seeded(self, database_uow_factory):
        return seed_applications(database_uow_factory)

    def test_the_second_of_two_simultaneous_redemptions_conflicts(self, seeded):
        with seeded() as uow:
            uow.magic_links.add(a_link())
            uow.commit()
        moment = NOW + timedelta(minutes=1)
        with seeded() as first, seeded() as second:
            mine, theirs = first.magic_links.get("a" * 64), second.magic_links.get("a" * 64)
            mine.redeem(moment)
            theirs.redeem(moment)
            first.commit()
            with pytest.raises(ConflictError):
                second.commit()

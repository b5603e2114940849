"""The catalogue and webhook-delivery repository contract, bound to every storage adapter: the
in-memory fake, SQLite and PostgreSQL (as tests/integration/test_repository_contract.py does for
the others)."""

from tests.contract.catalogue_and_webhooks_contract import CatalogueAndWebhooksContract


class TestCatalogueAndWebhookRepositories(CatalogueAndWebhooksContract):
    pass

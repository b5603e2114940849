"""The real HTTP adapters of the `CompanyDataSource` port: API Entreprise and BODACC.

`data_sources_from_config` combines them: a source is covered only when its service is
configured (API Entreprise: base URL and token; BODACC: base URL). An uncovered source answers
"unavailable" at once, without any network call, and its attributes are typed by hand.
"""

from __future__ import annotations

from passemarche.adapters.data_sources.api_entreprise import ApiEntrepriseDataSource
from passemarche.adapters.data_sources.bodacc import BodaccDataSource
from passemarche.adapters.data_sources.http import REFUSALS, HttpSettings, RefusalLog
from passemarche.config import Config
from passemarche.domain.prefill import CompanyQuery, FetchStatus, SourceReport

__all__ = [
    "ApiEntrepriseDataSource",
    "BodaccDataSource",
    "ConfiguredDataSources",
    "HttpSettings",
    "data_sources_from_config",
]

NOT_CONFIGURED = "not configured"


class ConfiguredDataSources:
    """The configured sources behind one `CompanyDataSource`."""

    def __init__(
        self,
        api_entreprise: ApiEntrepriseDataSource | None = None,
        bodacc: BodaccDataSource | None = None,
    ) -> None:
        self.api_entreprise = api_entreprise
        self.bodacc = bodacc

    def _adapter(self, source: str) -> ApiEntrepriseDataSource | BodaccDataSource | None:
        for adapter in (self.api_entreprise, self.bodacc):
            if adapter is not None and adapter.covers(source):
                return adapter
        return None

    def covers(self, source: str) -> bool:
        return self._adapter(source) is not None

    def fetch(self, source: str, query: CompanyQuery) -> SourceReport:
        adapter = self._adapter(source)
        if adapter is None:
            return SourceReport(FetchStatus.UNAVAILABLE, detail=NOT_CONFIGURED)
        return adapter.fetch(source, query)


def data_sources_from_config(
    config: Config,
    settings: HttpSettings | None = None,
    *,
    refusals: RefusalLog = REFUSALS,
) -> ConfiguredDataSources:
    """The data sources `config` enables (`settings`: timeouts and limits, for tests)."""
    settings = settings or HttpSettings()
    api_entreprise = None
    if config.api_entreprise_base_url and config.api_entreprise_token:
        api_entreprise = ApiEntrepriseDataSource(
            config.api_entreprise_base_url,
            config.api_entreprise_token,
            settings,
            refusals=refusals,
        )
    bodacc = None
    if config.bodacc_base_url:
        bodacc = BodaccDataSource(config.bodacc_base_url, settings, refusals=refusals)
    return ConfiguredDataSources(api_entreprise, bodacc)

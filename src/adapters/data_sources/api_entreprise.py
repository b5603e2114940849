"""API Entreprise: the catalogue's sources it serves, over HTTP with the bearer token.

Every call carries API Entreprise's mandatory parameters: ``context``, ``recipient`` (the
buyer's SIRET) and ``object``. Documents an answer points at are downloaded and checked (PDF,
JPEG or PNG by their content); the token is sent with a download only when the document is on
API Entreprise's own host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests
from passemarche.adapters.data_sources import api_entreprise_payloads as payloads
from passemarche.adapters.data_sources.api_entreprise_payloads import DocumentLink, PayloadError
from passemarche.adapters.data_sources.http import (
    REFUSALS,
    HttpSettings,
    JsonAnswer,
    RefusalLog,
    SourceHttp,
    origin_of,
)
from passemarche.domain.prefill import (
    API_ENTREPRISE_SOURCES,
    CompanyQuery,
    FetchedDocument,
    FetchStatus,
    SourceReport,
    SourceValue,
)

CONTEXT = "Candidature marché public"

INSEE = "/v3/insee/sirene/etablissements/{siret}"
RNE = "/v3/inpi/rne/unites_legales/{siren}/extrait_rne"
URSSAF = "/v4/urssaf/unites_legales/{siren}/attestation_vigilance"
DGFIP_ATTESTATION = "/v4/dgfip/unites_legales/{siren}/attestation_fiscale"
DGFIP_TURNOVER = "/v3/dgfip/etablissements/{siret}/chiffres_affaires"
ACTES_BILANS = "/v3/inpi/rne/unites_legales/open_data/{siren}/actes_bilans"
PROBTP = "/v3/probtp/etablissements/{siret}/attestation_cotisations_retraite"
CIBTP = "/v3/cibtp/etablissements/{siret}/attestation_cotisations_conges_payes_chomage_intemperies"
CNETP = "/v3/cnetp/unites_legales/{siren}/attestation_cotisations_conges_payes_chomage_intemperies"
FNTP = "/v3/fntp/unites_legales/{siren}/carte_professionnelle_travaux_publics"
QUALIBAT = "/v4/qualibat/etablissements/{siret}/certification_batiment"
QUALIFELEC = "/v3/qualifelec/etablissements/{siret}/certificats"
RGE = "/v3/ademe/etablissements/{siret}/certification_rge"
OPQIBI = "/v3/opqibi/unites_legales/{siren}/certification_ingenierie"
CARIF_OREF = "/v3/carif_oref/etablissements/{siret}/certifications_qualiopi_france_competences"


class _Fetch:
    """One fetch of one source: its HTTP calls and the report they make."""

    def __init__(self, adapter: ApiEntrepriseDataSource, http: SourceHttp, query: CompanyQuery):
        self.adapter = adapter
        self.http = http
        self.query = query

    def data(self, path: str) -> tuple[Any, SourceReport | None]:
        """The answer's ``data`` member, or the report when the call did not complete."""
        answer = self.call(path)
        if answer.outcome is not FetchStatus.COMPLETED:
            return None, SourceReport(answer.outcome, detail=answer.detail)
        if not isinstance(answer.body, Mapping) or "data" not in answer.body:
            return None, SourceReport(FetchStatus.FAILED, detail="no data in the answer")
        return answer.body["data"], None

    def call(self, path: str) -> JsonAnswer:
        siret, siren = self.query.siret, self.query.siren
        url = self.adapter.base_url + path.format(siret=quote(siret), siren=quote(siren))
        params = {
            "context": CONTEXT,
            "recipient": self.query.recipient_siret,
            "object": self.query.object,
        }
        return self.http.get_json(url, params=params, headers=self.adapter.auth_headers)

    def download(self, link: DocumentLink) -> FetchedDocument | None:
        result = self.http.download(
            link.url,
            link.base_name,
            headers={"Authorization": self.adapter.auth_headers["Authorization"]},
            trusted_origin=self.adapter.origin,
        )
        return result.document

    # --- shapes shared by several sources ---------------------------------------------------

    def values(self, path: str, parse: Callable[[Any], Mapping[str, SourceValue]]) -> SourceReport:
        data, refused = self.data(path)
        if refused is not None:
            return refused
        return SourceReport(FetchStatus.COMPLETED, values=parse(data))

    def one_document(
        self,
        path: str,
        base_name: str,
        lines: Callable[[Any], tuple[str, ...]] = lambda _data: (),
        field: str = "document",
    ) -> SourceReport:
        """A source whose answer is one document (``data.document_url``)."""
        data, refused = self.data(path)
        if refused is not None:
            return refused
        link = DocumentLink(payloads.document_url(data), base_name, lines(data))
        document = self.download(link)
        if document is None:
            return SourceReport(FetchStatus.FAILED, detail="the document was refused")
        value = SourceValue(lines=link.lines, documents=(document,))
        return SourceReport(FetchStatus.COMPLETED, values={field: value})

    def documents(
        self,
        path: str,
        links: Callable[[Any], list[DocumentLink]],
        field: str,
    ) -> SourceReport:
        """A source listing documents: those that download are kept; none of them → failed."""
        data, refused = self.data(path)
        if refused is not None:
            return refused
        wanted = links(data)
        if not wanted:
            return SourceReport(FetchStatus.COMPLETED, detail="no document listed")
        kept = [(link, doc) for link in wanted if (doc := self.download(link)) is not None]
        if not kept:
            return SourceReport(FetchStatus.FAILED, detail="every document was refused")
        value = SourceValue(
            lines=tuple(line for link, _doc in kept for line in link.lines),
            documents=tuple(doc for _link, doc in kept),
        )
        return SourceReport(FetchStatus.COMPLETED, values={field: value})


class ApiEntrepriseDataSource:
    """The `CompanyDataSource` of every source in `API_ENTREPRISE_SOURCES`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        settings: HttpSettings | None = None,
        *,
        refusals: RefusalLog = REFUSALS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.settings = settings or HttpSettings()
        self.refusals = refusals
        self.origin = origin_of(self.base_url)
        self._handlers: dict[str, Callable[[_Fetch], SourceReport]] = {
            "insee": lambda f: f.values(INSEE, payloads.insee_values),
            "rne": lambda f: f.values(RNE, payloads.rne_values),
            "urssaf_attestation_vigilance": lambda f: f.one_document(
                URSSAF, f"attestation_vigilance_urssaf_{f.query.siren}", payloads.urssaf_lines
            ),
            "attestations_fiscales": lambda f: f.one_document(
                DGFIP_ATTESTATION,
                f"attestation_fiscale_dgfip_{f.query.siren}",
                payloads.dgfip_lines,
            ),
            "dgfip_chiffres_affaires": _turnover,
            "actes_bilans": lambda f: f.documents(
                ACTES_BILANS,
                lambda data: payloads.bilan_links(data, f.query.siren),
                "actes_et_bilans",
            ),
            "probtp": lambda f: f.one_document(
                PROBTP, f"attestation_cotisations_retraite_probtp_{f.query.siret}"
            ),
            "cotisation_retraite": _cotisation_retraite,
            "fntp": lambda f: f.one_document(
                FNTP, f"carte_professionnelle_tp_fntp_{f.query.siren}"
            ),
            "qualibat": lambda f: f.one_document(
                QUALIBAT, f"certificat_qualibat_{f.query.siren}", payloads.qualibat_lines
            ),
            "qualifelec": lambda f: f.documents(
                QUALIFELEC,
                lambda data: payloads.qualifelec_links(data, f.query.siren),
                "documents",
            ),
            "rge": lambda f: f.documents(
                RGE, lambda data: payloads.rge_links(data, f.query.siret), "documents"
            ),
            "opqibi": lambda f: f.values(OPQIBI, payloads.opqibi_values),
            "carif_oref": lambda f: f.values(CARIF_OREF, payloads.carif_oref_values),
        }
        assert set(self._handlers) == API_ENTREPRISE_SOURCES  # a wiring check

    def __repr__(self) -> str:  # never the token
        return f"ApiEntrepriseDataSource(base_url={self.base_url!r})"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    def is_own_host(self, url: str) -> bool:
        return origin_of(url) == self.origin

    def covers(self, source: str) -> bool:
        return source in self._handlers

    def fetch(self, source: str, query: CompanyQuery) -> SourceReport:
        handler = self._handlers.get(source)
        if handler is None:
            return SourceReport(FetchStatus.UNAVAILABLE, detail="not an API Entreprise source")
        with requests.Session() as session:
            http = SourceHttp(source, session, self.settings, refusals=self.refusals)
            try:
                return handler(_Fetch(self, http, query))
            except (PayloadError, LookupError, TypeError, ValueError, AttributeError) as error:
                return SourceReport(
                    FetchStatus.FAILED, detail=f"unexpected answer: {type(error).__name__}: {error}"
                )


def _turnover(fetch: _Fetch) -> SourceReport:
    data, refused = fetch.data(DGFIP_TURNOVER)
    if refused is not None:
        return refused
    rows = payloads.turnover_rows(data)
    if not rows:
        return SourceReport(FetchStatus.COMPLETED, detail="no fiscal year")
    return SourceReport(
        FetchStatus.COMPLETED, values={"chiffres_affaires_data": SourceValue(rows=rows)}
    )


def _cotisation_retraite(fetch: _Fetch) -> SourceReport:
    """CIBTP and CNETP, each on its own: one attestation is enough."""
    siret, siren = fetch.query.siret, fetch.query.siren
    parts = [
        (
            CIBTP,
            f"attestation_cibtp_{siret}",
            "Attestation CIBTP (congés payés et chômage intempéries)",
        ),
        (
            CNETP,
            f"attestation_cnetp_{siren}",
            "Attestation CNETP (congés payés et chômage intempéries)",
        ),
    ]
    documents: list[FetchedDocument] = []
    lines: list[str] = []
    outcomes: list[FetchStatus] = []
    details: list[str] = []
    for path, base_name, line in parts:
        try:
            report = fetch.one_document(path, base_name, _constant_lines(line))
        except (PayloadError, LookupError, TypeError, ValueError, AttributeError) as error:
            report = SourceReport(FetchStatus.FAILED, detail=f"unexpected answer: {error}")
        outcomes.append(report.outcome)
        details.append(f"{base_name.split('_')[1]}: {report.outcome.value} {report.detail or ''}")
        if report.outcome is FetchStatus.COMPLETED:
            value = report.values["document"]
            documents.extend(value.documents)
            lines.extend(value.lines)
    detail = "; ".join(d.strip() for d in details)
    if documents:
        value = SourceValue(lines=tuple(lines), documents=tuple(documents))
        return SourceReport(FetchStatus.COMPLETED, values={"documents": value}, detail=detail)
    if all(o is FetchStatus.NOT_FOUND for o in outcomes):
        return SourceReport(FetchStatus.NOT_FOUND, detail=detail)
    if all(o in (FetchStatus.NOT_FOUND, FetchStatus.UNAVAILABLE) for o in outcomes):
        return SourceReport(FetchStatus.UNAVAILABLE, detail=detail)
    return SourceReport(FetchStatus.FAILED, detail=detail)


def _constant_lines(line: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda _data: (line,)

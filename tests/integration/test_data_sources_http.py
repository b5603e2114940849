"""The data source adapters over real HTTP, against the API Entreprise and BODACC replicas served
on free 127.0.0.1 ports (never the internet)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from passemarche.adapters.data_sources import (
    ApiEntrepriseDataSource,
    BodaccDataSource,
    HttpSettings,
    data_sources_from_config,
)
from passemarche.adapters.data_sources import bodacc as bodacc_module
from passemarche.adapters.data_sources.http import RefusalLog
from passemarche.config import Config
from passemarche.domain.prefill import (
    API_ENTREPRISE_SOURCES,
    SOURCE_LABELS,
    CompanyQuery,
    FetchStatus,
)
from passemarche.sandbox import create_bodacc_app, create_sandbox_app, serve_in_thread
from passemarche.sandbox.api_entreprise import SPECIAL_SIRETS
from passemarche.sandbox.bodacc import LIQUIDATION_SIREN, PERSONAL_BANKRUPTCY_SIREN
from werkzeug.serving import make_server

TOKEN = "adapter-test-token"
BUYER = "13002526500013"
DEMO_SIRET = "13002526500013"
DEMO_SIREN = "130025265"
UNKNOWN_SIRET = "84445156452589"
SETTINGS = HttpSettings(
    connect_timeout=2.0, read_timeout=0.5, max_retry_after=1.0, retry_delay=0.05
)
LOGGER = "passemarche.data_sources"


class CountingMiddleware:
    """Counts the requests a replica receives, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            self.hits[environ.get("PATH_INFO", "")] += 1
        return self.app(environ, start_response)


class Replica:
    def __init__(self, app: Any) -> None:
        self.counter = CountingMiddleware(app)
        self.server = make_server("127.0.0.1", 0, self.counter, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        serve_in_thread(self.server)

    def hits(self, path: str) -> int:
        return self.counter.hits[path]


@pytest.fixture(scope="module")
def api() -> Iterator[Replica]:
    replica = Replica(create_sandbox_app(TOKEN, slow_seconds=3.0))
    yield replica
    replica.server.shutdown()


@pytest.fixture(scope="module")
def bodacc_replica() -> Iterator[Replica]:
    replica = Replica(create_bodacc_app())
    yield replica
    replica.server.shutdown()


@pytest.fixture
def adapter(api: Replica) -> ApiEntrepriseDataSource:
    return ApiEntrepriseDataSource(api.url, TOKEN, SETTINGS, refusals=RefusalLog())


@pytest.fixture
def bodacc(bodacc_replica: Replica) -> BodaccDataSource:
    return BodaccDataSource(bodacc_replica.url, SETTINGS, refusals=RefusalLog())


def query(siret: str, recipient: str = BUYER) -> CompanyQuery:
    return CompanyQuery(siret=siret, recipient_siret=recipient, object="Réponse marché: Essai")


def is_pdf(content: bytes) -> bool:
    return content.startswith(b"%PDF")


def call_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        r.fields
        for r in caplog.records
        if r.name == LOGGER and r.getMessage() == "data source call"
    ]


# --- 200: every source on the demo identity -----------------------------------------------------


def test_insee(adapter):
    report = adapter.fetch("insee", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    values = report.values
    assert values["siret"].text == DEMO_SIRET  # the replica names the SIRET asked for
    assert values["social_reason"].text == "DIRECTION INTERMINISTERIELLE DU NUMERIQUE"
    assert values["main_activity"].text == "Administration publique générale (8411Z)"
    assert values["category"].text == "Grande entreprise (GE)"
    assert values["ess"].flag is True
    assert values["ess"].lines == (
        "L’entreprise relève de l’économie sociale et solidaire (source : INSEE)",
    )


def test_rne(adapter):
    report = adapter.fetch("rne", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    director = report.values["first_name_last_name"]
    assert director.text == "Jean DUPONT"
    assert director.lines == ("Qualité : Président",)
    assert (
        report.values["head_office_address"].text
        == "2 PLACE AUX ETOILES, 93200 SAINT-DENIS, FRANCE"
    )


@pytest.mark.parametrize(
    ("source", "file_name", "some_line"),
    [
        (
            "urssaf_attestation_vigilance",
            f"attestation_vigilance_urssaf_{DEMO_SIREN}.pdf",
            "Valide du 31/01/2023 au 31/07/2023",
        ),
        (
            "attestations_fiscales",
            f"attestation_fiscale_dgfip_{DEMO_SIREN}.pdf",
            "Attestation délivrée le 11/04/2023",
        ),
        ("probtp", f"attestation_cotisations_retraite_probtp_{DEMO_SIRET}.pdf", None),
        ("fntp", f"carte_professionnelle_tp_fntp_{DEMO_SIREN}.pdf", None),
        ("qualibat", f"certificat_qualibat_{DEMO_SIREN}.pdf", "Valide jusqu’au 02/02/2024"),
    ],
)
def test_single_document_sources(adapter, source, file_name, some_line):
    report = adapter.fetch(source, query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED, report.detail
    value = report.values["document"]
    assert [d.file_name for d in value.documents] == [file_name]
    assert is_pdf(value.documents[0].content)
    if some_line:
        assert some_line in value.lines


def test_qualibat_lists_its_certifications(adapter):
    lines = adapter.fetch("qualibat", query(DEMO_SIRET)).values["document"].lines
    assert (
        "Qualification 4322 : Fabrication et pose de menuiserie intérieure en bois "
        "(attribuée le 03/03/2022)"
    ) in lines


def test_turnover(adapter):
    report = adapter.fetch("dgfip_chiffres_affaires", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    assert report.values["chiffres_affaires_data"].rows == (
        {"turnover": 900001, "fiscal_year_end": "2024-12-01"},
        {"turnover": 900001, "fiscal_year_end": "2023-12-01"},
        {"turnover": 900001, "fiscal_year_end": "2022-12-01"},
    )


def test_actes_bilans(adapter):
    report = adapter.fetch("actes_bilans", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    value = report.values["actes_et_bilans"]
    assert [d.file_name for d in value.documents] == [
        f"bilan_{DEMO_SIREN}_2022-12-31.pdf",
        f"bilan_{DEMO_SIREN}_2021-12-31.pdf",
        f"bilan_{DEMO_SIREN}_2020-12-31.pdf",
    ]
    assert all(is_pdf(d.content) for d in value.documents)
    assert value.lines[0] == "Bilan de l’exercice clos le 31/12/2022 (bilan complet)"


def test_cotisation_retraite_gets_both_attestations(adapter):
    report = adapter.fetch("cotisation_retraite", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    documents = report.values["documents"].documents
    assert [d.file_name for d in documents] == [
        f"attestation_cibtp_{DEMO_SIRET}.pdf",
        f"attestation_cnetp_{DEMO_SIREN}.pdf",
    ]
    assert all(is_pdf(d.content) for d in documents)


def test_qualifelec(adapter):
    report = adapter.fetch("qualifelec", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    value = report.values["documents"]
    assert [d.file_name for d in value.documents] == [
        f"certificat_qualifelec_{DEMO_SIREN}_1.pdf",
        f"certificat_qualifelec_{DEMO_SIREN}_2.pdf",
    ]
    assert all(is_pdf(d.content) for d in value.documents)
    assert (
        "Certificat Qualifelec n° 2840 : COURANTS FAIBLES LOGEMENT COMMERCE PETIT TERTIAIRE (CFLCP)"
    ) in value.lines
    assert "Valide du 01/02/2023 au 31/01/2024" in value.lines


def test_rge(adapter):
    report = adapter.fetch("rge", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    value = report.values["documents"]
    assert len(value.documents) == 2 and all(is_pdf(d.content) for d in value.documents)
    assert value.documents[0].file_name == f"certificat_rge_{DEMO_SIRET}_1.pdf"
    assert value.lines[0] == (
        "Qualisol CESI — Fenêtres, volets, portes extérieures 2020 — qualibat — "
        "valable jusqu’au 01/08/2025"
    )


def test_opqibi(adapter):
    report = adapter.fetch("opqibi", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    value = report.values["data"]
    assert value.text == "https://www.opqibi.com/fiche/1777"
    assert "Certificat délivré le 28/01/2021" in value.lines
    assert "Validité du certificat : valable un an" in value.lines
    assert "Qualifications valables jusqu’au 21/02/2025" in value.lines
    assert any("Etude thermique réglementaire" in line for line in value.lines)


def test_carif_oref(adapter):
    report = adapter.fetch("carif_oref", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    qualiopi = report.values["qualiopi"]
    assert qualiopi.documents == () and qualiopi.text is None
    assert qualiopi.lines[:3] == (
        "Déclaration d’activité n° 11910843391",
        "Déclaration active",
        "Dernière déclaration le 30/01/2021",
    )
    assert "Certification Qualiopi pour : actions de formation" in qualiopi.lines
    assert "Spécialité : Finances, banque, assurances (313)" in qualiopi.lines
    france = report.values["france_competence"]
    assert france.text == "https://www.francecompetences.fr/recherche/rncp/10013/"
    assert "Habilitation RNCP10013" in france.lines
    assert "Enregistrement jusqu’au 30/01/2030" in france.lines


def test_calls_carry_the_mandatory_parameters_and_are_logged_without_the_token(adapter, caplog):
    seen: list[Any] = []
    original = requests.Session.get

    def spy(self, url, **kwargs):
        seen.append((url, kwargs.get("params"), kwargs.get("headers")))
        return original(self, url, **kwargs)

    caplog.set_level(logging.INFO, logger=LOGGER)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "get", spy)
        adapter.fetch("urssaf_attestation_vigilance", query(DEMO_SIRET))
    (api_url, params, headers), (document_url, _none, document_headers) = seen
    assert params == {
        "context": "Candidature marché public",
        "recipient": BUYER,
        "object": "Réponse marché: Essai",
    }
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert document_headers["Authorization"] == f"Bearer {TOKEN}"  # the replica is the API host
    lines = call_lines(caplog)
    assert [line["path"] for line in lines] == [
        f"/v4/urssaf/unites_legales/{DEMO_SIREN}/attestation_vigilance",
        "/documents/attestation-vigilance-test.pdf",
    ]
    assert lines[0]["source"] == "urssaf_attestation_vigilance"
    assert lines[0]["status"] == 200 and lines[0]["attempt"] == 1
    assert isinstance(lines[0]["duration_ms"], float)
    assert TOKEN not in caplog.text and all(TOKEN not in str(r.__dict__) for r in caplog.records)


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(API_ENTREPRISE_SOURCES))
def test_unknown_company_is_not_found(adapter, source):
    assert adapter.fetch(source, query(UNKNOWN_SIRET)).outcome is FetchStatus.NOT_FOUND


def test_refused_token_is_unavailable_and_logged_once(api, caplog):
    refusals = RefusalLog()
    wrong = ApiEntrepriseDataSource(api.url, "not-the-token", SETTINGS, refusals=refusals)
    caplog.set_level(logging.INFO, logger=LOGGER)
    first = wrong.fetch("insee", query(DEMO_SIRET))
    second = wrong.fetch("insee", query(DEMO_SIRET))
    assert first.outcome is second.outcome is FetchStatus.UNAVAILABLE
    errors = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].fields["source"] == "insee" and errors[0].fields["status"] == 401
    assert "not-the-token" not in caplog.text
    # Another source refused too: its own first time.
    wrong.fetch("rne", query(DEMO_SIRET))
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_forbidden_is_unavailable(adapter):
    report = adapter.fetch("insee", query(SPECIAL_SIRETS["forbidden"]))
    assert report.outcome is FetchStatus.UNAVAILABLE
    assert "403" in (report.detail or "")


def test_refused_recipient_is_failed_without_retry(api, adapter):
    siret = "30613890001294"
    path = f"/v3/insee/sirene/etablissements/{siret}"
    before = api.hits(path)
    report = adapter.fetch("insee", query(siret, recipient="123"))
    assert report.outcome is FetchStatus.FAILED
    assert "422" in (report.detail or "")
    assert api.hits(path) - before == 1


@pytest.mark.parametrize(
    ("special", "source", "path"),
    [
        ("error_500", "insee", "/v3/insee/sirene/etablissements/{siret}"),
        (
            "error_502",
            "fntp",
            "/v3/fntp/unites_legales/{siren}/carte_professionnelle_travaux_publics",
        ),
        (
            "too_many_requests",
            "urssaf_attestation_vigilance",
            "/v4/urssaf/unites_legales/{siren}/attestation_vigilance",
        ),
    ],
)
def test_transient_errors_are_retried_once_then_failed(api, adapter, caplog, special, source, path):
    siret = SPECIAL_SIRETS[special]
    path = path.format(siret=siret, siren=siret[:9])
    caplog.set_level(logging.INFO, logger=LOGGER)
    report = adapter.fetch(source, query(siret))
    assert report.outcome is FetchStatus.FAILED
    assert api.hits(path) == 2
    assert [line["attempt"] for line in call_lines(caplog)] == [1, 2]


def test_too_many_requests_honours_retry_after_within_the_cap(adapter):
    started = time.monotonic()
    adapter.fetch("probtp", query(SPECIAL_SIRETS["too_many_requests"]))
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3  # Retry-After: 1, capped at 1 s here


def test_server_that_never_answers_fails_after_one_retry(api, adapter):
    siret = SPECIAL_SIRETS["slow"]
    started = time.monotonic()
    report = adapter.fetch("insee", query(siret))
    assert report.outcome is FetchStatus.FAILED
    assert "no response within 0.5 s" in (report.detail or "")
    assert api.hits(f"/v3/insee/sirene/etablissements/{siret}") == 2
    assert time.monotonic() - started < 2.5


def test_body_that_is_not_json_is_failed(adapter):
    report = adapter.fetch("insee", query(SPECIAL_SIRETS["not_json"]))
    assert report.outcome is FetchStatus.FAILED
    assert report.detail == "body is not JSON"


@pytest.mark.parametrize("source", ["urssaf_attestation_vigilance", "qualifelec", "actes_bilans"])
def test_html_instead_of_a_document_is_refused(adapter, source):
    report = adapter.fetch(source, query(SPECIAL_SIRETS["html_document"]))
    assert report.outcome is FetchStatus.FAILED
    assert report.values == {}


def test_document_larger_than_the_cap_is_refused(api):
    small = HttpSettings(connect_timeout=2.0, read_timeout=0.5, max_document_bytes=100)
    adapter = ApiEntrepriseDataSource(api.url, TOKEN, small, refusals=RefusalLog())
    assert adapter.fetch("fntp", query(DEMO_SIRET)).outcome is FetchStatus.FAILED


def test_cotisation_retraite_fails_only_when_both_fail(api, adapter):
    # The replica's 504 samples: CIBTP 20459446201414 and CNETP 204594462.
    report = adapter.fetch("cotisation_retraite", query("20459446201414"))
    assert report.outcome is FetchStatus.FAILED
    assert (
        api.hits(
            "/v3/cibtp/etablissements/20459446201414/"
            "attestation_cotisations_conges_payes_chomage_intemperies"
        )
        == 2
    )


def test_api_entreprise_down_is_failed(adapter):
    down = ApiEntrepriseDataSource(closed_port_url(), TOKEN, SETTINGS, refusals=RefusalLog())
    report = down.fetch("insee", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.FAILED
    assert report.detail == "connection failed"


# --- BODACC -------------------------------------------------------------------------------------


def test_bodacc_liquidation(bodacc):
    report = bodacc.fetch("bodacc", query(LIQUIDATION_SIREN + "00001"))
    assert report.outcome is FetchStatus.COMPLETED
    liquidation = report.values["liquidation_judiciaire"]
    assert liquidation.flag is True
    assert liquidation.lines == (
        "Jugement d'ouverture de liquidation judiciaire — jugement du 21/03/2024 — "
        "GREFFE DU TRIBUNAL DES ACTIVITES ECONOMIQUES DE PARIS — BODACC A n° 20240057 du "
        "21/03/2024, annonce n° 1201",
    )
    assert report.values["faillite_interdiction"].flag is False
    assert report.values["faillite_interdiction"].lines == (bodacc_module.NO_BANKRUPTCY,)


def test_bodacc_personal_bankruptcy_over_several_pages(bodacc_replica, bodacc, monkeypatch):
    monkeypatch.setattr(bodacc_module, "PAGE_SIZE", 1)
    before = bodacc_replica.hits(bodacc_module.RECORDS_PATH)
    report = bodacc.fetch("bodacc", query(PERSONAL_BANKRUPTCY_SIREN + "00004"))
    assert bodacc_replica.hits(bodacc_module.RECORDS_PATH) - before == 2
    assert report.outcome is FetchStatus.COMPLETED
    bankruptcy = report.values["faillite_interdiction"]
    assert bankruptcy.flag is True
    assert len(bankruptcy.lines) == 2
    assert bankruptcy.lines[0].startswith("Jugement prononçant la faillite personnelle — ")
    assert bankruptcy.lines[1].startswith("Jugement prononçant l'interdiction de gérer — ")
    assert report.values["liquidation_judiciaire"].flag is False


def test_bodacc_unknown_siren_answers_no(bodacc):
    report = bodacc.fetch("bodacc", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.COMPLETED
    for field in ("liquidation_judiciaire", "faillite_interdiction"):
        assert report.values[field].flag is False
        assert report.values[field].lines == ("Aucune annonce publiée au BODACC pour ce SIREN.",)


def test_bodacc_down_is_failed():
    down = BodaccDataSource(closed_port_url(), SETTINGS, refusals=RefusalLog())
    report = down.fetch("bodacc", query(DEMO_SIRET))
    assert report.outcome is FetchStatus.FAILED
    assert report.values == {}


def test_bodacc_404_is_failed_not_not_found(bodacc_replica):
    moved = BodaccDataSource(bodacc_replica.url + "/moved", SETTINGS, refusals=RefusalLog())
    assert moved.fetch("bodacc", query(DEMO_SIRET)).outcome is FetchStatus.FAILED


# --- from the configuration ---------------------------------------------------------------------


def test_nothing_configured_covers_nothing_and_calls_nobody(monkeypatch):
    def no_network(*_args, **_kwargs):
        raise AssertionError("no network call expected")

    monkeypatch.setattr(requests.Session, "request", no_network)
    sources = data_sources_from_config(Config())
    for source in SOURCE_LABELS:
        assert sources.covers(source) is False
        report = sources.fetch(source, query(DEMO_SIRET))
        assert report.outcome is FetchStatus.UNAVAILABLE
        assert report.detail == "not configured"


def test_a_base_url_without_token_is_not_enough():
    sources = data_sources_from_config(Config(api_entreprise_base_url="http://127.0.0.1:9"))
    assert not sources.covers("insee")
    assert sources.fetch("insee", query(DEMO_SIRET)).outcome is FetchStatus.UNAVAILABLE


def test_configured_sources_fetch_over_http(api, bodacc_replica):
    config = Config(
        api_entreprise_base_url=api.url,
        api_entreprise_token=TOKEN,
        bodacc_base_url=bodacc_replica.url,
    )
    sources = data_sources_from_config(config, SETTINGS, refusals=RefusalLog())
    assert all(sources.covers(source) for source in SOURCE_LABELS)
    assert not sources.covers("unknown")
    assert sources.fetch("insee", query(DEMO_SIRET)).outcome is FetchStatus.COMPLETED
    assert sources.fetch("bodacc", query(DEMO_SIRET)).outcome is FetchStatus.COMPLETED
    only_bodacc = data_sources_from_config(Config(bodacc_base_url=bodacc_replica.url))
    assert only_bodacc.covers("bodacc") and not only_bodacc.covers("insee")


def closed_port_url() -> str:
    """The URL of a port nobody listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_the_token_goes_only_to_the_api_entreprise_host(api, adapter):
    assert adapter.is_own_host(api.url + "/documents/x.pdf")
    port = int(api.url.rsplit(":", 1)[1])
    assert not adapter.is_own_host(f"http://127.0.0.1:{port + 1}/documents/x.pdf")
    assert not adapter.is_own_host(f"https://127.0.0.1:{port}/documents/x.pdf")
    assert not adapter.is_own_host("https://storage.example.org/x.pdf")
    assert "adapter-test-token" not in repr(adapter)

"""The API Entreprise and BODACC replicas, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from passemarche.sandbox import create_bodacc_app, create_sandbox_app, serve_in_thread
from passemarche.sandbox.api_entreprise import SPECIAL_SIRETS, sample_identifiers
from passemarche.sandbox.bodacc import LIQUIDATION_SIREN, PERSONAL_BANKRUPTCY_SIREN, RECORDS_PATH
from werkzeug.serving import make_server

TOKEN = "test-token"
PARAMS = {"context": "Passe Marché", "recipient": "13002526500013", "object": "candidature"}
INSEE = "/v3/insee/sirene/etablissements/{}"
URSSAF = "/v3/urssaf/unites_legales/{}/attestation_vigilance"


def _serve(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    yield from _serve(create_sandbox_app(TOKEN, slow_seconds=1.5))


@pytest.fixture(scope="module")
def bodacc() -> Iterator[str]:
    yield from _serve(create_bodacc_app())


def get(base: str, path: str, params=None, token: str | None = TOKEN, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        base + path,
        params=PARAMS if params is None else params,
        headers=headers,
        timeout=kw.pop("timeout", 5),
        **kw,
    )


def test_sample_siret_answers_the_sample(api):
    response = get(api, INSEE.format("30613890001294"))
    assert response.status_code == 200
    assert response.json()["data"]["siret"] == "30613890001294"


@pytest.mark.parametrize(
    ("path", "identifier"),
    [
        ("/v3/inpi/rne/unites_legales/{}/extrait_rne", "552049447"),
        (URSSAF, "418166096"),
        ("/v4/urssaf/unites_legales/{}/attestation_vigilance", "000000001"),
        ("/v3/dgfip/unites_legales/{}/attestation_fiscale", "418166096"),
        ("/v3/qualibat/etablissements/{}/certification_batiment", "30613890001294"),
        ("/v3/qualifelec/etablissements/{}/certificats", "77567227221138"),
        ("/v3/ademe/etablissements/{}/certification_rge", "13002526500013"),
        ("/v3/opqibi/unites_legales/{}/certification_ingenierie", "130025265"),
        ("/v3/fntp/unites_legales/{}/carte_professionnelle_travaux_publics", "130025265"),
        ("/v3/probtp/etablissements/{}/attestation_cotisations_retraite", "30613890001294"),
        (
            "/v3/cibtp/etablissements/{}/attestation_cotisations_conges_payes_chomage_intemperies",
            "13002526500013",
        ),
        (
            "/v3/cnetp/unites_legales/{}/attestation_cotisations_conges_payes_chomage_intemperies",
            "130025265",
        ),
        (
            "/v3/carif_oref/etablissements/{}/certifications_qualiopi_france_competences",
            "30613890001294",
        ),
        ("/v3/inpi/rne/unites_legales/open_data/{}/actes_bilans", "130025265"),
    ],
)
def test_each_source_answers_its_sample_and_404_otherwise(api, path, identifier):
    assert get(api, path.format(identifier)).status_code == 200
    other = "84445156452589" if len(identifier) == 14 else "844451564"
    missing = get(api, path.format(other))
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"]


def test_chiffres_affaires_three_years_or_one(api):
    path = "/v3/dgfip/etablissements/13002526500001/chiffres_affaires"
    years = [item["data"]["date_fin_exercice"][:4] for item in get(api, path).json()["data"]]
    assert years == ["2024", "2023", "2022"]
    one = get(api, path, params={**PARAMS, "year": "2023"}).json()["data"]
    assert [item["data"]["chiffre_affaires"] for item in one] == [900001]


def test_demo_siret_is_served_on_every_source(api):
    assert get(api, INSEE.format("13002526500013")).status_code == 200
    assert get(api, URSSAF.format("130025265")).status_code == 200
    assert sample_identifiers()["v3_insee_etablissements"]


def test_unknown_siret_is_a_404_in_the_api_error_shape(api):
    response = get(api, INSEE.format("00000000000000"))
    assert response.status_code == 404
    assert response.json()["errors"][0]["title"] == "Entité non trouvée"
    assert get(api, INSEE.format("84445156452589")).status_code == 404


@pytest.mark.parametrize("token", [None, "wrong"])
def test_missing_or_wrong_token_is_a_401(api, token):
    response = get(api, INSEE.format("30613890001294"), token=token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "00101"


@pytest.mark.parametrize("missing", ["context", "recipient", "object"])
def test_missing_mandatory_parameter_is_a_422(api, missing):
    params = {k: v for k, v in PARAMS.items() if k != missing}
    response = get(api, INSEE.format("30613890001294"), params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["source"] == {"parameter": missing}


def test_malformed_recipient_or_siret_is_a_422(api):
    bad = get(api, INSEE.format("30613890001294"), params={**PARAMS, "recipient": "123"})
    assert bad.status_code == 422
    assert get(api, INSEE.format("306138900")).status_code == 422


@pytest.mark.parametrize(
    ("special", "status"),
    [("error_500", 500), ("error_502", 502), ("too_many_requests", 429), ("forbidden", 403)],
)
def test_special_error_sirets(api, special, status):
    siret = SPECIAL_SIRETS[special]
    response = get(api, INSEE.format(siret))
    assert response.status_code == status
    assert response.json()["errors"]
    assert get(api, URSSAF.format(siret[:9])).status_code == status


def test_slow_siret_outlasts_the_client_timeout(api):
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(api, INSEE.format(SPECIAL_SIRETS["slow"]), timeout=(2, 0.3))
    assert time.monotonic() - started < 1.5


def test_not_json_siret(api):
    response = get(api, INSEE.format(SPECIAL_SIRETS["not_json"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


def test_document_url_serves_a_pdf(api):
    body = get(api, URSSAF.format("418166096")).json()
    url = body["data"]["document_url"]
    assert url.startswith(api + "/documents/")
    document = requests.get(url, timeout=5)
    assert document.status_code == 200
    assert document.headers["Content-Type"] == "application/pdf"
    assert document.content.startswith(b"%PDF-1.4")
    assert document.content.rstrip().endswith(b"%%EOF")


def test_certification_document_urls_point_at_the_replica(api):
    body = get(api, "/v3/ademe/etablissements/13002526500013/certification_rge").json()
    urls = [item["data"]["url"] for item in body["data"] if item["data"].get("url")]
    assert urls and all(u.startswith(api + "/documents/") for u in urls)
    assert requests.get(urls[0], timeout=5).content[:5] == b"%PDF-"


def test_html_document_siret(api):
    body = get(api, URSSAF.format(SPECIAL_SIRETS["html_document"][:9])).json()
    document = requests.get(body["data"]["document_url"], timeout=5)
    assert document.status_code == 200
    assert not document.content.startswith(b"%PDF")
    assert b"<html" in document.content


def test_bodacc_liquidation_hit(bodacc):
    response = requests.get(
        bodacc + RECORDS_PATH,
        params={"where": f'registre:"{LIQUIDATION_SIREN}"', "limit": 20},
        timeout=5,
    )
    body = response.json()
    assert body["total_count"] == 1
    record = body["results"][0]
    assert record["familleavis_lib"] == "Procédures collectives"
    assert "liquidation judiciaire" in record["jugement"]
    assert LIQUIDATION_SIREN in record["registre"]


def test_bodacc_personal_bankruptcy_hit_with_spaced_siren(bodacc):
    siren = PERSONAL_BANKRUPTCY_SIREN
    where = f'registre like "{siren[:3]} {siren[3:6]} {siren[6:]}"'
    body = requests.get(bodacc + RECORDS_PATH, params={"where": where}, timeout=5).json()
    natures = " ".join(r["jugement"] for r in body["results"])
    assert body["total_count"] == 2
    assert "faillite personnelle" in natures and "interdiction de gérer" in natures


def test_bodacc_miss(bodacc):
    body = requests.get(
        bodacc + RECORDS_PATH, params={"where": 'registre:"130025265"'}, timeout=5
    ).json()
    assert body == {"total_count": 0, "results": []}

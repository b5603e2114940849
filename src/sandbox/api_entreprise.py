"""Local replica of the API Entreprise sandbox (test and demo tooling, never used in production).

It answers the API Entreprise v3/v4 paths of ``api_entreprise.openapi.yaml`` that Passe Marché
reads, from the sample payloads of etalab/siade_staging_data (MIT licence, see ``data/LICENSE``),
converted once to ``data/api_entreprise.json``:

- the sample's status and body for the SIRET/SIREN of a sample (``params`` of the YAML file);
- the endpoint's 404 sample body (the API's error shape) for any other well-formed identifier;
- 401 ``invalid_token_error`` without ``Authorization: Bearer <token>``;
- 422 in the API's error shape when ``context``, ``recipient`` (a 14-digit SIRET) or ``object``
  is missing or malformed, or when the SIRET/SIREN of the path is malformed;
- document URLs of the samples are rewritten to ``<base>/documents/<name>.pdf``, served by the
  replica as a tiny valid PDF.

Sample identifiers (see ``sample_identifiers()``): INSEE établissements 30613890001294,
77567227221138, 42417936400023, 55204944776279, 35005144700018, 47846480300319, 35004292500031;
INPI RNE extrait 552049447; URSSAF 418166096 (v3), 000000001 / 000000002 (v4); DGFIP attestation
fiscale 418166096, 000000001; chiffres d'affaires 13002526500001 (``year`` 2022-2024, all three
without ``year``); Qualibat, PRO BTP, Carif-Oref 30613890001294; Qualifelec 77567227221138,
42417936400023, 55204944776279; ADEME RGE and CIBTP 13002526500013; OPQIBI, FNTP, CNETP, INPI
actes et bilans 130025265.

Demo identity: SIREN ``130025265`` / SIRET ``13002526500013`` (DINUM) gets, on every endpoint
without a sample of its own, that endpoint's first 200 sample, so one SIRET shows every source
pre-filled in a demo.

Special identifiers for adapter tests (matched on the SIREN, i.e. the first 9 digits of a SIRET;
all pass the Luhn check):

==========  ==============  ==========================================================
SIREN       SIRET           answer
==========  ==============  ==========================================================
500000005   50000000500008  500 with a JSON error body
502000003   50200000300009  502 ``provider_unknown_error``
429000003   42900000300005  429 ``too_many_requests_error`` with ``Retry-After: 1``
403000003   40300000300018  403 ``insufficient_privileges_error``
408000008   40800000800008  sleeps ``slow_seconds`` (default 40 s, beyond a 30 s read
                            timeout) then answers the demo 200 sample
200000008   20000000800009  200 with an HTML body (not JSON)
415000009   41500000900001  the demo 200 sample, whose document URL returns HTML instead
                            of a PDF (``/documents/not-a-pdf.pdf``)
==========  ==============  ==========================================================
"""

from __future__ import annotations

import json
import re
import time
from functools import cache
from importlib import resources
from typing import Any

from flask import Flask, Response, request

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - a public sandbox value, not a secret
DEMO_SIREN = "130025265"
DEMO_SIRET = "13002526500013"
DOCUMENT_SCHEME = "sandbox-document://"

ERROR_500_SIREN = "500000005"
ERROR_502_SIREN = "502000003"
TOO_MANY_REQUESTS_SIREN = "429000003"
FORBIDDEN_SIREN = "403000003"
SLOW_SIREN = "408000008"
NOT_JSON_SIREN = "200000008"
HTML_DOCUMENT_SIREN = "415000009"

SPECIAL_SIRETS = {
    "error_500": "50000000500008",
    "error_502": "50200000300009",
    "too_many_requests": "42900000300005",
    "forbidden": "40300000300018",
    "slow": "40800000800008",
    "not_json": "20000000800009",
    "html_document": "41500000900001",
}

_SIRET = re.compile(r"^\d{14}$")
_SIREN = re.compile(r"^\d{9}$")


def tiny_pdf(text: str = "Passe Marche - document du bac a sable API Entreprise") -> bytes:
    """A minimal valid one-page PDF (correct xref offsets), ``%PDF-1.4`` ... ``%%EOF``; the text
    in ASCII (other characters become ``?``: Helvetica's base encoding is not used)."""
    safe = text.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = f"BT /F1 12 Tf 50 750 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


SAMPLE_PDF = tiny_pdf()  # built once at import


@cache
def load_data() -> dict[str, Any]:
    text = (
        resources.files("passemarche.sandbox")
        .joinpath("data/api_entreprise.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def sample_identifiers() -> dict[str, list[str]]:
    """Endpoint name -> identifiers that have a 200 sample."""
    return {
        endpoint["name"]: sorted(
            {s["params"][endpoint["id"]] for s in endpoint["samples"] if s["status"] == 200}
        )
        for endpoint in load_data()["endpoints"]
    }


def _errors(code: str, title: str, detail: str, parameter: str | None = None) -> dict[str, Any]:
    source = {"parameter": parameter} if parameter else None
    return {"errors": [{"code": code, "title": title, "detail": detail, "source": source}]}


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers=headers,
    )


def _with_documents(body: Any, base_url: str, html_document: bool = False) -> Any:
    if isinstance(body, dict):
        return {k: _with_documents(v, base_url, html_document) for k, v in body.items()}
    if isinstance(body, list):
        return [_with_documents(v, base_url, html_document) for v in body]
    if isinstance(body, str) and body.startswith(DOCUMENT_SCHEME):
        name = "not-a-pdf.pdf" if html_document else body.removeprefix(DOCUMENT_SCHEME)
        return f"{base_url}/documents/{name}"
    return body


def _first(endpoint: dict[str, Any], status: int) -> dict[str, Any] | None:
    return next((s for s in endpoint["samples"] if s["status"] == status), None)


def _answer(endpoint: dict[str, Any], identifier: str) -> tuple[int, Any]:
    """Status and body for ``identifier`` (before document URL rewriting)."""
    matches = [s for s in endpoint["samples"] if s["params"][endpoint["id"]] == identifier]
    year = request.args.get("year")
    if matches and endpoint["name"].endswith("chiffres_affaires"):
        if year:
            matches = [s for s in matches if s["params"].get("year") == year]
        elif len(matches) > 1:
            # Without ``year`` the API answers the last fiscal years together.
            items = [item for s in matches for item in s["body"]["data"]]
            items.sort(key=lambda item: item["data"]["date_fin_exercice"], reverse=True)
            return 200, {"data": items, "links": {}, "meta": {}}
    if matches:
        return matches[0]["status"], matches[0]["body"]
    if identifier[:9] == DEMO_SIREN and (sample := _first(endpoint, 200)):
        demo = sample["params"][endpoint["id"]]
        if demo == identifier:
            return 200, sample["body"]
        status, body = _answer(endpoint, demo)
        return status, _as_asked(body, identifier)
    not_found = _first(endpoint, 404)
    body = (
        not_found["body"]
        if not_found
        else _errors(
            "04003",
            "Entité non trouvée",
            "Le siret ou siren indiqué n'existe pas, n'est pas connu ou ne comporte aucune "
            "information pour cet appel",
        )
    )
    return 404, body


def _as_asked(body: Any, identifier: str) -> Any:
    """Another sample served to the demo identity names the SIRET that was asked for."""
    data = body.get("data") if isinstance(body, dict) else None
    if len(identifier) == 14 and isinstance(data, dict) and "siret" in data:
        return {**body, "data": {**data, "siret": identifier}}
    return body


def create_sandbox_app(token: str = DEFAULT_TOKEN, slow_seconds: float = 40.0) -> Flask:
    """The API Entreprise replica. ``slow_seconds``: how long the slow SIREN sleeps."""
    app = Flask("passemarche.sandbox.api_entreprise")
    data = load_data()
    errors = data["errors"]

    def guard(identifier_name: str, identifier: str) -> Response | None:
        if request.headers.get("Authorization", "") != f"Bearer {token}":
            return _json(errors["invalid_token_error"], 401)
        for name in ("context", "recipient", "object"):
            if not request.args.get(name, "").strip():
                return _json(errors[f"missing_mandatory_params_{name}_error"], 422)
        if not _SIRET.match(request.args["recipient"]):
            return _json(
                _errors(
                    "00210",
                    "Entité non traitable",
                    "Le paramètre recipient doit être un numéro de siret (14 chiffres)",
                    "recipient",
                ),
                422,
            )
        pattern = _SIRET if identifier_name == "siret" else _SIREN
        if not pattern.match(identifier):
            return _json(
                _errors(
                    "00302" if identifier_name == "siret" else "00301",
                    "Entité non traitable",
                    f"Le numéro de {identifier_name} n'est pas correctement formatté",
                    identifier_name,
                ),
                422,
            )
        return None

    def make_view(endpoint: dict[str, Any]):  # type: ignore[no-untyped-def]
        def view(identifier: str) -> Response:
            refused = guard(endpoint["id"], identifier)
            if refused is not None:
                return refused
            siren = identifier[:9]
            if siren == ERROR_500_SIREN:
                return _json(
                    _errors("00500", "Erreur interne", "Erreur interne du serveur (bac à sable)"),
                    500,
                )
            if siren == ERROR_502_SIREN:
                return _json(errors["provider_unknown_error"], 502)
            if siren == TOO_MANY_REQUESTS_SIREN:
                return _json(errors["too_many_requests_error"], 429, {"Retry-After": "1"})
            if siren == FORBIDDEN_SIREN:
                return _json(errors["insufficient_privileges_error"], 403)
            if siren == NOT_JSON_SIREN:
                return Response(
                    "<html><body>Bad gateway</body></html>", status=200, mimetype="text/html"
                )
            special = siren in (SLOW_SIREN, HTML_DOCUMENT_SIREN)
            if siren == SLOW_SIREN:
                time.sleep(slow_seconds)
            status, body = _answer(endpoint, DEMO_SIRET if special else identifier)
            base_url = request.host_url.rstrip("/")
            return _json(_with_documents(body, base_url, siren == HTML_DOCUMENT_SIREN), status)

        return view

    for endpoint in data["endpoints"]:
        rule = endpoint["path"].replace("{" + endpoint["id"] + "}", "<identifier>")
        app.add_url_rule(rule, endpoint["name"], make_view(endpoint), methods=["GET"])

    @app.get("/documents/not-a-pdf.pdf")
    def html_document() -> Response:
        return Response(
            "<!doctype html><html><body>Session expirée</body></html>", mimetype="text/html"
        )

    @app.get("/documents/<name>.pdf")
    def document(name: str) -> Response:
        return Response(SAMPLE_PDF, mimetype="application/pdf")

    @app.errorhandler(404)
    def unknown_route(_error: Exception) -> Response:
        return _json(_errors("00404", "Ressource introuvable", "Cette route n'existe pas"), 404)

    return app

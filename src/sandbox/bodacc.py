"""Local replica of the BODACC open-data API (test and demo tooling, never used in production).

The public API is DILA's OpenDataSoft portal (no authentication):
``GET /api/explore/v2.1/catalog/datasets/annonces-commerciales/records?where=...&limit=...``.
The answer follows the public API's documented shape: ``{"total_count": n, "results": [...]}``,
each record with the dataset's fields (``id``, ``publicationavis``, ``typeavis``,
``typeavis_lib``, ``familleavis``, ``familleavis_lib``, ``numerodepartement``, ``tribunal``,
``commercant``, ``ville``, ``cp``, ``registre`` (list: spaced and plain SIREN),
``dateparution``, ``numeroannonce``, ``jugement`` and ``listepersonnes`` as JSON *strings*,
``url_complete``). The records are invented for the sandbox SIRENs below (fictitious, Luhn-valid
identifiers, no real company):

- ``900000019`` (SIRET ``90000001900001``): a "liquidation judiciaire" notice;
- ``900000027`` (SIRET ``90000002700004``): a "faillite personnelle" and an "interdiction de
  gérer" notice;
- any other SIREN: ``total_count`` 0.

The SIREN is taken from the ``where`` (or ``q``) parameter: any 9 digits, spaces allowed, e.g.
``registre:"900000019"`` or ``registre like "900 000 019"``; ``familleavis="collective"`` in
``where`` also filters; ``limit`` and ``offset`` page the results.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, Response, request

LIQUIDATION_SIREN = "900000019"
PERSONAL_BANKRUPTCY_SIREN = "900000027"
RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/annonces-commerciales/records"


def _spaced(siren: str) -> str:
    return f"{siren[:3]} {siren[3:6]} {siren[6:]}"


def _record(
    siren: str,
    number: int,
    name: str,
    date: str,
    famille: str,
    nature: str,
    complement: str,
) -> dict[str, Any]:
    jugement = {
        "type": "initial",
        "famille": famille,
        "nature": nature,
        "date": date,
        "complementJugement": complement,
    }
    personnes = {
        "personne": {
            "typePersonne": "pm" if siren == LIQUIDATION_SIREN else "pp",
            "denomination": name,
            "numeroImmatriculation": {
                "numeroIdentification": _spaced(siren),
                "codeRCS": "RCS",
                "nomGreffeImmat": "Paris",
            },
        }
    }
    return {
        "id": f"A2024{number:07d}",
        "publicationavis": "A",
        "publicationavis_facette": "Bodacc A",
        "parution": "20240057",
        "dateparution": date,
        "numeroannonce": number,
        "typeavis": "annonce",
        "typeavis_lib": "Avis initial",
        "familleavis": "collective",
        "familleavis_lib": "Procédures collectives",
        "numerodepartement": "75",
        "departement_nom_officiel": "Paris",
        "region_code": 11,
        "region_nom_officiel": "Île-de-France",
        "tribunal": "GREFFE DU TRIBUNAL DES ACTIVITES ECONOMIQUES DE PARIS",
        "commercant": name,
        "ville": "Paris",
        "cp": "75002",
        "registre": [_spaced(siren), siren],
        "jugement": json.dumps(jugement, ensure_ascii=False),
        "listepersonnes": json.dumps(personnes, ensure_ascii=False),
        "acte": None,
        "modificationsgenerales": None,
        "radiationaurcs": None,
        "depot": None,
        "url_complete": f"https://www.bodacc.fr/pages/annonces-commerciales-detail/?q.id=id:A2024{number:07d}",
    }


RECORDS: list[dict[str, Any]] = [
    _record(
        LIQUIDATION_SIREN,
        1201,
        "BAC A SABLE BATIMENT SAS",
        "2024-03-21",
        "Jugement d'ouverture",
        "Jugement d'ouverture de liquidation judiciaire",
        "Jugement prononçant la liquidation judiciaire, date de cessation des paiements le "
        "1 janvier 2024, désignant liquidateur Maître Exemple.",
    ),
    _record(
        PERSONAL_BANKRUPTCY_SIREN,
        1202,
        "DUPONT Exemple",
        "2024-05-14",
        "Jugement prononçant",
        "Jugement prononçant la faillite personnelle",
        "Jugement prononçant la faillite personnelle pour une durée de 10 ans.",
    ),
    _record(
        PERSONAL_BANKRUPTCY_SIREN,
        1203,
        "DUPONT Exemple",
        "2024-05-14",
        "Jugement prononçant",
        "Jugement prononçant l'interdiction de gérer",
        "Jugement prononçant l'interdiction de diriger, gérer, administrer ou contrôler toute "
        "entreprise pour une durée de 10 ans.",
    ),
]

_SIREN_IN_QUERY = re.compile(r"(?<!\d)(\d{3})\s?(\d{3})\s?(\d{3})(?!\d)")
_FAMILLE = re.compile(r"familleavis\s*=\s*['\"](\w+)['\"]")


def _int_arg(name: str, default: int) -> int:
    try:
        return max(0, int(request.args.get(name, default)))
    except ValueError:
        return default


def create_bodacc_app() -> Flask:
    app = Flask("passemarche.sandbox.bodacc")

    @app.get(RECORDS_PATH)
    def records() -> Response:
        query = " ".join(request.args.get(name, "") for name in ("where", "q", "refine"))
        sirens = {"".join(match.groups()) for match in _SIREN_IN_QUERY.finditer(query)}
        found = [r for r in RECORDS if sirens & set(r["registre"])]
        if famille := _FAMILLE.search(query):
            found = [r for r in found if r["familleavis"] == famille.group(1)]
        offset, limit = _int_arg("offset", 0), _int_arg("limit", 10)
        body = {"total_count": len(found), "results": found[offset : offset + limit]}
        return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")

    @app.errorhandler(404)
    def unknown(_error: Exception) -> Response:
        body = {"error_code": "NotFound", "message": "Unknown route"}
        return Response(json.dumps(body), status=404, mimetype="application/json")

    return app

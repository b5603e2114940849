"""BODACC (DILA's open data, no authentication): insolvency and personal-bankruptcy notices.

The ``annonces-commerciales`` dataset is queried by SIREN (``registre``), page by page. Notices of
collective procedures (``familleavis`` "collective", or a ``jugement`` JSON string) answer the two
exclusion questions:

- ``liquidation_judiciaire``: a liquidation or a "redressement judiciaire";
- ``faillite_interdiction``: a personal bankruptcy, a ban from managing, a "banqueroute".

Each field is a flag with one French line per notice, or False with a line saying there is none.
An unknown SIREN is an empty result (200, ``total_count`` 0): a 404 means the API itself moved,
so it is a failure, not "not found".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import requests
from passemarche.adapters.data_sources.api_entreprise_payloads import french_date, text
from passemarche.adapters.data_sources.http import REFUSALS, HttpSettings, RefusalLog, SourceHttp
from passemarche.domain.prefill import CompanyQuery, FetchStatus, SourceReport, SourceValue

SOURCE = "bodacc"
RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/annonces-commerciales/records"
PAGE_SIZE = 50
MAX_RECORDS = 500  # a company with more notices than that has told us enough

NO_NOTICE = "Aucune annonce publiée au BODACC pour ce SIREN."
NO_LIQUIDATION = (
    "Aucune annonce de liquidation ou de redressement judiciaire publiée au BODACC pour ce SIREN."
)
NO_BANKRUPTCY = (
    "Aucune annonce de faillite personnelle, d’interdiction de gérer ou de banqueroute publiée "
    "au BODACC pour ce SIREN."
)

# Matched on lower-case text without accents.
_LIQUIDATION = re.compile(r"liquidation|redressement judiciaire")
_BANKRUPTCY = re.compile(r"faillite personnelle|interdiction de (gerer|diriger)|banqueroute")


def _plain(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.replace("’", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _judgement(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    raw = record.get("jugement")
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def notice_line(record: Mapping[str, Any], judgement: Mapping[str, Any] | None) -> str:
    """ "<nature> — jugement du <date> — <tribunal> — BODACC A n° <parution> du <date>, annonce
    n° <numéro>" (the parts known)."""
    nature = text((judgement or {}).get("nature")) or text(record.get("familleavis_lib"))
    judged = french_date((judgement or {}).get("date"))
    published = french_date(record.get("dateparution"))
    issue = text(record.get("parution"))
    number = text(record.get("numeroannonce"))
    letter = text(record.get("publicationavis")) or ""
    bodacc = f"BODACC {letter} n° {issue}".replace("  ", " ") if issue else "BODACC"
    if published:
        bodacc += f" du {published}"
    if number:
        bodacc += f", annonce n° {number}"
    parts = [
        nature or "Annonce de procédure collective",
        f"jugement du {judged}" if judged else None,
        text(record.get("tribunal")),
        bodacc,
    ]
    return " — ".join(part for part in parts if part)


def classify(records: list[Any]) -> dict[str, SourceValue]:
    """The two fields from the dataset's records (pure: no HTTP)."""
    liquidations: list[str] = []
    bankruptcies: list[str] = []
    for record in records:
        if not isinstance(record, Mapping):
            continue
        judgement = _judgement(record)
        if record.get("familleavis") != "collective" and judgement is None:
            continue
        words = _plain(
            " ".join(
                text((judgement or {}).get(key)) or "" for key in ("nature", "complementJugement")
            )
        )
        line = notice_line(record, judgement)
        if _LIQUIDATION.search(words):
            liquidations.append(line)
        if _BANKRUPTCY.search(words):
            bankruptcies.append(line)
    if not liquidations and not bankruptcies:
        none = SourceValue(flag=False, lines=(NO_NOTICE,))
        return {"liquidation_judiciaire": none, "faillite_interdiction": none}
    return {
        "liquidation_judiciaire": (
            SourceValue(flag=True, lines=tuple(liquidations))
            if liquidations
            else SourceValue(flag=False, lines=(NO_LIQUIDATION,))
        ),
        "faillite_interdiction": (
            SourceValue(flag=True, lines=tuple(bankruptcies))
            if bankruptcies
            else SourceValue(flag=False, lines=(NO_BANKRUPTCY,))
        ),
    }


class BodaccDataSource:
    """The `CompanyDataSource` of the ``bodacc`` source."""

    def __init__(
        self,
        base_url: str,
        settings: HttpSettings | None = None,
        *,
        refusals: RefusalLog = REFUSALS,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self.refusals = refusals
        self.max_records = max_records

    def covers(self, source: str) -> bool:
        return source == SOURCE

    def fetch(self, source: str, query: CompanyQuery) -> SourceReport:
        if source != SOURCE:
            return SourceReport(FetchStatus.UNAVAILABLE, detail="not the BODACC source")
        siren = query.siren
        if not siren.isdigit() or len(siren) != 9:
            return SourceReport(FetchStatus.FAILED, detail="not a SIREN")
        records: list[Any] = []
        with requests.Session() as session:
            http = SourceHttp(SOURCE, session, self.settings, refusals=self.refusals)
            offset = 0
            while True:
                answer = http.get_json(
                    self.base_url + RECORDS_PATH,
                    params={"where": f'registre="{siren}"', "limit": PAGE_SIZE, "offset": offset},
                    headers={"Accept": "application/json"},
                )
                if answer.outcome is FetchStatus.NOT_FOUND:
                    return SourceReport(FetchStatus.FAILED, detail=answer.detail)
                if answer.outcome is not FetchStatus.COMPLETED:
                    return SourceReport(answer.outcome, detail=answer.detail)
                body = answer.body
                page = body.get("results") if isinstance(body, Mapping) else None
                total = body.get("total_count") if isinstance(body, Mapping) else None
                if (
                    not isinstance(page, list)
                    or isinstance(total, bool)
                    or not isinstance(total, int)
                ):
                    return SourceReport(FetchStatus.FAILED, detail="unexpected answer")
                records.extend(page)
                offset += len(page)
                if not page or offset >= total or offset >= self.max_records:
                    break
        return SourceReport(
            FetchStatus.COMPLETED, values=classify(records), detail=f"{len(records)} record(s)"
        )

"""Pre-fill: an application's answers fetched from government data sources.

When the candidate confirms its identity, one fetch per data source the market needs starts in
the background. Each fetch ends in one outcome; a global deadline marks the ones still running as
failed, so the candidate never waits forever. Whatever a source could not give (it failed, found
nothing, or is not configured) stays a manual input with a short French explanation.

The catalogue names each attribute's source (`Attribute.source`, e.g. ``insee``) and the field of
that source (`Attribute.source_field`, e.g. ``social_reason``). A data source adapter answers with
`SourceValue`s by field; `answer_value` turns one into the stored answer of an input type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from passemarche.domain.catalogue import InputType
from passemarche.domain.inputs import YEARS, format_date, format_euros


class FetchStatus(StrEnum):
    PENDING = "pending"  # waiting for its job
    RUNNING = "running"
    COMPLETED = "completed"  # the source answered; its values are stored
    NOT_FOUND = "not_found"  # the source knows nothing of this company
    FAILED = "failed"  # an error, a timeout, a refused document, or the global deadline
    UNAVAILABLE = "unavailable"  # not configured here, or our credentials were refused

    @property
    def is_finished(self) -> bool:
        return self not in (FetchStatus.PENDING, FetchStatus.RUNNING)


# The outcomes a data source reports (a fetch's final statuses).
OUTCOMES = frozenset(
    {FetchStatus.COMPLETED, FetchStatus.NOT_FOUND, FetchStatus.FAILED, FetchStatus.UNAVAILABLE}
)

# The catalogue's source names, in the order the status page lists them, with their French labels.
SOURCE_LABELS: dict[str, str] = {
    "insee": "INSEE — répertoire Sirene",
    "rne": "INPI — Registre national des entreprises",
    "bodacc": "BODACC — annonces de procédures collectives",
    "urssaf_attestation_vigilance": "URSSAF — attestation de vigilance",
    "attestations_fiscales": "DGFIP — attestation de régularité fiscale",
    "dgfip_chiffres_affaires": "DGFIP — chiffres d’affaires",
    "actes_bilans": "INPI — actes et bilans",
    "probtp": "PRO BTP — attestation de cotisations retraite",
    "cotisation_retraite": "CIBTP et CNETP — congés payés et chômage intempéries",
    "fntp": "FNTP — carte professionnelle de travaux publics",
    "qualibat": "Qualibat — certification bâtiment",
    "qualifelec": "Qualifelec — certificats",
    "rge": "ADEME — certificats RGE",
    "opqibi": "OPQIBI — certification ingénierie",
    "carif_oref": "Carif-Oref — Qualiopi et France compétences",
}

# Sources served by API Entreprise (bearer token); BODACC is open data.
API_ENTREPRISE_SOURCES = frozenset(SOURCE_LABELS) - {"bodacc"}


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


@dataclass(frozen=True)
class FetchedDocument:
    """A document a source gave, downloaded and checked (a PDF or an image by its content)."""

    file_name: str
    content: bytes


@dataclass(frozen=True)
class SourceValue:
    """One field of a source's answer, in the shape the input types need:

    - `text`: a single value (a name, an address, a URL);
    - `flag`: yes / no (ESS, a BODACC notice found);
    - `lines`: details printed as they are (notices, certifications);
    - `rows`: a table, e.g. turnover rows ``{"turnover": int, "fiscal_year_end": "YYYY-MM-DD"}``
      from the most recent fiscal year;
    - `documents`: attestations and certificates.
    """

    text: str | None = None
    flag: bool | None = None
    lines: tuple[str, ...] = ()
    rows: tuple[Mapping[str, Any], ...] = ()
    documents: tuple[FetchedDocument, ...] = ()


@dataclass(frozen=True)
class SourceReport:
    """What one data source answered for one company."""

    outcome: FetchStatus
    values: Mapping[str, SourceValue] = None  # type: ignore[assignment]  # field -> value
    detail: str | None = None  # for the logs (never shown to the candidate as is)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"not an outcome: {self.outcome}")
        if self.values is None:
            object.__setattr__(self, "values", {})


@dataclass(frozen=True)
class CompanyQuery:
    """Who is asked about, and on whose behalf (API Entreprise's mandatory parameters)."""

    siret: str
    recipient_siret: str  # the buyer's SIRET
    object: str  # why, e.g. "Réponse marché: <market name>"

    @property
    def siren(self) -> str:
        return self.siret[:9]


MAX_FETCH_RUNS = 3  # a failed source may be asked again twice: the APIs are not hammered


@dataclass(eq=False)
class SourceFetch:
    """One source's fetch for one application."""

    application_identifier: str
    source: str
    status: str
    created_at: datetime
    deadline: datetime
    finished_at: datetime | None = None
    filled: int = 0  # how many attributes it filled
    runs: int = 1  # 1, plus the candidate's « Relancer »

    @property
    def is_finished(self) -> bool:
        return FetchStatus(self.status).is_finished

    def start(self) -> bool:
        """Mark it running; False when it already ended (a job run twice, or too late)."""
        if self.is_finished:
            return False
        self.status = FetchStatus.RUNNING.value
        return True

    def finish(self, outcome: FetchStatus, now: datetime, filled: int = 0) -> None:
        self.status = outcome.value
        self.finished_at = now
        self.filled = filled

    @property
    def may_run_again(self) -> bool:
        return self.status == FetchStatus.FAILED.value and self.runs < MAX_FETCH_RUNS

    def run_again(self, now: datetime, deadline: datetime) -> bool:
        """A failed fetch asked again (a transient outage may be over). False when not allowed."""
        if not self.may_run_again:
            return False
        self.status = FetchStatus.PENDING.value
        self.created_at = now
        self.deadline = deadline
        self.finished_at = None
        self.filled = 0
        self.runs += 1
        return True

    def expire(self, now: datetime) -> bool:
        """Past the global deadline and still waiting: failed. True when it changed."""
        if self.is_finished or now < self.deadline:
            return False
        self.finish(FetchStatus.FAILED, now)
        return True


# Why an attribute became a manual input, by the status of its source (French, short).
MANUAL_REASONS: dict[FetchStatus, str] = {
    FetchStatus.COMPLETED: (
        "La source « {label} » n’a pas fourni cette information : renseignez-la."
    ),
    FetchStatus.NOT_FOUND: (
        "La source « {label} » n’a pas d’information sur votre entreprise : renseignez-la."
    ),
    FetchStatus.FAILED: (
        "La récupération automatique (source « {label} ») a échoué : renseignez cette information."
    ),
    FetchStatus.UNAVAILABLE: (
        "La récupération automatique (source « {label} ») n’est pas disponible sur ce service : "
        "renseignez cette information."
    ),
}


def manual_reason(source: str, status: FetchStatus) -> str | None:
    template = MANUAL_REASONS.get(status)
    return template.format(label=source_label(source)) if template else None


# --- a source's value as a stored answer --------------------------------------------------------


def answer_value(input_type: str, value: SourceValue) -> dict[str, Any] | None:
    """The stored answer (see `domain.inputs`) for a source's value; None when the value does not
    answer the attribute (nothing usable: the attribute stays a manual input). Documents are
    stored apart, as the answer's attached files."""
    kind = InputType(input_type)
    lines = list(value.lines)
    if kind in (InputType.TEXT, InputType.TEXTAREA, InputType.EMAIL, InputType.PHONE):
        text = (value.text or "").strip()
        return {"text": text, "lines": [text, *lines]} if text else None
    if kind is InputType.URL:
        url = (value.text or "").strip()
        return {"text": url, "lines": [url, *lines]} if url else None
    if kind is InputType.RADIO_WITH_FILE_AND_TEXT:
        if value.flag is None:
            return None
        choice = "oui" if value.flag else "non"
        return {
            "choice": choice,
            "text": "\n".join(lines),
            "lines": ["Oui" if value.flag else "Non", *lines],
        }
    if kind is InputType.TURNOVER_TABLE:
        return _turnover(value.rows)
    if kind in (
        InputType.FILE_UPLOAD,
        InputType.INLINE_FILE_UPLOAD,
        InputType.FILE_OR_TEXTAREA,
        InputType.CHECKBOX_WITH_DOCUMENT,
    ):
        if not value.documents and not lines:
            return None
        answer: dict[str, Any] = {"lines": lines}
        if kind is InputType.CHECKBOX_WITH_DOCUMENT:
            answer["checked"] = True
        if kind is InputType.FILE_OR_TEXTAREA:
            answer["text"] = "\n".join(lines)
        return answer
    return None  # tables of people, deliveries, samples: no source gives them


def _turnover(rows: tuple[Mapping[str, Any], ...]) -> dict[str, Any] | None:
    usable = [
        r
        for r in rows
        if isinstance(r.get("turnover"), int | float) and isinstance(r.get("fiscal_year_end"), str)
    ]
    usable.sort(key=lambda r: str(r["fiscal_year_end"]), reverse=True)
    if not usable:
        return None
    answer: dict[str, Any] = {}
    lines = []
    for year, row in zip(YEARS, usable[:3], strict=False):
        answer[year] = {
            "turnover": row["turnover"],
            "percentage": None,
            "fiscal_year_end": row["fiscal_year_end"],
        }
        lines.append(
            f"Exercice clos le {format_date(row['fiscal_year_end'])} : "
            f"{format_euros(row['turnover'])}"
        )
    for year in YEARS[len(usable[:3]) :]:
        answer[year] = {}
    answer["lines"] = lines
    return answer

"""API Entreprise answers → the catalogue's source fields (pure functions, no HTTP).

Each function takes the `data` member of an answer and returns the `SourceValue`s by field, or
the details of documents to download. A payload not shaped as documented raises `PayloadError`
(the adapter reports the source failed); a missing or null value simply leaves its field out.
Texts and lines are French: they are shown to the candidate and the buyer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from passemarche.domain.inputs import format_date
from passemarche.domain.prefill import SourceValue

MAX_TURNOVER_YEARS = 3
MAX_BILANS = 3

CATEGORIES = {
    "PME": "Petite ou moyenne entreprise (PME)",
    "ETI": "Entreprise de taille intermédiaire (ETI)",
    "GE": "Grande entreprise (GE)",
}
ESS_LINE = "L’entreprise relève de l’économie sociale et solidaire (source : INSEE)"
QUALIOPI_FLAGS = {
    "action_formation": "actions de formation",
    "bilan_competences": "bilans de compétences",
    "validation_acquis_experience": "actions de validation des acquis de l’expérience",
    "apprentissage": "actions de formation par apprentissage",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class PayloadError(ValueError):
    """The answer does not have the documented shape."""


@dataclass(frozen=True)
class DocumentLink:
    """A document to download: its URL, its file name without extension, the lines about it."""

    url: str
    base_name: str
    lines: tuple[str, ...] = ()


# --- small readers ------------------------------------------------------------------------------


def obj(value: Any, what: str = "data") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} is not an object")
    return value


def items(value: Any, what: str = "data") -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{what} is not a list")
    return value


def text(value: Any) -> str | None:
    """A non-empty string (numbers accepted), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        cleaned = " ".join(str(value).split())
        return cleaned or None
    return None


def child(value: Any, *keys: str) -> Any:
    """value[k1][k2]… or None when a step is missing or not an object."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def french_date(value: Any) -> str | None:
    """ "2023-12-31" → "31/12/2023"; other strings as they are; None when empty."""
    raw = text(value)
    if raw is None:
        return None
    return format_date(raw[:10]) if _ISO_DATE.match(raw) else raw


def _values(**fields: SourceValue | None) -> dict[str, SourceValue]:
    return {name: value for name, value in fields.items() if value is not None}


def _text_value(value: str | None, *lines: str | None) -> SourceValue | None:
    return SourceValue(text=value, lines=_lines(*lines)) if value else None


def _lines(*lines: str | None) -> tuple[str, ...]:
    return tuple(line for line in lines if line)


def _validity(start: Any, end: Any, prefix: str = "Valide") -> str | None:
    start_text, end_text = french_date(start), french_date(end)
    if start_text and end_text:
        return f"{prefix} du {start_text} au {end_text}"
    if end_text:
        return f"{prefix} jusqu’au {end_text}"
    if start_text:
        return f"{prefix} à partir du {start_text}"
    return None


# --- INSEE and INPI RNE -------------------------------------------------------------------------


def insee_values(data: Any) -> dict[str, SourceValue]:
    data = obj(data)
    siret = text(data.get("siret"))
    if siret is None:
        raise PayloadError("no siret in the INSEE answer")
    legal = obj(data.get("unite_legale") or {}, "unite_legale")
    category = text(legal.get("categorie_entreprise"))
    ess = legal.get("economie_sociale_et_solidaire")
    return _values(
        siret=SourceValue(text=siret),
        social_reason=_text_value(_social_reason(legal)),
        main_activity=_text_value(
            _activity(data.get("activite_principale"))
            or _activity(legal.get("activite_principale"))
        ),
        category=_text_value(CATEGORIES.get(category, category) if category else None),
        ess=(
            SourceValue(flag=ess, lines=(ESS_LINE,) if ess else ())
            if isinstance(ess, bool)
            else None
        ),
    )


def _social_reason(legal: Mapping[str, Any]) -> str | None:
    name = text(child(legal, "personne_morale_attributs", "raison_sociale"))
    if name:
        return name
    person = child(legal, "personne_physique_attributs")
    if not isinstance(person, Mapping):
        return None
    first = text(person.get("prenom_usuel")) or text(person.get("prenom_1"))
    last = text(person.get("nom_usage")) or text(person.get("nom_naissance"))
    return " ".join(part for part in (first, last) if part) or None


def _activity(activity: Any) -> str | None:
    label, code = text(child(activity, "libelle")), text(child(activity, "code"))
    if label and code:
        return f"{label} ({code})"
    return label or code


def rne_values(data: Any) -> dict[str, SourceValue]:
    data = obj(data)
    if "identite_entreprise" not in data and "dirigeants_et_associes" not in data:
        raise PayloadError("neither identite_entreprise nor dirigeants_et_associes")
    director = None
    people = data.get("dirigeants_et_associes") or []
    first = items(people, "dirigeants_et_associes")[0] if people else None
    if isinstance(first, Mapping):
        first_name = text(first.get("prenom"))
        last_name = text(first.get("nom"))
        name = " ".join(
            part
            for part in (
                first_name.title() if first_name else None,
                last_name.upper() if last_name else None,
            )
            if part
        ) or text(first.get("denomination"))
        quality = text(first.get("qualite"))
        director = _text_value(name, f"Qualité : {quality}" if quality else None)
    address = child(data, "identite_entreprise", "adresse_siege_social")
    return _values(
        first_name_last_name=director, head_office_address=_text_value(_address(address))
    )


def _address(address: Any) -> str | None:
    if not isinstance(address, Mapping):
        return None
    town = " ".join(
        part for part in (text(address.get("code_postal")), text(address.get("commune"))) if part
    )
    parts = (
        text(address.get("voie")),
        text(address.get("complement")),
        town,
        text(address.get("pays")),
    )
    return ", ".join(part for part in parts if part) or None


# --- attestations -------------------------------------------------------------------------------


def document_url(data: Any) -> str:
    url = text(obj(data).get("document_url"))
    if url is None:
        raise PayloadError("no document_url")
    return url


def urssaf_lines(data: Any) -> tuple[str, ...]:
    data = obj(data)
    return _lines(
        text(child(data, "entity_status", "libelle")),
        _validity(data.get("date_debut_validite"), data.get("date_fin_validite")),
    )


def dgfip_lines(data: Any) -> tuple[str, ...]:
    data = obj(data)
    delivered = french_date(data.get("date_delivrance_attestation"))
    period = french_date(data.get("date_periode_analysee"))
    return _lines(
        f"Attestation délivrée le {delivered}" if delivered else None,
        f"Situation analysée au {period}" if period else None,
    )


def turnover_rows(data: Any) -> tuple[dict[str, Any], ...]:
    """`{"turnover": int, "fiscal_year_end": "YYYY-MM-DD"}`, most recent first, at most 3."""
    rows: list[dict[str, Any]] = []
    for item in items(data):
        year = child(item, "data")
        amount = child(year, "chiffre_affaires")
        end = text(child(year, "date_fin_exercice"))
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not end:
            continue
        if not _ISO_DATE.match(end):
            continue
        rows.append({"turnover": round(amount), "fiscal_year_end": end[:10]})
    rows.sort(key=lambda row: str(row["fiscal_year_end"]), reverse=True)
    return tuple(rows[:MAX_TURNOVER_YEARS])


def bilan_links(data: Any, siren: str) -> list[DocumentLink]:
    """The most recent balance sheets first, at most 3."""
    bilans = [b for b in items(obj(data).get("bilans") or [], "bilans") if isinstance(b, Mapping)]
    bilans.sort(key=lambda b: text(b.get("date_cloture")) or "", reverse=True)
    links: list[DocumentLink] = []
    for bilan in bilans:
        url = text(bilan.get("url"))
        if not url:
            continue
        closed = text(bilan.get("date_cloture"))
        kind = text(bilan.get("type"))
        line = f"Bilan de l’exercice clos le {french_date(closed)}" if closed else "Bilan"
        links.append(
            DocumentLink(
                url,
                f"bilan_{siren}_{closed or len(links) + 1}",
                (f"{line} ({kind})" if kind else line,),
            )
        )
    return links[:MAX_BILANS]


# --- certificates -------------------------------------------------------------------------------


def qualibat_lines(data: Any) -> tuple[str, ...]:
    data = obj(data)
    lines = []
    for certification in items(child(data, "entity", "certifications") or [], "certifications"):
        label = text(child(certification, "libelle"))
        if not label:
            continue
        code = text(child(certification, "code"))
        given = french_date(child(certification, "date_attribution"))
        line = f"Qualification {code} : {label}" if code else f"Qualification : {label}"
        lines.append(f"{line} (attribuée le {given})" if given else line)
    issued = french_date(data.get("date_emission"))
    return _lines(
        *lines,
        f"Certificat émis le {issued}" if issued else None,
        _validity(None, data.get("date_fin_validite")),
    )


def qualifelec_links(data: Any, siren: str) -> list[DocumentLink]:
    links = []
    for number, item in enumerate(items(data), start=1):
        certificate = child(item, "data")
        url = text(child(certificate, "document_url"))
        if not url:
            continue
        label = text(child(certificate, "qualification", "label"))
        numero = text(child(certificate, "numero"))
        title = f"Certificat Qualifelec n° {numero}" if numero else "Certificat Qualifelec"
        lines = _lines(
            f"{title} : {label}" if label else title,
            _validity(child(certificate, "date_debut"), child(certificate, "date_fin")),
        )
        links.append(DocumentLink(url, f"certificat_qualifelec_{siren}_{number}", lines))
    return links


def rge_links(data: Any, siret: str) -> list[DocumentLink]:
    links = []
    for number, item in enumerate(items(data), start=1):
        certificate = child(item, "data")
        url = text(child(certificate, "url"))
        if not url:
            continue
        name = text(child(certificate, "nom_certificat")) or "Certificat RGE"
        details = [
            text(child(certificate, "domaine")),
            text(child(certificate, "organisme")),
        ]
        expiry = french_date(child(certificate, "date_expiration"))
        if expiry:
            details.append(f"valable jusqu’au {expiry}")
        line = " — ".join([name, *(d for d in details if d)])
        links.append(DocumentLink(url, f"certificat_rge_{siret}_{number}", (line,)))
    return links


def opqibi_values(data: Any) -> dict[str, SourceValue]:
    data = obj(data)
    delivered = french_date(data.get("date_delivrance_certificat"))
    validity = text(data.get("duree_validite_certificat"))
    valid_until = french_date(data.get("date_validite_qualifications"))
    qualifications = []
    for qualification in items(data.get("qualifications") or [], "qualifications"):
        name = text(child(qualification, "nom"))
        code = text(child(qualification, "code_qualification"))
        if name:
            qualifications.append(f"Qualification : {name} ({code})" if code else name)
    return _values(
        data=_text_value(
            text(data.get("url")),
            f"Certificat délivré le {delivered}" if delivered else None,
            f"Validité du certificat : {validity}" if validity else None,
            f"Qualifications valables jusqu’au {valid_until}" if valid_until else None,
            *qualifications,
        )
    )


def carif_oref_values(data: Any) -> dict[str, SourceValue]:
    data = obj(data)
    declarations = items(
        data.get("declarations_activites_etablissement") or [],
        "declarations_activites_etablissement",
    )
    habilitations = items(
        data.get("habilitations_france_competence") or [], "habilitations_france_competence"
    )
    return _values(
        qualiopi=_qualiopi(declarations[0] if declarations else None),
        france_competence=_france_competence(habilitations),
    )


def _qualiopi(declaration: Any) -> SourceValue | None:
    if not isinstance(declaration, Mapping):
        return None
    number = text(declaration.get("numero_de_declaration"))
    active = declaration.get("actif")
    last = french_date(declaration.get("date_derniere_declaration"))
    certification = declaration.get("certification_qualiopi")
    flags = (
        [label for key, label in QUALIOPI_FLAGS.items() if certification.get(key) is True]
        if isinstance(certification, Mapping)
        else []
    )
    specialities = []
    raw_specialities = declaration.get("specialites")
    if isinstance(raw_specialities, Mapping):
        for speciality in raw_specialities.values():
            label, code = text(child(speciality, "libelle")), text(child(speciality, "code"))
            if label:
                specialities.append(f"Spécialité : {label} ({code})" if code else label)
    lines = _lines(
        f"Déclaration d’activité n° {number}" if number else None,
        ("Déclaration active" if active else "Déclaration inactive")
        if isinstance(active, bool)
        else None,
        f"Dernière déclaration le {last}" if last else None,
        (
            "Certification Qualiopi pour : " + ", ".join(flags)
            if flags
            else "Aucune certification Qualiopi déclarée"
        )
        if isinstance(certification, Mapping)
        else None,
        "Certification obtenue au niveau de l’unité légale"
        if child(certification, "obtention_via_unite_legale") is True
        else None,
        *specialities,
    )
    return SourceValue(lines=lines) if lines else None


def _france_competence(habilitations: list[Any]) -> SourceValue | None:
    active = [h for h in habilitations if isinstance(h, Mapping) and h.get("actif") is True]
    if not active:
        return None
    habilitation = active[0]
    code = text(habilitation.get("code"))
    digits = "".join(ch for ch in code or "" if ch.isdigit())
    if not code or not digits:
        return None
    register = "rs" if code.upper().startswith("RS") else "rncp"
    since = french_date(habilitation.get("date_actif"))
    until = french_date(habilitation.get("date_fin_enregistrement"))
    decided = french_date(habilitation.get("date_decision"))
    return SourceValue(
        text=f"https://www.francecompetences.fr/recherche/{register}/{digits}/",
        lines=_lines(
            f"Habilitation {code}",
            f"Active depuis le {since}" if since else None,
            f"Enregistrement jusqu’au {until}" if until else None,
            f"Décision du {decided}" if decided else None,
            "Habilitation pour former"
            if habilitation.get("habilitation_pour_former") is True
            else None,
            "Habilitation pour organiser l’évaluation"
            if habilitation.get("habilitation_pour_organiser_l_evaluation") is True
            else None,
        ),
    )

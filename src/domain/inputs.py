"""A candidate's answer to one attribute: read from the posted form, checked, and turned into the
stored value (a JSON dict) with the lines of text the attestations print.

Form field names (what the templates in `candidate/_inputs.html` render):

- single-value types (text, textarea, email, phone, url): `<key>`;
- parts of an answer: `<key>.<part>`:
  - `<key>.files` — the file input of every file-capable type (files are stored apart: this module
    only sees how many are attached, `files_count`);
  - radio_with_file_and_text: `<key>.choice` ("oui" / "non"), `<key>.text`;
  - checkbox_with_document: `<key>.checked` ("oui" when ticked);
  - file_or_textarea, samples: `<key>.text`;
  - turnover_table: `<key>.year<N>.turnover`, `<key>.year<N>.percentage`,
    `<key>.year<N>.fiscal_year_end`, N = 1 (the last closed fiscal year), 2, 3 (older);
  - headcount_table: `<key>.year<N>.year`, `<key>.year<N>.average_staff`,
    `<key>.year<N>.management_staff`, N = 1 (the most recent year), 2, 3;
  - team_members: `<key>.rows.<i>.name`, `.role`, `.experience` (i = 0, 1, …);
  - past_deliveries: `<key>.rows.<i>.description`, `.client`, `.date`, `.amount`.

Stored values (`ParsedAnswer.value`) always hold `"lines"`, the human-readable French lines:

- text, textarea, email, phone, url, file_or_textarea, samples: `{"text": str}`;
- file_upload, inline_file_upload: `{}` (the documents are the answer);
- radio_with_file_and_text: `{"choice": "oui" | "non", "text": str}`;
- checkbox_with_document: `{"checked": bool}`;
- turnover_table: `{"year1": {"turnover": number, "percentage": number | None,
  "fiscal_year_end": "YYYY-MM-DD"}, "year2": …, "year3": …}` (a year left blank is `{}`);
- headcount_table: `{"year1": {"year": int, "average_staff": int, "management_staff": int | None},
  …}`;
- team_members: `{"rows": [{"name", "role", "experience"}]}`;
- past_deliveries: `{"rows": [{"description", "client", "date", "amount"}]}`, `date` being
  "YYYY", "YYYY-MM" or "YYYY-MM-DD" and `amount` a number or None.

Amounts are numbers of euros (an int when whole, else a float with two decimals). In the lines,
numbers are grouped by thousands and units are separated by a no-break space (U+00A0), as French
typography wants, e.g. "1 250 000 €".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from passemarche.domain.catalogue import InputType

NBSP = "\u00a0"
TEXT_MAX_LENGTH = 255
TEXTAREA_MAX_LENGTH = 10_000
ROW_TEXT_MAX_LENGTH = 1_000
URL_MAX_LENGTH = 2_000
MAX_ROWS = 50  # row indices above this are ignored
YEARS = ("year1", "year2", "year3")
MAX_AMOUNT = Decimal("1e15")
ACCEPTED_FORMATS = "pdf, doc, docx, odt, txt, xls, xlsx, ods, csv, jpg, jpeg, png"

TEAM_FIELDS = ("name", "role", "experience")
DELIVERY_FIELDS = ("description", "client", "date", "amount")
TURNOVER_FIELDS = ("turnover", "percentage", "fiscal_year_end")
HEADCOUNT_FIELDS = ("year", "average_staff", "management_staff")

YES, NO = "oui", "non"
FILE_TYPES = frozenset(
    {
        InputType.FILE_UPLOAD,
        InputType.INLINE_FILE_UPLOAD,
        InputType.RADIO_WITH_FILE_AND_TEXT,
        InputType.CHECKBOX_WITH_DOCUMENT,
        InputType.FILE_OR_TEXTAREA,
        InputType.TEAM_MEMBERS,
        InputType.PAST_DELIVERIES,
        InputType.SAMPLES,
    }
)


class Msg:
    """Every message a candidate may read, in one place."""

    REQUIRED_TEXT = "Renseignez ce champ."
    TEXT_TOO_LONG = "Ce texte est trop long : {max} caractères au maximum."
    EMAIL = "Indiquez une adresse électronique valide, par exemple nom@domaine.fr."
    EMAIL_REQUIRED = "Indiquez votre adresse électronique, par exemple nom@domaine.fr."
    PHONE = "Le numéro de téléphone doit comporter 10 chiffres, par exemple 01 23 45 67 89."
    PHONE_INTERNATIONAL = (
        "Indiquez un numéro français : 10 chiffres commençant par 0, "
        "ou +33 suivi de 9 chiffres, par exemple +33 1 23 45 67 89."
    )
    PHONE_REQUIRED = "Indiquez un numéro de téléphone, par exemple 01 23 45 67 89."
    URL = "Indiquez une adresse web valide, par exemple https://www.exemple.fr."
    URL_REQUIRED = "Indiquez une adresse web, par exemple https://www.exemple.fr."
    FILES_REQUIRED = "Joignez au moins un document."
    CHOICE_REQUIRED = "Répondez « Oui » ou « Non »."
    CHOICE_INVALID = "Choisissez « Oui » ou « Non »."
    YES_NEEDS_DETAILS = (
        "Vous avez répondu « Oui » : précisez votre situation ou joignez un document."
    )
    CHECKBOX_REQUIRED = "Cochez la case pour confirmer."
    CHECKBOX_NEEDS_DOCUMENT = "Vous avez coché la case : joignez le document justificatif."
    TEXT_OR_FILE = "Saisissez un texte ou joignez au moins un document."
    TURNOVER_REQUIRED = "Indiquez le chiffre d’affaires d’au moins un exercice."
    TURNOVER_MISSING = "Indiquez le chiffre d’affaires de cet exercice, en euros."
    AMOUNT = "Indiquez un montant en euros, par exemple 1 250 000 ou 1 250 000,50."
    AMOUNT_NEGATIVE = "Le montant ne peut pas être négatif."
    AMOUNT_ZERO = "Le montant doit être supérieur à zéro."
    PERCENTAGE = "Indiquez un pourcentage entre 0 et 100, par exemple 40."
    FISCAL_END_MISSING = "Indiquez la date de clôture de cet exercice, par exemple 31/12/2023."
    DATE = "Indiquez une date au format JJ/MM/AAAA, par exemple 31/12/2023."
    DATE_FUTURE = "La date ne peut pas être dans le futur."
    YEARS_ORDER = (
        "Les exercices vont du plus récent au plus ancien : cette date doit précéder "
        "celle de l’exercice au-dessus."
    )
    HEADCOUNT_REQUIRED = "Indiquez l’effectif moyen d’au moins une année."
    YEAR = "Indiquez une année sur 4 chiffres, entre 2000 et {current}."
    YEAR_MISSING = "Indiquez l’année de cet effectif, par exemple {example}."
    HEADCOUNT_ORDER = (
        "Les années vont de la plus récente à la plus ancienne : cette année doit précéder "
        "celle de la ligne au-dessus."
    )
    STAFF = "Indiquez un nombre entier de personnes, supérieur ou égal à 0."
    STAFF_MISSING = "Indiquez l’effectif moyen de cette année."
    TEAM_REQUIRED = "Présentez au moins un intervenant."
    NAME_MISSING = "Indiquez le nom de l’intervenant."
    CV_MISSING = (
        "Joignez un CV par intervenant : {rows} intervenant(s), {files} document(s) joint(s)."
    )
    DELIVERIES_REQUIRED = "Décrivez au moins une réalisation."
    DESCRIPTION_MISSING = "Décrivez la réalisation."
    DELIVERY_DATE = (
        "Indiquez une date au format JJ/MM/AAAA, un mois (MM/AAAA) ou une année (AAAA), "
        "par exemple 2023."
    )
    SAMPLES_REQUIRED = "Décrivez vos échantillons ou joignez au moins un document."


@dataclass(frozen=True)
class ParsedAnswer:
    """What the form said about one attribute.

    `value` is what gets stored (always with `"lines"`); store it only when `errors` is empty.
    `errors` maps form field names to French messages. `empty` means nothing was given (no text,
    no choice, no files). `drop_files` tells the caller to remove the answer's documents: the
    candidate answered "non" to a yes/no question, or unticked a checkbox with document.
    """

    value: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    empty: bool = False
    drop_files: bool = False


Form = Mapping[str, Sequence[str]]


def parse_answer(
    input_type: str,
    key: str,
    form: Form,
    *,
    required: bool,
    files_count: int,
    today: date,
) -> ParsedAnswer:
    """Reads the answer to the attribute `key` from the posted `form` (field name → values)."""
    try:
        kind = InputType(input_type)
    except ValueError:
        raise ValueError(f"unknown input type: {input_type!r}") from None
    reader = _Reader(key, form, required, max(files_count, 0), today)
    return _PARSERS[kind](reader)


def display_lines(input_type: str, value: Mapping[str, Any] | None) -> list[str]:
    """The lines to print for a stored value, e.g. one stored by a data source without lines."""
    try:
        kind = InputType(input_type)
    except ValueError:
        raise ValueError(f"unknown input type: {input_type!r}") from None
    value = value or {}
    lines = value.get("lines")
    if isinstance(lines, list):
        return [str(line) for line in lines]
    return _LINES[kind](value)


def form_values(input_type: str, key: str, value: Mapping[str, Any] | None) -> dict[str, str]:
    """A stored value as the flat form (field name → text) that would have produced it; the
    template accepts this as well as the stored value or the posted form."""
    kind = InputType(input_type)
    value = value or {}
    out: dict[str, str] = {}
    if kind in (
        InputType.TEXT,
        InputType.TEXTAREA,
        InputType.EMAIL,
        InputType.PHONE,
        InputType.URL,
    ):
        out[key] = str(value.get("text") or "")
    elif kind in (InputType.FILE_OR_TEXTAREA, InputType.SAMPLES):
        out[f"{key}.text"] = str(value.get("text") or "")
    elif kind is InputType.RADIO_WITH_FILE_AND_TEXT:
        out[f"{key}.choice"] = _choice_of(value) or ""
        out[f"{key}.text"] = str(value.get("text") or "")
    elif kind is InputType.CHECKBOX_WITH_DOCUMENT:
        if value.get("checked") is True:
            out[f"{key}.checked"] = YES
    elif kind in (InputType.TURNOVER_TABLE, InputType.HEADCOUNT_TABLE):
        names: tuple[str, ...] = (
            TURNOVER_FIELDS if kind is InputType.TURNOVER_TABLE else HEADCOUNT_FIELDS
        )
        for number, year in enumerate(YEARS, start=1):
            row = _year_row(value, number)
            for name in names:
                out[f"{key}.{year}.{name}"] = _form_text(row.get(name), name)
    elif kind in (InputType.TEAM_MEMBERS, InputType.PAST_DELIVERIES):
        names = TEAM_FIELDS if kind is InputType.TEAM_MEMBERS else DELIVERY_FIELDS
        for index, row in enumerate(_rows_of(value)):
            for name in names:
                out[f"{key}.rows.{index}.{name}"] = _form_text(row.get(name), name)
    return out


# --- reading the form -------------------------------------------------------------------------


@dataclass
class _Reader:
    key: str
    form: Form
    required: bool
    files_count: int
    today: date
    errors: dict[str, str] = field(default_factory=dict)

    def name(self, *parts: str) -> str:
        return ".".join((self.key, *parts))

    def raw(self, name: str) -> str:
        values = self.form.get(name)
        if values is None:
            return ""
        if isinstance(values, str):
            text = values
        else:
            text = next((v for v in values if isinstance(v, str) and v.strip()), "")
        return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def result(
        self, value: dict[str, Any], lines: list[str], empty: bool, **extra: Any
    ) -> ParsedAnswer:
        return ParsedAnswer(
            value={**value, "lines": lines}, errors=dict(self.errors), empty=empty, **extra
        )

    def text(self, name: str, max_length: int) -> str:
        text = self.raw(name)
        if len(text) > max_length:
            self.error(name, Msg.TEXT_TOO_LONG.format(max=_group(max_length)))
        return text

    def row_indices(self, prefix: str) -> list[int]:
        found: set[int] = set()
        pattern = re.compile(re.escape(prefix) + r"\.(\d{1,3})\.")
        for name in self.form:
            match = pattern.match(name)
            if match and int(match.group(1)) < MAX_ROWS:
                found.add(int(match.group(1)))
        return sorted(found)


def _text_lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def _single(
    reader: _Reader, max_length: int, check: Callable[[str], tuple[str | None, str | None]] | None
) -> tuple[str, bool]:
    name = reader.key
    text = reader.text(name, max_length)
    if text and check and name not in reader.errors:
        normalised, message = check(text)
        if message:
            reader.error(name, message)
        elif normalised is not None:
            text = normalised
    return text, not text


def _parse_text(reader: _Reader) -> ParsedAnswer:
    text, empty = _single(reader, TEXT_MAX_LENGTH, None)
    text = " ".join(text.split())  # one line
    if empty and reader.required:
        reader.error(reader.key, Msg.REQUIRED_TEXT)
    return reader.result({"text": text}, _text_lines(text), empty)


def _parse_textarea(reader: _Reader) -> ParsedAnswer:
    text, empty = _single(reader, TEXTAREA_MAX_LENGTH, None)
    if empty and reader.required:
        reader.error(reader.key, Msg.REQUIRED_TEXT)
    return reader.result({"text": text}, _text_lines(text), empty)


_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)


def normalise_email(text: str) -> str | None:
    """The address with its domain lower-cased, or None when it does not look like one."""
    text = text.strip()
    if len(text) > 254 or not _EMAIL.match(text):
        return None
    local, _, domain = text.rpartition("@")
    if len(local) > 64:
        return None
    return f"{local}@{domain.lower()}"


def _check_email(text: str) -> tuple[str | None, str | None]:
    normalised = normalise_email(text)
    return (normalised, None) if normalised else (None, Msg.EMAIL)


def _parse_email(reader: _Reader) -> ParsedAnswer:
    text, empty = _single(reader, TEXT_MAX_LENGTH, _check_email)
    if empty and reader.required:
        reader.error(reader.key, Msg.EMAIL_REQUIRED)
    return reader.result({"text": text}, _text_lines(text), empty)


def normalise_phone(text: str) -> str | None:
    """A French number as "+33 1 23 45 67 89", or None. Accepted: 10 digits starting with 0, or
    +33 (or 0033) followed by 9 digits, the first not 0 ("+33 (0)1…" too); spaces, dots and
    dashes may separate the digits."""
    compact = re.sub(r"[\s.\-\u00a0\u202f]", "", text)
    compact = compact.replace("(0)", "")
    if compact.startswith("0033"):
        compact = "+33" + compact[4:]
    if re.fullmatch(r"0[1-9]\d{8}", compact):
        national = compact[1:]
    elif re.fullmatch(r"\+33[1-9]\d{8}", compact):
        national = compact[3:]
    else:
        return None
    pairs = " ".join(national[i : i + 2] for i in range(1, 9, 2))
    return f"+33 {national[0]} {pairs}"


def _check_phone(text: str) -> tuple[str | None, str | None]:
    normalised = normalise_phone(text)
    if normalised:
        return normalised, None
    if text.lstrip().startswith("+") or text.lstrip().startswith("00"):
        return None, Msg.PHONE_INTERNATIONAL
    return None, Msg.PHONE


def _parse_phone(reader: _Reader) -> ParsedAnswer:
    text, empty = _single(reader, TEXT_MAX_LENGTH, _check_phone)
    if empty and reader.required:
        reader.error(reader.key, Msg.PHONE_REQUIRED)
    return reader.result({"text": text}, _text_lines(text), empty)


_HOST = re.compile(
    r"^(?:[A-Za-z0-9\u00c0-\uffff](?:[A-Za-z0-9\u00c0-\uffff-]{0,61}[A-Za-z0-9\u00c0-\uffff])?\.)+"
    r"[A-Za-z\u00c0-\uffff]{2,63}$|^localhost$"
)


def normalise_url(text: str) -> str | None:
    """An http(s) address with a host, "https://" added when no scheme was typed (as the
    reference does), or None."""
    text = text.strip()
    if not text or any(c.isspace() for c in text) or len(text) > URL_MAX_LENGTH:
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if match:
        if match.group(1).lower() not in ("http", "https"):
            return None
        scheme, rest = match.group(1).lower(), text[match.end() :]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text) and not re.match(r"^[^:/]+:\d", text):
        return None  # another scheme (mailto:, javascript:…)
    else:
        scheme, rest = "https", text
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    path = rest[len(authority) :]
    if "@" in authority:
        return None
    host, _, port = authority.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return None
    if not _HOST.match(host):
        return None
    return f"{scheme}://{host.lower()}{':' + port if port else ''}{path}"


def _check_url(text: str) -> tuple[str | None, str | None]:
    normalised = normalise_url(text)
    return (normalised, None) if normalised else (None, Msg.URL)


def _parse_url(reader: _Reader) -> ParsedAnswer:
    text, empty = _single(reader, URL_MAX_LENGTH, _check_url)
    if empty and reader.required:
        reader.error(reader.key, Msg.URL_REQUIRED)
    return reader.result({"text": text}, _text_lines(text), empty)


def _parse_files(reader: _Reader) -> ParsedAnswer:
    empty = reader.files_count == 0
    if empty and reader.required:
        reader.error(reader.name("files"), Msg.FILES_REQUIRED)
    return reader.result({}, [], empty)


def _parse_radio(reader: _Reader) -> ParsedAnswer:
    """ "non" needs nothing more (its text is dropped and its documents should be removed, as the
    reference does). "oui" needs an explanation or at least one document: the reference only
    allows them, but a bare "oui" to an exclusion question tells the buyer nothing."""
    choice_name, text_name = reader.name("choice"), reader.name("text")
    choice = reader.raw(choice_name).lower()
    text = reader.text(text_name, TEXTAREA_MAX_LENGTH)
    if choice not in ("", YES, NO):
        reader.error(choice_name, Msg.CHOICE_INVALID)
        choice = ""
    empty = not choice
    if empty and reader.required:
        reader.error(choice_name, Msg.CHOICE_REQUIRED)
    if choice == YES and not text and reader.files_count == 0:
        reader.error(text_name, Msg.YES_NEEDS_DETAILS)
    if choice == NO:
        text = ""
    value = {"choice": choice, "text": text} if choice else {}
    return reader.result(
        value, _radio_lines(value), empty, drop_files=choice == NO and reader.files_count > 0
    )


def _choice_of(value: Mapping[str, Any]) -> str | None:
    choice = value.get("choice", value.get("radio_choice"))
    return {"oui": YES, "yes": YES, "non": NO, "no": NO}.get(str(choice).lower())


def _radio_lines(value: Mapping[str, Any]) -> list[str]:
    choice = _choice_of(value)
    if choice is None:
        return []
    lines = ["Oui" if choice == YES else "Non"]
    text = str(value.get("text") or "").strip()
    if text and choice == YES:
        first, *rest = text.split("\n")
        lines += [f"Précisions{NBSP}: {first}", *rest]
    return lines


def _parse_checkbox(reader: _Reader) -> ParsedAnswer:
    name = reader.name("checked")
    checked = reader.raw(name).lower() in (YES, "true", "on", "1")
    if not checked and reader.required:
        reader.error(name, Msg.CHECKBOX_REQUIRED)
    if checked and reader.files_count == 0:
        reader.error(reader.name("files"), Msg.CHECKBOX_NEEDS_DOCUMENT)
    value = {"checked": checked}
    return reader.result(
        value,
        _checkbox_lines(value),
        not checked,
        drop_files=not checked and reader.files_count > 0,
    )


def _checkbox_lines(value: Mapping[str, Any]) -> list[str]:
    return ["Oui"] if value.get("checked") is True else []


def _parse_file_or_textarea(reader: _Reader) -> ParsedAnswer:
    name = reader.name("text")
    text = reader.text(name, TEXTAREA_MAX_LENGTH)
    empty = not text and reader.files_count == 0
    if empty and reader.required:
        reader.error(name, Msg.TEXT_OR_FILE)
    return reader.result({"text": text}, _text_lines(text), empty)


def _parse_samples(reader: _Reader) -> ParsedAnswer:
    name = reader.name("text")
    text = reader.text(name, TEXTAREA_MAX_LENGTH)
    empty = not text and reader.files_count == 0
    if empty and reader.required:
        reader.error(name, Msg.SAMPLES_REQUIRED)
    return reader.result({"text": text}, _text_lines(text), empty)


# --- numbers and dates ------------------------------------------------------------------------


def parse_decimal(text: str, *, unit: str = "€") -> Decimal:
    """A French-typed number: "1 250 000,50", "1250000.50", "1.250.000,50", "1 250 000 €".
    Raises ValueError. Negative numbers are returned (callers refuse them with their message)."""
    compact = re.sub(r"[\s\u00a0\u202f\u2009']", "", text)
    compact = compact.replace(unit, "")
    if unit == "€":
        compact = re.sub(r"(?i)euros?$|eur$", "", compact)
    sign = ""
    if compact[:1] in "+-" and compact:
        sign, compact = ("-" if compact[0] == "-" else ""), compact[1:]
    if not compact or not re.fullmatch(r"[0-9.,]+", compact):
        raise ValueError(text)
    commas, dots = compact.count(","), compact.count(".")
    if commas and dots:
        decimal_sep = "," if compact.rfind(",") > compact.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        integer, _, fraction = compact.rpartition(decimal_sep)
        if thousands in fraction or compact.count(decimal_sep) > 1:
            raise ValueError(text)
        integer = _ungroup(integer, thousands)
    elif commas > 1 or dots > 1:
        separator = "," if commas else "."
        integer, fraction = _ungroup(compact, separator), ""
    elif commas or dots:
        separator = "," if commas else "."
        integer, _, fraction = compact.partition(separator)
        if separator == "." and len(fraction) == 3 and integer and integer != "0":
            integer, fraction = integer + fraction, ""  # "12.500" is twelve thousand five hundred
    else:
        integer, fraction = compact, ""
    if not integer:
        integer = "0"
    if not integer.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(text)
    if len(fraction) > 2:
        raise ValueError(text)
    try:
        number = Decimal(f"{sign}{integer}.{fraction or '0'}")
    except InvalidOperation:
        raise ValueError(text) from None
    if abs(number) >= MAX_AMOUNT:
        raise ValueError(text)
    return number


def _ungroup(text: str, separator: str) -> str:
    groups = text.split(separator)
    if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
        raise ValueError(text)
    return "".join(groups)


def json_number(number: Decimal) -> int | float:
    number = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(number) if number == number.to_integral_value() else float(number)


def _group(number: int) -> str:
    return f"{number:,}".replace(",", NBSP)


def format_number(number: Any) -> str:
    """French display: "1 250 000", "1 250 000,5" → "1 250 000,50" (no-break spaces)."""
    value = Decimal(str(number)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    value = abs(value)
    integer = int(value)
    cents = int((value - integer) * 100)
    text = _group(integer)
    return f"{sign}{text},{cents:02d}" if cents else f"{sign}{text}"


def format_euros(number: Any) -> str:
    return f"{format_number(number)}{NBSP}€"


def format_percentage(number: Any) -> str:
    return f"{format_number(number)}{NBSP}%"


def parse_date(text: str) -> date:
    """dd/mm/yyyy (also with - or .), or ISO yyyy-mm-dd. Raises ValueError."""
    text = text.strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})", text)
        if not match:
            raise ValueError(text)
        day, month, year = (int(g) for g in match.groups())
    return date(year, month, day)


def format_date(iso: str) -> str:
    """ "2023-12-31" → "31/12/2023", "2023-05" → "05/2023", "2023" → "2023"."""
    parts = str(iso).split("-")
    return "/".join(reversed(parts))


# --- tables ---------------------------------------------------------------------------------


def _year_row(value: Mapping[str, Any], number: int) -> Mapping[str, Any]:
    row = value.get(f"year{number}", value.get(f"year_{number}"))
    return row if isinstance(row, Mapping) else {}


def _form_text(item: Any, name: str) -> str:
    if item is None:
        return ""
    if name in ("fiscal_year_end", "date") and isinstance(item, str):
        return format_date(item)
    if isinstance(item, bool):
        return ""
    if isinstance(item, int | float | Decimal):
        return format_number(item).replace(NBSP, " ")
    return str(item)


def _parse_amount(reader: _Reader, name: str, *, positive: bool = False) -> Decimal | None:
    text = reader.raw(name)
    if not text:
        return None
    try:
        number = parse_decimal(text)
    except ValueError:
        reader.error(name, Msg.AMOUNT)
        return None
    if number < 0:
        reader.error(name, Msg.AMOUNT_NEGATIVE)
        return None
    if positive and number == 0:
        reader.error(name, Msg.AMOUNT_ZERO)
        return None
    return number


def _parse_turnover(reader: _Reader) -> ParsedAnswer:
    value: dict[str, Any] = {}
    previous_end: date | None = None
    any_given = False
    for year in YEARS:
        names = {part: reader.name(year, part) for part in TURNOVER_FIELDS}
        given = {part: reader.raw(name) for part, name in names.items()}
        if not any(given.values()):
            value[year] = {}
            continue
        any_given = True
        turnover = _parse_amount(reader, names["turnover"])
        if not given["turnover"]:
            reader.error(names["turnover"], Msg.TURNOVER_MISSING)
        percentage = None
        if given["percentage"]:
            try:
                percentage = parse_decimal(given["percentage"], unit="%")
            except ValueError:
                percentage = None
            if percentage is None or not Decimal(0) <= percentage <= Decimal(100):
                reader.error(names["percentage"], Msg.PERCENTAGE)
                percentage = None
        end: date | None = None
        if not given["fiscal_year_end"]:
            reader.error(names["fiscal_year_end"], Msg.FISCAL_END_MISSING)
        else:
            try:
                end = parse_date(given["fiscal_year_end"])
            except ValueError:
                reader.error(names["fiscal_year_end"], Msg.DATE)
            if end and end > reader.today:
                reader.error(names["fiscal_year_end"], Msg.DATE_FUTURE)
            elif end and previous_end and end >= previous_end:
                reader.error(names["fiscal_year_end"], Msg.YEARS_ORDER)
        if end:
            previous_end = end
        value[year] = {
            "turnover": json_number(turnover) if turnover is not None else None,
            "percentage": json_number(percentage) if percentage is not None else None,
            "fiscal_year_end": end.isoformat() if end else None,
        }
    if not any_given and reader.required:
        reader.error(reader.name("year1", "turnover"), Msg.TURNOVER_REQUIRED)
    return reader.result(value, _turnover_lines(value), not any_given)


def _turnover_lines(value: Mapping[str, Any]) -> list[str]:
    lines = []
    for number in (1, 2, 3):
        row = _year_row(value, number)
        turnover = row.get("turnover")
        percentage = row.get("percentage", row.get("market_percentage"))
        end = row.get("fiscal_year_end")
        if turnover is None and percentage is None and not end:
            continue
        year = f" {str(end)[:4]}" if end else ""
        amount = format_euros(turnover) if turnover is not None else "non renseigné"
        line = f"Chiffre d’affaires{year}{NBSP}: {amount}"
        if percentage is not None:
            line += f" (dont {format_percentage(percentage)} dans le domaine du marché)"
        if end:
            line += f", exercice clos le {format_date(str(end))}"
        lines.append(line)
    return lines


def _parse_int(reader: _Reader, name: str, message: str) -> int | None:
    text = re.sub(r"[\s\u00a0\u202f]", "", reader.raw(name))
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        reader.error(name, message)
        return None
    return int(text)


def _parse_headcount(reader: _Reader) -> ParsedAnswer:
    value: dict[str, Any] = {}
    previous_year: int | None = None
    any_given = False
    current = reader.today.year
    for year_key in YEARS:
        names = {part: reader.name(year_key, part) for part in HEADCOUNT_FIELDS}
        given = {part: reader.raw(name) for part, name in names.items()}
        if not any(given.values()):
            value[year_key] = {}
            continue
        any_given = True
        year = _parse_int(reader, names["year"], Msg.YEAR.format(current=current))
        if not given["year"]:
            reader.error(names["year"], Msg.YEAR_MISSING.format(example=current - 1))
        elif year is not None and not 2000 <= year <= current:
            reader.error(names["year"], Msg.YEAR.format(current=current))
            year = None
        elif year is not None and previous_year is not None and year >= previous_year:
            reader.error(names["year"], Msg.HEADCOUNT_ORDER)
        if year is not None:
            previous_year = year
        average = _parse_int(reader, names["average_staff"], Msg.STAFF)
        if not given["average_staff"]:
            reader.error(names["average_staff"], Msg.STAFF_MISSING)
        management = _parse_int(reader, names["management_staff"], Msg.STAFF)
        value[year_key] = {"year": year, "average_staff": average, "management_staff": management}
    if not any_given and reader.required:
        reader.error(reader.name("year1", "year"), Msg.HEADCOUNT_REQUIRED)
    return reader.result(value, _headcount_lines(value), not any_given)


def _people(count: int) -> str:
    return f"{_group(count)} personne{'s' if count > 1 else ''}"


def _headcount_lines(value: Mapping[str, Any]) -> list[str]:
    lines = []
    for number in (1, 2, 3):
        row = _year_row(value, number)
        average = row.get("average_staff")
        management = row.get("management_staff")
        year = row.get("year")
        if average is None and year is None:
            continue
        label = f"Effectif moyen {year}" if year else "Effectif moyen"
        line = f"{label}{NBSP}: {_people(int(average)) if average is not None else 'non renseigné'}"
        if management is not None:
            line += f", dont {_group(int(management))} d’encadrement"
        lines.append(line)
    return lines


def _rows_of(value: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = value.get("rows")
    if isinstance(rows, list):
        return [r for r in rows if isinstance(r, Mapping)]
    items = value.get("items")  # the reference's shape: {timestamp: item}
    if isinstance(items, Mapping):
        return [items[k] for k in sorted(items) if isinstance(items[k], Mapping)]
    return []


def _parse_team(reader: _Reader) -> ParsedAnswer:
    """Rows without any text are dropped. One CV per row is expected: `files_count` counts the
    documents of the whole answer, and must be at least the number of rows."""
    prefix = reader.name("rows")
    rows = []
    for index in reader.row_indices(prefix):
        names = {part: f"{prefix}.{index}.{part}" for part in TEAM_FIELDS}
        row = {
            "name": " ".join(reader.text(names["name"], TEXT_MAX_LENGTH).split()),
            "role": " ".join(reader.text(names["role"], TEXT_MAX_LENGTH).split()),
            "experience": reader.text(names["experience"], ROW_TEXT_MAX_LENGTH),
        }
        if not any(row.values()):
            continue
        if not row["name"]:
            reader.error(names["name"], Msg.NAME_MISSING)
        rows.append(row)
    empty = not rows and reader.files_count == 0
    if not rows and reader.required:
        reader.error(f"{prefix}.0.name", Msg.TEAM_REQUIRED)
    if rows and reader.files_count < len(rows):
        reader.error(
            reader.name("files"), Msg.CV_MISSING.format(rows=len(rows), files=reader.files_count)
        )
    value = {"rows": rows}
    return reader.result(value, _team_lines(value), empty)


def _team_lines(value: Mapping[str, Any]) -> list[str]:
    lines = []
    for row in _rows_of(value):
        name = (
            row.get("name") or " ".join(str(row.get(k) or "") for k in ("prenoms", "nom")).strip()
        )
        role = row.get("role") or row.get("titres") or ""
        experience = str(row.get("experience") or "").replace("\n", " ")
        parts = [str(name or "Intervenant")]
        if role:
            parts.append(str(role))
        if experience:
            parts.append(f"expérience{NBSP}: {experience}")
        lines.append(" – ".join(parts))
    return lines


def _parse_delivery_date(reader: _Reader, name: str) -> str | None:
    text = reader.raw(name)
    if not text:
        return None
    today = reader.today
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        if not 1900 <= year:
            reader.error(name, Msg.DELIVERY_DATE)
            return None
        if year > today.year:
            reader.error(name, Msg.DATE_FUTURE)
            return None
        return text
    match = re.fullmatch(r"(\d{1,2})[/.\-](\d{4})", text) or re.fullmatch(
        r"(\d{4})-(\d{1,2})", text
    )
    if match:
        a, b = match.groups()
        year, month = (int(b), int(a)) if len(b) == 4 else (int(a), int(b))
        if not 1 <= month <= 12 or year < 1900:
            reader.error(name, Msg.DELIVERY_DATE)
            return None
        if (year, month) > (today.year, today.month):
            reader.error(name, Msg.DATE_FUTURE)
            return None
        return f"{year:04d}-{month:02d}"
    try:
        day = parse_date(text)
    except ValueError:
        reader.error(name, Msg.DELIVERY_DATE)
        return None
    if day > today:
        reader.error(name, Msg.DATE_FUTURE)
        return None
    return day.isoformat()


def _parse_deliveries(reader: _Reader) -> ParsedAnswer:
    """Rows without any text are dropped; a row needs a description. Proof files are optional."""
    prefix = reader.name("rows")
    rows = []
    for index in reader.row_indices(prefix):
        names = {part: f"{prefix}.{index}.{part}" for part in DELIVERY_FIELDS}
        if not any(reader.raw(n) for n in names.values()):
            continue
        description = reader.text(names["description"], ROW_TEXT_MAX_LENGTH)
        if not description:
            reader.error(names["description"], Msg.DESCRIPTION_MISSING)
        amount = _parse_amount(reader, names["amount"], positive=True)
        rows.append(
            {
                "description": description,
                "client": " ".join(reader.text(names["client"], TEXT_MAX_LENGTH).split()),
                "date": _parse_delivery_date(reader, names["date"]),
                "amount": json_number(amount) if amount is not None else None,
            }
        )
    empty = not rows and reader.files_count == 0
    if not rows and reader.required:
        reader.error(f"{prefix}.0.description", Msg.DELIVERIES_REQUIRED)
    value = {"rows": rows}
    return reader.result(value, _delivery_lines(value), empty)


def _delivery_lines(value: Mapping[str, Any]) -> list[str]:
    lines = []
    for row in _rows_of(value):
        description = str(row.get("description") or row.get("resume") or "").replace("\n", " ")
        parts = [description or "Réalisation"]
        if row.get("client"):
            parts.append(f"client{NBSP}: {row['client']}")
        when = row.get("date") or row.get("date_fin") or row.get("date_debut")
        if when:
            parts.append(f"date{NBSP}: {format_date(str(when))}")
        amount = row.get("amount", row.get("montant"))
        if amount is not None:
            parts.append(f"montant{NBSP}: {format_euros(amount)}")
        lines.append(" – ".join(parts))
    return lines


def _plain_lines(value: Mapping[str, Any]) -> list[str]:
    return _text_lines(str(value.get("text") or "").strip())


_PARSERS: dict[InputType, Callable[[_Reader], ParsedAnswer]] = {
    InputType.TEXT: _parse_text,
    InputType.TEXTAREA: _parse_textarea,
    InputType.EMAIL: _parse_email,
    InputType.PHONE: _parse_phone,
    InputType.URL: _parse_url,
    InputType.FILE_UPLOAD: _parse_files,
    InputType.INLINE_FILE_UPLOAD: _parse_files,
    InputType.RADIO_WITH_FILE_AND_TEXT: _parse_radio,
    InputType.CHECKBOX_WITH_DOCUMENT: _parse_checkbox,
    InputType.FILE_OR_TEXTAREA: _parse_file_or_textarea,
    InputType.TURNOVER_TABLE: _parse_turnover,
    InputType.HEADCOUNT_TABLE: _parse_headcount,
    InputType.TEAM_MEMBERS: _parse_team,
    InputType.PAST_DELIVERIES: _parse_deliveries,
    InputType.SAMPLES: _parse_samples,
}

_LINES: dict[InputType, Callable[[Mapping[str, Any]], list[str]]] = {
    InputType.TEXT: _plain_lines,
    InputType.TEXTAREA: _plain_lines,
    InputType.EMAIL: _plain_lines,
    InputType.PHONE: _plain_lines,
    InputType.URL: _plain_lines,
    InputType.FILE_UPLOAD: lambda value: [],
    InputType.INLINE_FILE_UPLOAD: lambda value: [],
    InputType.RADIO_WITH_FILE_AND_TEXT: _radio_lines,
    InputType.CHECKBOX_WITH_DOCUMENT: _checkbox_lines,
    InputType.FILE_OR_TEXTAREA: _plain_lines,
    InputType.TURNOVER_TABLE: _turnover_lines,
    InputType.HEADCOUNT_TABLE: _headcount_lines,
    InputType.TEAM_MEMBERS: _team_lines,
    InputType.PAST_DELIVERIES: _delivery_lines,
    InputType.SAMPLES: _plain_lines,
}

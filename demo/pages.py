"""The buyer's and the candidate's pages driven headless, with plain HTTP: no browser.

Each step page holds one form that posts to the page itself, with a hidden `csrf_token`. The
drivers read that form with the standard library's HTML parser, fill the inputs it has (whatever
the step: the candidate's steps depend on what the buyer asked, and pre-filled answers have no
inputs), post it, and follow the redirect to the next step until the confirmation page. A
pre-fill step (`…/prefill`) is waited for through its JSON status endpoint, then continued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from passemarche.sandbox.api_entreprise import tiny_pdf

MAX_STEPS = 60
PREFILL_TIMEOUT = 120.0
DEMO_SIRET = "13002526500013"


class PageFlowError(RuntimeError):
    """A page did not answer as expected; the message says which and why."""


@dataclass
class Field:
    tag: str
    name: str
    type: str
    value: str
    checked: bool = False
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: list[Field] = field(default_factory=list)


class _FormParser(HTMLParser):
    """Collects the forms of a page, their fields, and the error messages shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.errors: list[str] = []
        self._form: Form | None = None
        self._textarea: Field | None = None
        self._in_error = False
        self._error_text: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {key: value or "" for key, value in attrs_list}
        classes = attrs.get("class", "").split()
        if "fr-message--error" in classes or "fr-error-text" in classes:
            self._in_error, self._error_text = True, []
        if tag == "form":
            self._form = Form(
                action=attrs.get("action", ""),
                method=attrs.get("method", "get").lower(),
                enctype=attrs.get("enctype", ""),
            )
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and "name" in attrs:
            kind = attrs.get("type", "text").lower() if tag == "input" else tag
            if kind in ("submit", "button", "reset", "image") or "disabled" in attrs:
                return
            item = Field(
                tag, attrs["name"], kind, attrs.get("value", ""), "checked" in attrs, attrs
            )
            self._form.fields.append(item)
            if tag == "textarea":
                self._textarea = item

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._in_error:
            self._error_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif self._in_error and tag in ("p", "div", "span"):
            text = " ".join("".join(self._error_text).split())
            if text:
                self.errors.append(text)
            self._in_error = False


def parse_page(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser


def step_form(url: str, html: str) -> Form | None:
    """The form that posts to the page itself (other forms, e.g. "resend the webhook", are
    not steps)."""
    path = urlsplit(url).path
    for form in parse_page(html).forms:
        if form.method == "post" and urlsplit(urljoin(url, form.action or url)).path == path:
            return form
    return None


def small_pdf(text: str = "Document de démonstration") -> bytes:
    """A valid one-page PDF (the service checks uploads by content)."""
    return tiny_pdf(text)


# --- What to type ------------------------------------------------------------------------

_LAST_YEAR = date.today().year - 1
# The last part of a field name → a value the candidate's forms accept (see the service's
# src/domain/inputs.py for the formats).
_PART_VALUES = {
    "siret": DEMO_SIRET,
    "company_name": "Démo Informatique SAS",
    "turnover": "1250000",
    "percentage": "40",
    "fiscal_year_end": f"31/12/{_LAST_YEAR}",
    "year": str(_LAST_YEAR),
    "average_staff": "12",
    "management_staff": "3",
    "name": "Camille Martin",
    "role": "Cheffe de projet",
    "experience": "Ingénieure, 10 ans d'expérience",
    "description": "Fourniture et installation de 200 postes de travail",
    "client": "Ville de Démo",
    "date": str(_LAST_YEAR),
    "amount": "150000",
    "text": "Réponse de démonstration.",
}


def candidate_text(item: Field) -> str:
    """The value typed in an empty text input or textarea of a candidate's step."""
    name = item.name
    # Repeatable rows and yearly tables: the first row is enough.
    if ".rows." in name and ".rows.0." not in name:
        return ""
    if any(f".year{n}." in name for n in (2, 3)):
        return ""
    part = name.rsplit(".", 1)[-1]
    if part in _PART_VALUES:
        return _PART_VALUES[part]
    if item.type == "email" or item.attrs.get("autocomplete") == "email":
        return "contact@demo-informatique.fr"
    if item.type == "tel" or item.attrs.get("autocomplete") == "tel":
        return "01 23 45 67 89"
    if item.attrs.get("inputmode") == "url" or item.attrs.get("autocomplete") == "url":
        return "https://www.demo-informatique.fr"
    if item.attrs.get("inputmode") in ("numeric", "decimal") or item.type == "number":
        return "1"
    return "Réponse de démonstration."


Filler = Callable[[Form], tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]]


def fill_candidate_form(
    form: Form,
) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
    """Form fields and files for one candidate step: every input present gets a value."""
    data: list[tuple[str, str]] = []
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    radios: dict[str, list[Field]] = {}
    first_box: dict[str, bool] = {}
    for item in form.fields:
        if item.type == "hidden":
            data.append((item.name, item.value))
        elif item.type == "file":
            files.append((item.name, ("justificatif.pdf", small_pdf(item.name), "application/pdf")))
        elif item.type == "radio":
            radios.setdefault(item.name, []).append(item)
        elif item.type == "checkbox":
            # One lot is enough (a lot limit may apply); other boxes are declarations: tick them.
            if item.name == "lots" and first_box.get(item.name):
                continue
            first_box[item.name] = True
            data.append((item.name, item.value or "on"))
        elif item.tag == "select":
            data.append((item.name, item.value))
        else:
            data.append((item.name, item.value.strip() or candidate_text(item)))
    for name, options in radios.items():
        values = [o.value for o in options]
        # "non" to yes/no questions: no details or documents are needed then.
        data.append((name, "non" if "non" in values else values[0]))
    return data, files


def buyer_filler(ask_everything: bool = False) -> Filler:
    """How the buyer answers: by default only what is mandatory ("non" to every optional
    choice); `ask_everything` ticks every optional attribute, so that the candidate meets every
    input type (tables, uploads…). No lot limit, no defence either way."""

    def fill(form: Form) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
        data: list[tuple[str, str]] = []
        keys = [item.value for item in form.fields if item.name == "keys"]
        answer = "oui" if ask_everything and keys else "non"
        seen_radios: set[str] = set()
        for item in form.fields:
            if item.type == "hidden":
                data.append((item.name, item.value))
            elif item.type == "radio" and item.name not in seen_radios:
                values = [f.value for f in form.fields if f.name == item.name]
                if answer in values:
                    seen_radios.add(item.name)
                    data.append((item.name, answer))
            elif item.name == "keys" and answer == "oui":
                data.append((item.name, item.value))
            elif item.name == "lot_limit":
                data.append((item.name, ""))
        return data, []

    return fill


# --- Walking the pages -------------------------------------------------------------------


@dataclass
class StepLog:
    url: str
    status: int
    seconds: float


class PageWalker:
    """Follows one capability link through its steps until a page with `done_marker` in its
    path. `on_step(path, seconds)` is called after each step (the demo prints them)."""

    def __init__(
        self,
        filler: Filler,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        on_step: Callable[[str, float], None] | None = None,
        prefill_timeout: float = PREFILL_TIMEOUT,
    ) -> None:
        self.session = session or requests.Session()
        self.filler = filler
        self.timeout = timeout
        self.on_step = on_step or (lambda path, seconds: None)
        self.prefill_timeout = prefill_timeout
        self.steps: list[StepLog] = []

    def walk(self, link: str, done_marker: str = "/confirmation") -> str:
        """Opens `link` (its token opens the session) and submits every step; returns the HTML
        of the final page."""
        response = self._get(link)
        for _ in range(MAX_STEPS):
            url = response.url
            path = urlsplit(url).path
            if path.endswith(done_marker):
                return response.text
            if path.endswith("/prefill"):
                self._wait_for_prefill(url)
                response = self._get(url)
            started = time.monotonic()
            form = step_form(url, response.text)
            if form is None:
                raise PageFlowError(f"{path}: no form posting to the page ({response.status_code})")
            data, files = self.filler(form)
            posted = self.session.post(
                urljoin(url, form.action or url),
                data=data,
                files=files or None,
                timeout=self.timeout,
            )
            seconds = time.monotonic() - started
            self.steps.append(StepLog(path, posted.status_code, seconds))
            if posted.status_code >= 400:
                errors = parse_page(posted.text).errors
                raise PageFlowError(f"{path}: {posted.status_code} {'; '.join(errors)[:800]}")
            if urlsplit(posted.url).path == path:
                errors = parse_page(posted.text).errors
                raise PageFlowError(f"{path}: the step did not move on: {'; '.join(errors)[:800]}")
            self.on_step(path, seconds)
            response = posted
        raise PageFlowError(f"more than {MAX_STEPS} steps without reaching {done_marker}")

    def _get(self, url: str) -> requests.Response:
        response = self.session.get(url, timeout=self.timeout)
        if response.status_code >= 400:
            raise PageFlowError(f"GET {urlsplit(url).path}: {response.status_code}")
        return response

    def _wait_for_prefill(self, url: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.prefill_timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = self.session.get(url + "/status", timeout=self.timeout)
            if answer.status_code == 200:
                status = answer.json()
                if status.get("finished"):
                    return status
            time.sleep(0.5)
        raise PageFlowError(f"pre-fill not finished after {self.prefill_timeout:.0f} s: {status}")


def configure_market(link: str, *, ask_everything: bool = False, **options: Any) -> PageWalker:
    """The buyer's pages, from `configuration_url` to the confirmation (which finalises the
    market and sends `market.completed`)."""
    walker = PageWalker(buyer_filler(ask_everything), **options)
    walker.walk(link)
    return walker


def apply_to_market(link: str, **options: Any) -> PageWalker:
    """The candidate's pages, from `application_url` to the confirmation (submitted: the
    documents are generated, then `market_application.completed` is sent)."""
    walker = PageWalker(fill_candidate_form, **options)
    walker.walk(link)
    return walker

"""The candidate's input macro (candidate/_inputs.html) for every input type: labels tied to
inputs, errors linked to their fields, values pre-filled, no inline script or style."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from flask import render_template_string
from passemarche.domain.catalogue import InputType
from passemarche.domain.inputs import form_values, parse_answer

TEMPLATE = """{% import "candidate/_inputs.html" as inputs %}
<form method="post" enctype="multipart/form-data">
{{ inputs.answer_field(attribute, value, errors, documents=documents, delete_url=delete_url,
                       upload_url=upload_url, max_rows=max_rows) }}
</form>"""


@dataclass
class Attr:
    key: str
    input_type: str
    candidate_title: str = "Titre de l'attribut"
    candidate_description: str = "Une aide pour le candidat"


@dataclass
class Doc:
    id: str
    original_name: str
    size: int
    scan: str
    slot: str = field(default="")


def render(app: Any, input_type: str, value: Any = None, errors: Any = None, **kwargs: Any) -> str:
    params = {
        "attribute": Attr("cle_attr", input_type),
        "value": value or {},
        "errors": errors or {},
        "documents": kwargs.pop("documents", []),
        "delete_url": kwargs.pop("delete_url", lambda doc_id: f"/supprimer/{doc_id}"),
        "upload_url": kwargs.pop("upload_url", None),
        "max_rows": kwargs.pop("max_rows", 10),
    }
    with app.test_request_context():
        return render_template_string(TEMPLATE, **params)


def field_ids(html: str) -> list[str]:
    tags = re.findall(r"<(?:input|textarea|select)\b[^>]*>", html)
    ids = []
    for tag in tags:
        if 'type="hidden"' in tag:
            continue
        match = re.search(r'\bid="([^"]+)"', tag)
        assert match, f"a field without id: {tag}"
        ids.append(match.group(1))
    return ids


def assert_accessible(html: str) -> None:
    ids = field_ids(html)
    assert ids
    assert len(ids) == len(set(ids)), "duplicate ids"
    labelled = set(re.findall(r'<label\b[^>]*\bfor="([^"]+)"', html))
    assert set(ids) <= labelled, set(ids) - labelled
    assert "<script" not in html
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize("input_type", [t.value for t in InputType])
def test_every_type_renders_labelled_fields_without_inline_code(app, input_type):
    html = render(app, input_type)
    assert_accessible(html)
    assert "Titre de l’attribut" in html  # typographic apostrophe
    assert "Une aide pour le candidat" in html


FILE_TYPES = [
    "file_upload",
    "inline_file_upload",
    "radio_with_file_and_text",
    "checkbox_with_document",
    "file_or_textarea",
    "team_members",
    "past_deliveries",
    "samples",
]


@pytest.mark.parametrize("input_type", FILE_TYPES)
def test_file_types_list_documents_with_scan_state_and_delete_buttons(app, input_type):
    documents = [
        Doc("doc_1", "bilan 2023.pdf", 1_572_864, "clean"),
        Doc("doc_2", "kbis<script>.pdf", 2_048, "pending"),
        Doc("doc_3", "note.txt", 10, "not_scanned"),
    ]
    html = render(app, input_type, documents=documents, upload_url="/joindre")
    assert 'name="cle_attr.files"' in html and "multiple" in html
    assert (
        "Formats acceptés : pdf, doc, docx, odt, txt, xls, xlsx, ods, csv, jpg, jpeg, png." in html
    )
    assert "Taille maximale : 100 Mo." in html
    assert "bilan 2023.pdf" in html
    assert "1,5&nbsp;Mo" in html
    assert "2&nbsp;Ko" in html
    assert "Analyse antivirus : sain" in html
    assert "Analyse antivirus : en attente" in html
    assert "Analyse antivirus : non vérifié" in html
    assert 'formaction="/supprimer/doc_1"' in html
    assert 'formaction="/supprimer/doc_2"' in html
    assert 'formaction="/joindre"' in html
    assert "kbis&lt;script&gt;.pdf" in html
    assert "<form" not in html.split("<form", 2)[-1] or html.count("<form") == 1  # no nested form
    assert_accessible(html)


def test_no_documents_no_list(app):
    html = render(app, "file_upload")
    assert "Documents joints" not in html


def linked_error(html: str, name: str, message: str) -> None:
    fid = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    assert message in html
    messages = re.search(rf'id="{fid}-messages"[^>]*>(.*?)</div>', html, re.S)
    assert messages and message in messages.group(1), f"{message} not in {fid}-messages"
    tag = re.search(rf'<(?:input|textarea)\b[^>]*\bid="{fid}"[^>]*>', html)
    if tag and 'type="radio"' not in tag.group(0):  # an input: described by its messages
        assert f'aria-describedby="{fid}-messages"' in tag.group(0)
        assert 'aria-invalid="true"' in tag.group(0)
    else:  # a radio group: the fieldset is labelled by its legend and messages
        assert f'aria-labelledby="{fid}-legend {fid}-messages"' in html


TODAY = date(2025, 3, 1)


@pytest.mark.parametrize(
    "input_type, posted",
    [
        ("text", {"cle_attr": "x" * 300}),
        ("textarea", {"cle_attr": ""}),
        ("email", {"cle_attr": "pas-une-adresse"}),
        ("phone", {"cle_attr": "12 34"}),
        ("url", {"cle_attr": "ftp://exemple.fr"}),
        ("file_upload", {}),
        ("radio_with_file_and_text", {"cle_attr.choice": "oui", "cle_attr.text": ""}),
        ("radio_with_file_and_text", {}),
        ("checkbox_with_document", {"cle_attr.checked": "oui"}),
        ("file_or_textarea", {}),
        ("samples", {}),
        (
            "turnover_table",
            {
                "cle_attr.year1.turnover": "douze",
                "cle_attr.year1.percentage": "140",
                "cle_attr.year1.fiscal_year_end": "31/12/2030",
            },
        ),
        ("headcount_table", {"cle_attr.year1.year": "1990", "cle_attr.year1.average_staff": "-3"}),
        ("team_members", {"cle_attr.rows.0.role": "Cheffe de projet"}),
        ("past_deliveries", {"cle_attr.rows.2.amount": "abc"}),
    ],
)
def test_errors_are_shown_next_to_their_fields_and_posted_values_kept(app, input_type, posted):
    form = {name: [text] for name, text in posted.items()}
    parsed = parse_answer(input_type, "cle_attr", form, required=True, files_count=0, today=TODAY)
    assert parsed.errors
    html = render(app, input_type, value=form, errors=parsed.errors)
    for name, message in parsed.errors.items():
        linked_error(html, name, message)
    for name, text in posted.items():
        if text and name.endswith(("choice", "checked")):
            continue
        if text:
            tag = re.search(
                rf'<(?:input|textarea)\b[^>]*\bname="{re.escape(name)}"[^>]*>([^<]*)', html
            )
            assert tag, name
            assert f'value="{text}"' in tag.group(0) or tag.group(1) == text
    assert_accessible(html)


def test_posted_radio_choice_and_checkbox_are_kept(app):
    html = render(app, "radio_with_file_and_text", value={"cle_attr.choice": "oui"})
    assert re.search(r'value="oui" checked', html)
    html = render(app, "checkbox_with_document", value={"cle_attr.checked": ["oui"]})
    assert re.search(r'name="cle_attr.checked" value="oui" checked', html)


STORED = {
    "text": {"text": "Ma société"},
    "textarea": {"text": "Ligne 1\nLigne 2"},
    "email": {"text": "nom@domaine.fr"},
    "phone": {"text": "+33 1 23 45 67 89"},
    "url": {"text": "https://www.exemple.fr"},
    "radio_with_file_and_text": {"choice": "oui", "text": "Une explication"},
    "checkbox_with_document": {"checked": True},
    "file_or_textarea": {"text": "Norme ISO 9001"},
    "samples": {"text": "Trois photos"},
    "turnover_table": {
        "year1": {"turnover": 1250000.5, "percentage": 40, "fiscal_year_end": "2023-12-31"},
        "year2": {"turnover": 900000, "percentage": None, "fiscal_year_end": "2022-12-31"},
        "year3": {},
    },
    "headcount_table": {
        "year1": {"year": 2024, "average_staff": 12, "management_staff": 3},
        "year2": {},
        "year3": {},
    },
    "team_members": {"rows": [{"name": "Jeanne Martin", "role": "Cheffe", "experience": "12 ans"}]},
    "past_deliveries": {
        "rows": [{"description": "Pont", "client": "Ville", "date": "2023-05-12", "amount": 150000}]
    },
}

EXPECTED = {
    "text": ['value="Ma société"'],
    "textarea": [">Ligne 1\nLigne 2</textarea>"],
    "email": ['value="nom@domaine.fr"', 'type="email"', 'autocomplete="email"'],
    "phone": ['value="+33 1 23 45 67 89"', 'type="tel"'],
    "url": ['value="https://www.exemple.fr"'],
    "radio_with_file_and_text": ['value="oui" checked', ">Une explication</textarea>"],
    "checkbox_with_document": ['value="oui" checked'],
    "file_or_textarea": [">Norme ISO 9001</textarea>"],
    "samples": [">Trois photos</textarea>"],
    "turnover_table": [
        'name="cle_attr.year1.turnover" value="1250000,5"',
        'name="cle_attr.year1.percentage" value="40"',
        'name="cle_attr.year1.fiscal_year_end" value="31/12/2023"',
        'name="cle_attr.year2.turnover" value="900000"',
        'name="cle_attr.year3.turnover" value=""',
        '<th scope="col">',
        '<th scope="row">Dernier exercice clos</th>',
    ],
    "headcount_table": [
        'name="cle_attr.year1.year" value="2024"',
        'name="cle_attr.year1.average_staff" value="12"',
        'name="cle_attr.year1.management_staff" value="3"',
    ],
    "team_members": [
        'name="cle_attr.rows.0.name" value="Jeanne Martin"',
        'name="cle_attr.rows.0.role" value="Cheffe"',
        'name="cle_attr.rows.3.name" value=""',
        '<th scope="row">Intervenant 4</th>',
    ],
    "past_deliveries": [
        'name="cle_attr.rows.0.description" value="Pont"',
        'name="cle_attr.rows.0.date" value="12/05/2023"',
        'name="cle_attr.rows.0.amount" value="150000"',
    ],
}


@pytest.mark.parametrize("input_type", sorted(STORED))
def test_stored_values_are_pre_filled(app, input_type):
    html = render(app, input_type, value=STORED[input_type])
    for fragment in EXPECTED[input_type]:
        assert re.search(re.escape(fragment).replace(r"\ ", r"\s+"), html), fragment
    assert_accessible(html)


@pytest.mark.parametrize("input_type", sorted(STORED))
def test_form_values_of_a_stored_value_pre_fill_the_same(app, input_type):
    """form_values() gives the flat form; parsing it back gives the same value."""
    flat = form_values(input_type, "cle_attr", STORED[input_type])
    html = render(app, input_type, value=flat)
    assert_accessible(html)
    parsed = parse_answer(
        input_type,
        "cle_attr",
        {k: [v] for k, v in flat.items()},
        required=False,
        files_count=5,
        today=TODAY,
    )
    assert parsed.errors == {}
    stored = {k: v for k, v in parsed.value.items() if k != "lines"}
    assert stored == STORED[input_type]


def test_table_cells_have_visually_hidden_labels(app):
    html = render(app, "turnover_table")
    assert re.search(
        r'<label class="fr-label fr-sr-only" for="cle_attr-year2-turnover">'
        r"Chiffre d’affaires en euros – Exercice précédent</label>",
        html,
    )
    assert "<caption>" in html


def test_repeatable_rows_show_filled_plus_blank_rows_up_to_max(app):
    rows = [{"name": f"Personne {i}", "role": "", "experience": ""} for i in range(9)]
    html = render(app, "team_members", value={"rows": rows}, max_rows=10)
    assert 'name="cle_attr.rows.9.name"' in html
    assert 'name="cle_attr.rows.10.name"' not in html
    html = render(app, "team_members", value={"rows": rows * 2}, max_rows=10)
    assert 'name="cle_attr.rows.17.name" value="Personne 8"' in html
    assert 'name="cle_attr.rows.18.name"' not in html
    html = render(app, "past_deliveries", value={"cle_attr.rows.5.description": ["Ligne 6"]})
    assert 'name="cle_attr.rows.5.description" value="Ligne 6"' in html
    assert 'name="cle_attr.rows.0.description" value=""' in html


def test_no_delete_button_without_delete_url(app):
    html = render(
        app, "file_upload", documents=[Doc("doc_1", "a.pdf", 10, "clean")], delete_url=None
    )
    assert "formaction" not in html
    assert "a.pdf" in html


def test_caller_scan_labels_are_not_prefixed_twice(app):
    with app.test_request_context():
        html = render_template_string(
            '{% import "candidate/_inputs.html" as inputs %}'
            "{{ inputs.answer_field(attribute, {}, {}, documents=docs, scan_labels=labels) }}",
            attribute=Attr("cle_attr", "file_upload"),
            docs=[Doc("d1", "a.pdf", 10, "clean"), Doc("d2", "b.pdf", 10, "pending")],
            labels={"clean": "Analyse antivirus : aucun virus détecté", "pending": "en cours"},
        )
    assert "Analyse antivirus : aucun virus détecté" in html
    assert "Analyse antivirus : Analyse" not in html
    assert "Analyse antivirus : en cours" in html
    assert "fr-badge--success" in html

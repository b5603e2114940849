"""Reading a candidate's answer from the posted form: values, French messages, printed lines."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from passemarche.domain.catalogue import InputType
from passemarche.domain.inputs import (
    NBSP,
    Msg,
    ParsedAnswer,
    display_lines,
    form_values,
    format_euros,
    normalise_phone,
    parse_answer,
    parse_decimal,
)

TODAY = date(2025, 3, 1)
K = "cle"


def parse(input_type: str, required: bool = False, files: int = 0, **fields: str) -> ParsedAnswer:
    form = {(K if name == "_" else f"{K}.{name}"): [text] for name, text in fields.items()}
    return parse_answer(input_type, K, form, required=required, files_count=files, today=TODAY)


def single(input_type: str, text: str, required: bool = False) -> ParsedAnswer:
    return parse(input_type, required=required, _=text)


# --- every type ---------------------------------------------------------------------------


@pytest.mark.parametrize("input_type", [t.value for t in InputType])
def test_every_type_empty_optional_is_fine_and_required_is_an_error(input_type):
    answer = parse_answer(input_type, K, {}, required=False, files_count=0, today=TODAY)
    assert answer.empty and answer.errors == {} and answer.value["lines"] == []
    json.dumps(answer.value)
    required = parse_answer(input_type, K, {}, required=True, files_count=0, today=TODAY)
    assert required.empty and len(required.errors) == 1
    assert all(name.startswith(K) for name in required.errors)
    assert display_lines(input_type, {k: v for k, v in answer.value.items() if k != "lines"}) == []


def test_unknown_type_is_a_value_error():
    with pytest.raises(ValueError):
        parse_answer("checkbox", K, {}, required=False, files_count=0, today=TODAY)
    with pytest.raises(ValueError):
        display_lines("nope", {})


# --- single values ------------------------------------------------------------------------


def test_text_is_trimmed_and_limited():
    answer = single("text", "  Ma   société  ")
    assert answer.value == {"text": "Ma société", "lines": ["Ma société"]}
    assert not answer.empty
    assert single("text", "x" * 255).errors == {}
    assert single("text", "x" * 256).errors == {
        K: "Ce texte est trop long : 255 caractères au maximum."
    }


def test_textarea_keeps_lines_and_limits_length():
    answer = single("textarea", "Ligne 1\r\nLigne 2\n")
    assert answer.value == {"text": "Ligne 1\nLigne 2", "lines": ["Ligne 1", "Ligne 2"]}
    assert K in single("textarea", "x" * 10_001).errors
    assert single("textarea", "", required=True).errors == {K: Msg.REQUIRED_TEXT}


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("Nom@Domaine.FR", "Nom@domaine.fr"),
        ("jean.dupont+marches@sous.domaine.gouv.fr", "jean.dupont+marches@sous.domaine.gouv.fr"),
    ],
)
def test_valid_emails(typed, stored):
    answer = single("email", typed)
    assert answer.errors == {} and answer.value["text"] == stored


@pytest.mark.parametrize(
    "typed", ["nom", "nom@", "@domaine.fr", "nom@domaine", "a b@c.fr", "n@d..fr"]
)
def test_invalid_emails(typed):
    answer = single("email", typed)
    assert answer.errors == {
        K: "Indiquez une adresse électronique valide, par exemple nom@domaine.fr."
    }


@pytest.mark.parametrize(
    "typed",
    ["01 23 45 67 89", "0123456789", "01.23.45.67.89", "01-23-45-67-89", "+33 1 23 45 67 89",
     "+33123456789", "0033 1 23 45 67 89", "+33 (0)1 23 45 67 89"],
)  # fmt: skip
def test_french_phone_numbers_are_normalised(typed):
    answer = single("phone", typed)
    assert answer.errors == {}
    assert answer.value["text"] == "+33 1 23 45 67 89"
    assert answer.value["lines"] == ["+33 1 23 45 67 89"]


@pytest.mark.parametrize("typed", ["12 34", "1234567890", "01 23 45 67 8", "012345678901", "abc"])
def test_invalid_phone_numbers(typed):
    assert single("phone", typed).errors == {
        K: "Le numéro de téléphone doit comporter 10 chiffres, par exemple 01 23 45 67 89."
    }


def test_foreign_phone_number_gets_the_international_message():
    assert single("phone", "+44 20 7946 0958").errors == {K: Msg.PHONE_INTERNATIONAL}


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: s[0] != "0"))
def test_phone_property_national_and_international_agree(digits):
    national = normalise_phone("0" + digits)
    assert (
        national
        == normalise_phone("+33" + digits)
        == normalise_phone(".".join(("0" + digits)[i : i + 2] for i in range(0, 10, 2)))
    )
    assert national is not None and national.startswith("+33 ")
    assert national.replace(" ", "") == "+33" + digits


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("https://www.exemple.fr", "https://www.exemple.fr"),
        ("http://Exemple.FR/Chemin?q=1", "http://exemple.fr/Chemin?q=1"),
        ("www.exemple.fr", "https://www.exemple.fr"),
        ("exemple.fr:8443/a", "https://exemple.fr:8443/a"),
    ],
)
def test_valid_urls(typed, stored):
    answer = single("url", typed)
    assert answer.errors == {} and answer.value["text"] == stored


@pytest.mark.parametrize(
    "typed", ["ftp://exemple.fr", "javascript:alert(1)", "https://", "exemple", "https://a b.fr",
              "https://user@exemple.fr"],
)  # fmt: skip
def test_invalid_urls(typed):
    assert single("url", typed).errors == {K: Msg.URL}


# --- files and choices ----------------------------------------------------------------------


@pytest.mark.parametrize("input_type", ["file_upload", "inline_file_upload"])
def test_file_upload_is_satisfied_by_files_count(input_type):
    assert parse(input_type, required=True).errors == {f"{K}.files": Msg.FILES_REQUIRED}
    answer = parse(input_type, required=True, files=2)
    assert answer.errors == {} and not answer.empty and answer.value == {"lines": []}


def test_radio_yes_needs_text_or_file():
    assert parse("radio_with_file_and_text", choice="oui").errors == {
        f"{K}.text": Msg.YES_NEEDS_DETAILS
    }
    assert parse("radio_with_file_and_text", choice="oui", files=1).errors == {}
    answer = parse("radio_with_file_and_text", choice="oui", text="Plan de redressement")
    assert answer.errors == {}
    assert answer.value == {
        "choice": "oui",
        "text": "Plan de redressement",
        "lines": ["Oui", f"Précisions{NBSP}: Plan de redressement"],
    }


def test_radio_no_drops_text_and_files():
    answer = parse("radio_with_file_and_text", choice="non", text="oublié", files=2)
    assert answer.errors == {} and not answer.empty and answer.drop_files
    assert answer.value == {"choice": "non", "text": "", "lines": ["Non"]}


def test_radio_invalid_and_required():
    assert parse("radio_with_file_and_text", choice="peut-être").errors == {
        f"{K}.choice": Msg.CHOICE_INVALID
    }
    assert parse("radio_with_file_and_text", required=True).errors == {
        f"{K}.choice": Msg.CHOICE_REQUIRED
    }


def test_radio_lines_of_reference_shapes():
    assert display_lines("radio_with_file_and_text", {"radio_choice": "yes", "text": "ESS"}) == [
        "Oui",
        f"Précisions{NBSP}: ESS",
    ]
    assert display_lines("radio_with_file_and_text", {"radio_choice": "no"}) == ["Non"]


def test_checkbox_with_document():
    assert parse("checkbox_with_document", checked="oui").errors == {
        f"{K}.files": Msg.CHECKBOX_NEEDS_DOCUMENT
    }
    answer = parse("checkbox_with_document", checked="oui", files=1)
    assert answer.errors == {} and answer.value == {"checked": True, "lines": ["Oui"]}
    unticked = parse("checkbox_with_document", files=1)
    assert unticked.empty and unticked.drop_files and unticked.value["checked"] is False
    assert parse("checkbox_with_document", required=True).errors == {
        f"{K}.checked": Msg.CHECKBOX_REQUIRED
    }


@pytest.mark.parametrize("input_type, message", [("file_or_textarea", Msg.TEXT_OR_FILE),
                                                 ("samples", Msg.SAMPLES_REQUIRED)])  # fmt: skip
def test_text_or_files(input_type, message):
    assert parse(input_type, required=True).errors == {f"{K}.text": message}
    assert parse(input_type, required=True, files=1).errors == {}
    answer = parse(input_type, required=True, text="ISO 9001")
    assert answer.value == {"text": "ISO 9001", "lines": ["ISO 9001"]}


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, number",
    [
        ("1 250 000,50", "1250000.50"),
        ("1\u00a0250\u00a0000,50 €", "1250000.50"),
        ("1\u202f250\u202f000", "1250000"),
        ("1250000.50", "1250000.50"),
        ("1.250.000,50", "1250000.50"),
        ("1,250,000.50", "1250000.50"),
        ("12.500", "12500"),
        ("0,5", "0.5"),
        ("1250000", "1250000"),
        ("1 250 000 euros", "1250000"),
    ],
)
def test_french_number_formats(typed, number):
    assert parse_decimal(typed) == Decimal(number)


@pytest.mark.parametrize("typed", ["douze", "1,2,3", "1 25,0,0", "1,234", "12,345.6.7", "1,005"])
def test_bad_numbers(typed):
    if typed in ("1,234", "1,005"):  # a decimal comma with 3 decimals: refused, not guessed
        with pytest.raises(ValueError):
            parse_decimal(typed)
        return
    with pytest.raises(ValueError):
        parse_decimal(typed)


@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_euros_round_trip(number):
    shown = format_euros(number)
    assert shown.endswith(f"{NBSP}€")
    assert parse_decimal(shown) == number


# --- tables ----------------------------------------------------------------------------------


def turnover(**rows: str) -> ParsedAnswer:
    return parse("turnover_table", **rows)


def test_turnover_table_values_and_lines():
    answer = turnover(**{
        "year1.turnover": "1 250 000", "year1.percentage": "40", "year1.fiscal_year_end": "31/12/2023",
        "year2.turnover": "980 000,50", "year2.fiscal_year_end": "2022-12-31",
    })  # fmt: skip
    assert answer.errors == {}
    assert answer.value["year1"] == {
        "turnover": 1250000, "percentage": 40, "fiscal_year_end": "2023-12-31"
    }  # fmt: skip
    assert answer.value["year2"] == {
        "turnover": 980000.5, "percentage": None, "fiscal_year_end": "2022-12-31"
    }  # fmt: skip
    assert answer.value["year3"] == {}
    assert answer.value["lines"] == [
        f"Chiffre d’affaires 2023{NBSP}: 1{NBSP}250{NBSP}000{NBSP}€ (dont 40{NBSP}% dans le "
        "domaine du marché), exercice clos le 31/12/2023",
        f"Chiffre d’affaires 2022{NBSP}: 980{NBSP}000,50{NBSP}€, exercice clos le 31/12/2022",
    ]
    assert (
        display_lines("turnover_table", {k: v for k, v in answer.value.items() if k != "lines"})
        == answer.value["lines"]
    )


def test_turnover_line_matches_the_documented_example_modulo_no_break_spaces():
    answer = turnover(**{"year1.turnover": "1250000", "year1.percentage": "40",
                         "year1.fiscal_year_end": "31/12/2023"})  # fmt: skip
    assert answer.value["lines"][0].replace(NBSP, " ") == (
        "Chiffre d’affaires 2023 : 1 250 000 € (dont 40 % dans le domaine du marché), "
        "exercice clos le 31/12/2023"
    )


def test_turnover_errors_all_at_once():
    answer = turnover(**{
        "year1.turnover": "-5", "year1.percentage": "140", "year1.fiscal_year_end": "31/12/2030",
        "year2.turnover": "abc", "year2.fiscal_year_end": "31/02/2022",
        "year3.percentage": "10",
    })  # fmt: skip
    assert answer.errors == {
        f"{K}.year1.turnover": Msg.AMOUNT_NEGATIVE,
        f"{K}.year1.percentage": Msg.PERCENTAGE,
        f"{K}.year1.fiscal_year_end": Msg.DATE_FUTURE,
        f"{K}.year2.turnover": Msg.AMOUNT,
        f"{K}.year2.fiscal_year_end": Msg.DATE,
        f"{K}.year3.turnover": Msg.TURNOVER_MISSING,
        f"{K}.year3.fiscal_year_end": Msg.FISCAL_END_MISSING,
    }


def test_turnover_years_in_order():
    answer = turnover(**{
        "year1.turnover": "1", "year1.fiscal_year_end": "31/12/2022",
        "year2.turnover": "1", "year2.fiscal_year_end": "31/12/2023",
    })  # fmt: skip
    assert answer.errors == {f"{K}.year2.fiscal_year_end": Msg.YEARS_ORDER}


def test_turnover_lines_of_a_data_source_value():
    value = {
        "year_1": {"turnover": 500000, "market_percentage": 20, "fiscal_year_end": "2023-06-30"}
    }
    assert display_lines("turnover_table", value) == [
        f"Chiffre d’affaires 2023{NBSP}: 500{NBSP}000{NBSP}€ (dont 20{NBSP}% dans le domaine du "
        "marché), exercice clos le 30/06/2023"
    ]


def test_headcount_table():
    answer = parse("headcount_table", **{
        "year1.year": "2024", "year1.average_staff": "12", "year1.management_staff": "3",
        "year2.year": "2023", "year2.average_staff": "1",
    })  # fmt: skip
    assert answer.errors == {}
    assert answer.value["year1"] == {"year": 2024, "average_staff": 12, "management_staff": 3}
    assert answer.value["lines"] == [
        f"Effectif moyen 2024{NBSP}: 12 personnes, dont 3 d’encadrement",
        f"Effectif moyen 2023{NBSP}: 1 personne",
    ]


def test_headcount_errors():
    answer = parse("headcount_table", **{
        "year1.year": "2026", "year1.average_staff": "-1", "year1.management_staff": "1,5",
        "year2.year": "1999", "year2.average_staff": "3",
        "year3.management_staff": "2",
    })  # fmt: skip
    year_message = Msg.YEAR.format(current=2025)
    assert answer.errors == {
        f"{K}.year1.year": year_message,
        f"{K}.year1.average_staff": Msg.STAFF,
        f"{K}.year1.management_staff": Msg.STAFF,
        f"{K}.year2.year": year_message,
        f"{K}.year3.year": Msg.YEAR_MISSING.format(example=2024),
        f"{K}.year3.average_staff": Msg.STAFF_MISSING,
    }
    order = parse("headcount_table", **{"year1.year": "2022", "year1.average_staff": "1",
                                         "year2.year": "2023", "year2.average_staff": "1"})  # fmt: skip
    assert order.errors == {f"{K}.year2.year": Msg.HEADCOUNT_ORDER}


# --- repeatable rows --------------------------------------------------------------------------


def test_team_members_rows_and_cv_count():
    fields = {
        "rows.0.name": "Jeanne Martin", "rows.0.role": "Cheffe de projet", "rows.0.experience": "12 ans",
        "rows.1.name": "", "rows.1.role": "",
        "rows.4.name": "Paul Durand",
    }  # fmt: skip
    answer = parse("team_members", files=1, **fields)
    assert answer.errors == {f"{K}.files": Msg.CV_MISSING.format(rows=2, files=1)}
    answer = parse("team_members", files=2, **fields)
    assert answer.errors == {}
    assert answer.value["rows"] == [
        {"name": "Jeanne Martin", "role": "Cheffe de projet", "experience": "12 ans"},
        {"name": "Paul Durand", "role": "", "experience": ""},
    ]
    assert answer.value["lines"] == [
        f"Jeanne Martin – Cheffe de projet – expérience{NBSP}: 12 ans",
        "Paul Durand",
    ]


def test_team_member_without_name():
    answer = parse("team_members", files=1, **{"rows.3.role": "Technicien"})
    assert answer.errors == {f"{K}.rows.3.name": Msg.NAME_MISSING}
    assert parse("team_members", required=True).errors == {f"{K}.rows.0.name": Msg.TEAM_REQUIRED}


def test_past_deliveries():
    answer = parse("past_deliveries", **{
        "rows.0.description": "Réfection d’un pont", "rows.0.client": "Ville de Lyon",
        "rows.0.date": "12/05/2023", "rows.0.amount": "150 000",
        "rows.1.description": "Voirie", "rows.1.date": "2022",
        "rows.2.description": "Éclairage", "rows.2.date": "03/2024",
    })  # fmt: skip
    assert answer.errors == {}
    assert [r["date"] for r in answer.value["rows"]] == ["2023-05-12", "2022", "2024-03"]
    assert answer.value["rows"][0]["amount"] == 150000
    assert answer.value["lines"][0] == (
        f"Réfection d’un pont – client{NBSP}: Ville de Lyon – date{NBSP}: 12/05/2023 – "
        f"montant{NBSP}: 150{NBSP}000{NBSP}€"
    )
    assert answer.value["lines"][2] == f"Éclairage – date{NBSP}: 03/2024"


def test_past_delivery_errors():
    answer = parse("past_deliveries", **{
        "rows.0.client": "Ville", "rows.0.date": "2030", "rows.0.amount": "0",
        "rows.1.description": "X", "rows.1.date": "hier", "rows.1.amount": "abc",
    })  # fmt: skip
    assert answer.errors == {
        f"{K}.rows.0.description": Msg.DESCRIPTION_MISSING,
        f"{K}.rows.0.date": Msg.DATE_FUTURE,
        f"{K}.rows.0.amount": Msg.AMOUNT_ZERO,
        f"{K}.rows.1.date": Msg.DELIVERY_DATE,
        f"{K}.rows.1.amount": Msg.AMOUNT,
    }


def test_rows_beyond_the_limit_are_ignored():
    answer = parse("past_deliveries", **{"rows.999.description": "trop loin"})
    assert answer.empty and answer.value["rows"] == []


def test_reference_items_shape_is_displayed():
    value = {
        "items": {"1700000000": {"nom": "Martin", "prenoms": "Jeanne", "titres": "Ingénieure"}}
    }
    assert display_lines("team_members", value) == ["Jeanne Martin – Ingénieure"]


# --- properties -------------------------------------------------------------------------------


@given(st.sampled_from([t.value for t in InputType]), st.dictionaries(
    st.sampled_from([K, f"{K}.text", f"{K}.choice", f"{K}.checked", f"{K}.year1.turnover",
                     f"{K}.year1.fiscal_year_end", f"{K}.rows.0.name", f"{K}.rows.1.amount",
                     f"{K}.rows.2.date", f"{K}.year2.year", f"{K}.year2.average_staff"]),
    st.lists(st.text(max_size=30), max_size=2)), st.booleans(), st.integers(0, 3))  # fmt: skip
def test_any_form_gives_a_json_value_with_lines_and_french_errors(
    input_type, form, required, files
):
    answer = parse_answer(input_type, K, form, required=required, files_count=files, today=TODAY)
    assert isinstance(answer.value["lines"], list)
    json.dumps(answer.value)
    assert all(
        name.startswith(K) and message.endswith(".") for name, message in answer.errors.items()
    )
    if not answer.errors:
        stored = {k: v for k, v in answer.value.items() if k != "lines"}
        assert display_lines(input_type, stored) == answer.value["lines"]


@pytest.mark.parametrize("input_type", [t.value for t in InputType])
def test_form_values_round_trip_of_empty(input_type):
    assert isinstance(form_values(input_type, K, {}), dict)

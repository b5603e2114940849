"""The pure parts of the data source adapters: API Entreprise payloads and BODACC records."""

from __future__ import annotations

import json

import pytest
from passemarche.adapters.data_sources import api_entreprise_payloads as payloads
from passemarche.adapters.data_sources.api_entreprise_payloads import PayloadError
from passemarche.adapters.data_sources.bodacc import NO_LIQUIDATION, NO_NOTICE, classify
from passemarche.adapters.data_sources.http import RefusalLog


def test_insee_natural_person_raw_category_and_missing_values():
    values = payloads.insee_values(
        {
            "siret": "12345678900011",
            "activite_principale": {"code": "4322A", "libelle": None},
            "unite_legale": {
                "personne_morale_attributs": {"raison_sociale": None},
                "personne_physique_attributs": {"prenom_1": "Marie", "nom_naissance": "Curie"},
                "categorie_entreprise": "XYZ",
                "economie_sociale_et_solidaire": False,
            },
        }
    )
    assert values["social_reason"].text == "Marie Curie"
    assert values["main_activity"].text == "4322A"
    assert values["category"].text == "XYZ"
    assert values["ess"].flag is False and values["ess"].lines == ()


def test_insee_null_values_are_left_out():
    values = payloads.insee_values({"siret": "12345678900011", "unite_legale": None})
    assert set(values) == {"siret"}


@pytest.mark.parametrize("data", [None, [], {"unite_legale": {}}, {"siret": None}])
def test_insee_unexpected_shapes_raise(data):
    with pytest.raises(PayloadError):
        payloads.insee_values(data)


def test_rne_address_skips_empty_parts():
    values = payloads.rne_values(
        {
            "identite_entreprise": {
                "adresse_siege_social": {
                    "voie": "1 RUE X",
                    "complement": "",
                    "code_postal": "75001",
                    "commune": "PARIS",
                    "pays": None,
                }
            },
            "dirigeants_et_associes": [],
        }
    )
    assert values["head_office_address"].text == "1 RUE X, 75001 PARIS"
    assert "first_name_last_name" not in values


def test_turnover_rows_sorted_capped_and_cleaned():
    data = [
        {"data": {"chiffre_affaires": amount, "date_fin_exercice": end}}
        for amount, end in [
            (1, "2020-12-31"),
            (4, "2023-12-31"),
            ("x", "2024-12-31"),
            (3, "2022-12-31"),
            (2, "2021-12-31"),
            (5, None),
        ]
    ]
    assert payloads.turnover_rows(data) == (
        {"turnover": 4, "fiscal_year_end": "2023-12-31"},
        {"turnover": 3, "fiscal_year_end": "2022-12-31"},
        {"turnover": 2, "fiscal_year_end": "2021-12-31"},
    )
    with pytest.raises(PayloadError):
        payloads.turnover_rows({"data": []})


def test_bilans_most_recent_first_at_most_three():
    bilans = [
        {"date_cloture": f"{year}-12-31", "url": f"https://x/{year}.pdf"}
        for year in (2019, 2022, 2020, 2021)
    ]
    links = payloads.bilan_links({"bilans": bilans}, "123456789")
    assert [link.base_name for link in links] == [
        "bilan_123456789_2022-12-31",
        "bilan_123456789_2021-12-31",
        "bilan_123456789_2020-12-31",
    ]


def test_france_competence_takes_the_first_active_habilitation():
    value = payloads.carif_oref_values(
        {
            "habilitations_france_competence": [
                {"code": "RNCP1", "actif": False},
                {"code": "RS5678", "actif": True, "date_fin_enregistrement": "2030-01-30"},
            ]
        }
    )["france_competence"]
    assert value.text == "https://www.francecompetences.fr/recherche/rs/5678/"
    assert value.lines == ("Habilitation RS5678", "Enregistrement jusqu’au 30/01/2030")


def _record(nature: str, complement: str = "", famille: str = "collective") -> dict:
    jugement = {"nature": nature, "date": "2024-01-02", "complementJugement": complement}
    return {
        "familleavis": famille,
        "jugement": json.dumps(jugement),
        "tribunal": "TRIBUNAL DE COMMERCE DE LYON",
        "publicationavis": "A",
        "parution": "20240001",
        "dateparution": "2024-01-10",
        "numeroannonce": 7,
    }


def test_bodacc_redressement_counts_as_liquidation_and_complement_is_read():
    values = classify(
        [
            _record("Jugement d'ouverture d'une procédure de redressement judiciaire"),
            _record("Jugement", "prononçant la BANQUEROUTE du dirigeant"),
        ]
    )
    assert values["liquidation_judiciaire"].flag is True
    assert values["liquidation_judiciaire"].lines == (
        "Jugement d'ouverture d'une procédure de redressement judiciaire — jugement du "
        "02/01/2024 — TRIBUNAL DE COMMERCE DE LYON — BODACC A n° 20240001 du 10/01/2024, "
        "annonce n° 7",
    )
    assert values["faillite_interdiction"].flag is True


def test_bodacc_other_notices_are_not_procedures():
    sale = {"familleavis": "vente", "jugement": None, "registre": ["123456789"]}
    safeguard = _record("Jugement d'ouverture d'une procédure de sauvegarde")
    values = classify([sale, safeguard, "not a record"])
    assert values["liquidation_judiciaire"].flag is False
    assert values["liquidation_judiciaire"].lines == (NO_NOTICE,)


def test_bodacc_broken_jugement_string_is_ignored():
    record = {**_record("x"), "jugement": "{not json"}
    values = classify([record, _record("Jugement prononçant la faillite personnelle")])
    assert values["liquidation_judiciaire"].lines == (NO_LIQUIDATION,)
    assert values["faillite_interdiction"].flag is True


def test_refusal_log_remembers_source_and_status():
    log = RefusalLog()
    assert log.first_time("insee", 401) is True
    assert log.first_time("insee", 401) is False
    assert log.first_time("insee", 403) is True
    assert log.first_time("rne", 401) is True

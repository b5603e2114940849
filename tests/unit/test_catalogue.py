"""The published catalogue file, read and loaded; which attributes each market type gets."""

from pathlib import Path

import pytest
from passemarche.adapters.catalogue_csv import (
    CatalogueFileError,
    parse_catalogue,
    read_catalogue_file,
)
from passemarche.adapters.memory import MemoryStore, MemoryUnitOfWork
from passemarche.services.catalogue import catalogue_snapshot, load_catalogue

from tests.support import FixedClock

CATALOGUE = Path(__file__).resolve().parents[2] / "src" / "data" / "market_attributes_catalogue.csv"
HEADER = (
    "category_key,subcategory_key,key,category_acheteur,subcategory_acheteur,titre_acheteur,"
    "description_acheteur,obligatoire,category_candidat,subcategory_candidat,titre_candidat,"
    "description_candidat,type,type_api,apifiable,apifie,services,fournitures,travaux,défense,"
    "import,API,lien,Informations récupérées par l'API\n"
)


def row(
    key="k1",
    mandatory="oui",
    kind="texte",
    types=("oui", "oui", "oui", "non"),
    imported="oui",
    api="",
):
    s, f, t, d = types
    return (
        f"cat,sub,{key},Catégorie,Sous-catégorie,Titre {key},Desc,{mandatory},Cat C,Sub C,"
        f"Titre candidat {key},Desc C,{kind},,,,{s},{f},{t},{d},{imported},{api},,champ\n"
    )


@pytest.fixture(scope="module")
def published():
    return read_catalogue_file(CATALOGUE)


def load(store, parsed, clock=None):
    return load_catalogue(
        MemoryUnitOfWork(store),
        clock or FixedClock(),
        parsed.categories,
        parsed.subcategories,
        parsed.attributes,
    )


def test_the_published_file_gives_50_attributes_15_mandatory_in_4_categories(published):
    assert len(published.attributes) == 50
    assert sum(a.mandatory for a in published.attributes) == 15
    assert [c.key for c in published.categories] == [
        "identite_entreprise",
        "motifs_exclusion",
        "capacite_economique_financiere",
        "capacites_techniques_professionnelles",
    ]
    assert published.skipped == [
        "line 28: capacite_economique_financiere_chiffre_affaires_domaine_marche (unsupported type 'custom')"
    ]
    siret = next(
        a for a in published.attributes if a.key == "identite_entreprise_identification_siret"
    )
    assert (siret.source, siret.source_field, siret.input_type) == ("insee", "siret", "text")
    assert siret.buyer_title == "SIRET"


def test_loading_twice_changes_nothing(published):
    store = MemoryStore()
    first = load(store, published)
    assert (first.created, first.updated, first.archived) == (50, 0, 0)
    second = load(store, published)
    assert (second.created, second.updated, second.archived, second.unchanged) == (0, 0, 0, 50)


def test_a_changed_file_updates_and_archives_and_restores():
    store = MemoryStore()
    load(store, parse_catalogue(HEADER + row("k1") + row("k2")))
    report = load(store, parse_catalogue(HEADER + row("k1", mandatory="non")))
    assert (report.created, report.updated, report.archived, report.unchanged) == (0, 1, 1, 0)
    snapshot = catalogue_snapshot(MemoryUnitOfWork(store))
    assert snapshot.attribute("k2").archived_at is not None
    assert not snapshot.attribute("k1").mandatory
    assert [a.key for a in snapshot.for_market(["services"])] == ["k1"]
    report = load(store, parse_catalogue(HEADER + row("k1", mandatory="non") + row("k2")))
    assert (report.created, report.updated) == (0, 1)
    assert catalogue_snapshot(MemoryUnitOfWork(store)).attribute("k2").archived_at is None


@pytest.mark.parametrize(
    "market_types",
    [["supplies"], ["services"], ["works"], ["works", "defense"], ["supplies", "defense"]],
)
def test_each_market_type_gets_exactly_the_catalogues_mandatory_attributes(published, market_types):
    store = MemoryStore()
    load(store, published)
    snapshot = catalogue_snapshot(MemoryUnitOfWork(store))
    expected = [
        a.key
        for a in published.attributes
        if a.mandatory and set(a.market_types) & set(market_types)
    ]
    assert snapshot.mandatory_keys(market_types) == expected
    assert "identite_entreprise_identification_siret" in expected
    works_only = "motifs_exclusion_fiscales_et_sociales_pro_btp"
    assert (works_only in expected) == ("works" in market_types)


def test_defence_only_attributes_appear_only_for_defence_markets(published):
    store = MemoryStore()
    load(store, published)
    snapshot = catalogue_snapshot(MemoryUnitOfWork(store))
    defence_only = [a.key for a in published.attributes if a.market_types == ["defense"]]
    assert len(defence_only) == 4
    for types in (["supplies"], ["services"], ["works"], ["supplies", "services", "works"]):
        assert not set(defence_only) & {a.key for a in snapshot.for_market(types)}
    assert set(defence_only) <= {a.key for a in snapshot.for_market(["services", "defense"])}


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("just,a,file\n", None, "no header row"),
        (HEADER + row("k1") + row("k1"), 3, "appears twice"),
        (HEADER + row("k1", mandatory="peut-être"), 2, "'obligatoire' must be 'oui' or 'non'"),
        (HEADER + row("k1", types=("non", "non", "non", "non")), 2, "applies to no market type"),
        (
            HEADER
            + row(
                "",
            ),
            2,
            "column 'key' is empty",
        ),
        (HEADER.replace("titre_candidat,", ""), 1, "missing columns: titre_candidat"),
        (HEADER + row("k1", imported="non"), None, "no attribute to import"),
    ],
)
def test_a_malformed_file_is_refused_with_its_line(text, line, message):
    with pytest.raises(CatalogueFileError) as caught:
        parse_catalogue(text)
    assert caught.value.line == line
    assert message in str(caught.value)

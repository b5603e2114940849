"""The attestation PDFs (fpdf2 + DejaVu Sans) read back as text, and the documents ZIP built from
files in a real local storage."""

from __future__ import annotations

import io
import logging
import os
import re
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pypdf
import pytest
from passemarche.adapters.documents.fonts import FontUnavailable, font_library
from passemarche.adapters.documents.package import (
    MissingDocument,
    ZipPackageBuilder,
    package_members,
)
from passemarche.adapters.documents.pdf import FpdfDocumentRenderer
from passemarche.adapters.file_storage import LocalFileStorage
from passemarche.domain.dossier import (
    ORIGIN_LABELS,
    Dossier,
    DossierAnswer,
    DossierDocument,
    DossierMarket,
    DossierSection,
    Origin,
    package_member_name,
)

ACCENTS = "é è à ç œ € ’ « » – …"
DECLARATION = (
    "Je déclare sur l’honneur n’entrer dans aucun des cas d’exclusion prévus aux articles "
    "L. 2141-1 à L. 2141-11 du code de la commande publique, et être en règle au regard de mes "
    "obligations fiscales et sociales (« attestation sur l’honneur »)."
)
LONG_TEXT = " ".join(
    f"Phrase {n} : mise en œuvre d’un chantier à Besançon, coût 12 000 € – délai tenu…"
    for n in range(1, 260)
)
LONG_WORD = "R" + "é" * 40 + "f" * 260 + "Z"

renderer = FpdfDocumentRenderer()


def document(
    key: str,
    original: str,
    section: int,
    answer: int,
    origin: Origin = Origin.DECLARED,
    content_type: str = "application/pdf",
) -> DossierDocument:
    return DossierDocument(
        attribute_key=key,
        original_name=original,
        package_name=package_member_name(origin, section, answer, key, original),
        storage_key=f"uploads/FT20240615A1B2C3D4/{key}/{section}-{answer}-{abs(hash(original))}",
        size=0,
        content_type=content_type,
        origin=origin,
    )


def make_dossier(*, test_watermark: bool = True, sections=None, documents=()) -> Dossier:
    if sections is None:
        sections = (
            DossierSection(
                "Identité de l’entreprise",
                (
                    DossierAnswer(
                        "identite_entreprise_activite",
                        "Activité principale (code NAF)",
                        ("62.01Z – Programmation informatique",),
                        Origin.PREFILLED,
                        "INSEE",
                    ),
                    DossierAnswer(
                        "identite_entreprise_contact",
                        "Adresse électronique de contact",
                        ("marché@société-exemple.fr",),
                    ),
                    DossierAnswer(
                        "identite_entreprise_devise",
                        "Devise de l’entreprise",
                        (ACCENTS,),
                    ),
                ),
            ),
            DossierSection(
                "Motifs d’exclusion",
                (
                    DossierAnswer(
                        "motifs_exclusion_fiscales",
                        "Attestation de régularité fiscale",
                        ("Attestation délivrée le 02/06/2024",),
                        Origin.PREFILLED,
                        "DGFIP",
                        (
                            document(
                                "motifs_exclusion_fiscales",
                                "attestation_fiscale.pdf",
                                2,
                                1,
                                Origin.PREFILLED,
                            ),
                        ),
                    ),
                    DossierAnswer(
                        "motifs_exclusion_redressement",
                        "Procédure de redressement judiciaire",
                        ("Non",),
                    ),
                ),
            ),
            DossierSection(
                "Capacités économiques et financières",
                (
                    DossierAnswer(
                        "capacite_economique_chiffre_affaires",
                        "Chiffre d’affaires des trois derniers exercices",
                        (
                            "Exercice clos le 31/12/2021 : 1 250 000 € (40 % dans le domaine)",
                            "Exercice clos le 31/12/2022 : 1 410 000 € (45 % dans le domaine)",
                            "Exercice clos le 31/12/2023 : 1 730 000 € (52 % dans le domaine)",
                        ),
                    ),
                    DossierAnswer(
                        "capacite_economique_assurance",
                        "Assurance responsabilité civile professionnelle",
                        ("Police n° RC-2024-118 (MAAF)",),
                        documents=(
                            document(
                                "capacite_economique_assurance",
                                "Attestation d’assurance 2024.pdf",
                                3,
                                2,
                            ),
                            document("capacite_economique_assurance", "../../etc/passwd.pdf", 3, 2),
                            document(
                                "capacite_economique_assurance",
                                "relevé\x00\x1b[31m\u202eévil.pdf",
                                3,
                                2,
                            ),
                        ),
                    ),
                ),
            ),
        )
    return Dossier(
        application_identifier="FT20240615A1B2C3D4",
        submitted_at=datetime(2024, 6, 15, 14, 30, 5, tzinfo=UTC),
        market=DossierMarket(
            identifier="VR-2024-ABCDEF123456",
            name="Entretien des espaces verts de la commune – accord-cadre",
            buyer_name="Commune de Saint-Étienne-de-Crossey",
            buyer_siret="21380384400015",
            deadline=datetime(2024, 7, 15, 10, 0, tzinfo=UTC),
            market_type_labels=("Services",),
            lots_chosen=("Lot 1 – Tonte et débroussaillage", "Lot 3 – Élagage"),
        ),
        company_siret="13002526500013",
        company_name="Jardins & Paysages d’Œuvre SARL",
        sections=tuple(sections),
        declaration=DECLARATION,
        generated_at=datetime(2024, 6, 15, 14, 31, tzinfo=UTC),
        test_watermark=test_watermark,
        documents=tuple(documents),
    )


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


RUNNING_LINES = re.compile(
    r"^(Attestation (de candidature|acheteur) – FT\w+ – .*"
    r"|Document généré automatiquement le .* Page \d+ / \d+"
    r"|Attestation de test)$"
)


def body_text(pdf: bytes) -> str:
    """The text of all pages without the running header, footer and watermark of each page."""
    return "\n".join(
        line
        for text in pages_text(pdf)
        for line in text.splitlines()
        if not RUNNING_LINES.match(line)
    )


def squash(text: str) -> str:
    """Without any white space: a name wrapped over two lines still reads as one."""
    return re.sub(r"\s+", "", text)


def answers(dossier: Dossier) -> list[DossierAnswer]:
    return [answer for section in dossier.sections for answer in section.answers]


# --- candidate attestation ---------------------------------------------------------------------


def test_the_candidate_attestation_says_what_the_dossier_says():
    dossier = make_dossier()
    pdf = renderer.candidate_attestation(dossier)
    assert pdf.startswith(b"%PDF-")
    text = body_text(pdf)

    assert "Attestation de candidature" in text
    assert "transmise le 15/06/2024 à 16:30 (heure de Paris)" in " ".join(text.split())
    for expected in (
        "Entretien des espaces verts de la commune – accord-cadre",
        "VR-2024-ABCDEF123456",
        "Commune de Saint-Étienne-de-Crossey",
        "21380384400015",
        "Lot 1 – Tonte et débroussaillage",
        "Lot 3 – Élagage",
        "15/07/2024 à 12:00 (heure de Paris)",
        "13002526500013",
        "Jardins & Paysages d’Œuvre SARL",
    ):
        assert expected in text, expected
    for section in dossier.sections:
        assert section.title in text
    flat = squash(text)
    for answer in answers(dossier):
        assert squash(answer.title) in flat, answer.title
        if answer.origin is Origin.DECLARED:
            for line in answer.lines:
                assert squash(line) in flat, line
    assert squash(DECLARATION) in flat
    assert "Cette attestation certifie que la candidature" in text


def test_the_candidate_copy_shows_prefilled_values_with_their_source():
    text = "\n".join(pages_text(renderer.candidate_attestation(make_dossier())))
    assert "Récupéré automatiquement (source : INSEE)" in text
    assert "Récupéré automatiquement (source : DGFIP)" in text
    assert "62.01Z" in text


def test_the_candidate_copy_lists_each_document_with_its_name_in_the_package():
    dossier = make_dossier()
    flat = squash("\n".join(pages_text(renderer.candidate_attestation(dossier))))
    assert "Vosdocuments" in flat
    for document_, member in package_members(dossier):
        if "\x00" not in document_.original_name:
            assert squash(document_.original_name) in flat
        assert squash(member) in flat


def test_french_characters_print_exactly_and_nothing_is_missing(caplog):
    with caplog.at_level(logging.WARNING):
        pdf = renderer.candidate_attestation(make_dossier())
    text = "\n".join(pages_text(pdf))
    assert ACCENTS in text
    assert "?" not in text
    assert "\ufffd" not in text
    assert not [r for r in caplog.records if "missing" in r.getMessage()]


def test_every_page_has_the_generation_time_and_its_number():
    pages = pages_text(renderer.candidate_attestation(make_dossier()))
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert "Document généré automatiquement le 15/06/2024 à 16:31 (heure de Paris)" in text
        assert f"Page {number} / {len(pages)}" in text


def test_the_pdf_metadata_name_the_document_and_passe_marche():
    reader = pypdf.PdfReader(io.BytesIO(renderer.candidate_attestation(make_dossier())))
    assert reader.metadata.title == "Attestation de candidature – FT20240615A1B2C3D4"
    assert reader.metadata.author == "Passe Marché"
    assert reader.metadata.creation_date == datetime(2024, 6, 15, 14, 31, tzinfo=UTC)


@pytest.mark.parametrize("render", ["candidate_attestation", "buyer_attestation"])
def test_outside_production_every_page_says_it_is_a_test(render):
    pages = pages_text(getattr(renderer, render)(make_dossier(test_watermark=True)))
    assert pages
    assert all("Attestation de test" in text for text in pages)


@pytest.mark.parametrize("render", ["candidate_attestation", "buyer_attestation"])
def test_in_production_no_page_says_it_is_a_test(render):
    pages = pages_text(getattr(renderer, render)(make_dossier(test_watermark=False)))
    assert not any("Attestation de test" in text for text in pages)


def test_the_same_dossier_gives_the_same_bytes():
    dossier = make_dossier()
    assert renderer.candidate_attestation(dossier) == renderer.candidate_attestation(dossier)


@pytest.mark.parametrize("render", ["candidate_attestation", "buyer_attestation"])
def test_a_sparse_dossier_says_what_is_missing(render):
    full = make_dossier()
    sparse = Dossier(
        application_identifier="FT20240615A1B2C3D4",
        submitted_at=datetime(2024, 1, 15, 9, 5),  # naive: taken as UTC (Paris is UTC+1)
        market=DossierMarket(
            identifier="VR-2024-ABCDEF123456",
            name="Marché sans lots",
            buyer_name=None,
            buyer_siret="",
            deadline=full.market.deadline,
            market_type_labels=(),
        ),
        company_siret="",
        company_name=None,
        sections=(DossierSection("Section vide", ()),),
        declaration="  ",
        generated_at=datetime(2024, 1, 15, 9, 6),
    )
    text = body_text(getattr(renderer, render)(sparse))
    assert "transmise le 15/01/2024 à 10:05 (heure de Paris)" in " ".join(text.split())
    assert "Section vide" not in text
    assert "Acheteur Non renseigné\n" in text
    assert "SIRET Non renseigné" in text
    assert "L’attestation sur l’honneur est manquante." in text
    assert "Aucun document transmis." in text
    assert "(SIRET )" not in text


# --- long content ----------------------------------------------------------------------------------


def test_long_texts_wrap_and_long_tables_continue_on_the_next_pages():
    rows = tuple(f"Référence {n} : réfection de la toiture de l’école n° {n}" for n in range(150))
    dossier = make_dossier(
        sections=(
            DossierSection(
                "Capacités techniques et professionnelles",
                (
                    DossierAnswer("references", "Références des trois dernières années", rows),
                    DossierAnswer("memoire", "Mémoire technique", (LONG_TEXT,)),
                    DossierAnswer("identifiant", "Identifiant interne", (LONG_WORD,)),
                ),
            ),
        )
    )
    for pdf in (renderer.candidate_attestation(dossier), renderer.buyer_attestation(dossier)):
        pages = pages_text(pdf)
        assert len(pages) >= 5
        flat = squash(body_text(pdf))
        for row in rows:
            assert squash(row) in flat
        assert squash(LONG_TEXT) in flat
        assert LONG_WORD in flat
        assert all(f"Page {n} / {len(pages)}" in t for n, t in enumerate(pages, start=1))


def test_other_scripts_print_and_unprintable_characters_never_reach_the_page():
    dossier = make_dossier(
        sections=(
            DossierSection(
                "Identité de l’entreprise",
                (
                    DossierAnswer("nom_grec", "Nom du dirigeant", ("Νίκος Παπαδόπουλος – Иван",)),
                    DossierAnswer("nom_gras", "Νίκος", ("Chinois : 漢字",)),
                    DossierAnswer(
                        "controle", "Commentaire", ("sans\x00contrôle\u202e ni \x07bip",)
                    ),
                    DossierAnswer("espaces", "Prix", ("Prix\u00a0: 12\u202f000\u00a0€\tHT",)),
                ),
            ),
        )
    )
    for pdf in (renderer.candidate_attestation(dossier), renderer.buyer_attestation(dossier)):
        text = "\n".join(pages_text(pdf))
        assert "Νίκος Παπαδόπουλος – Иван" in text
        assert "Νίκος" in text  # a bold label, from the full bold face
        assert "Chinois : \ufffd\ufffd" in text
        assert "sanscontrôle ni bip" in text
        assert "Prix : 12 000 € HT" in " ".join(text.split())  # no-break spaces kept as spaces


# --- buyer attestation -----------------------------------------------------------------------------


def test_the_buyer_attestation_shows_every_value_and_marks_its_origin():
    dossier = make_dossier()
    text = "\n".join(pages_text(renderer.buyer_attestation(dossier)))
    assert "Attestation acheteur" in text
    flat = squash(text)
    labels = {origin: squash(label) for origin, label in ORIGIN_LABELS.items()}
    position = 0
    for answer in answers(dossier):
        position = flat.index(squash(answer.title), position)
        for line in answer.lines:
            position = flat.index(squash(line), position)
        # The first origin mark after the answer's values is its own.
        marks = {origin: flat.find(label, position) for origin, label in labels.items()}
        found = min((at, origin) for origin, at in marks.items() if at >= 0)
        assert found[1] is answer.origin, answer.title
        position = found[0]


def test_the_buyer_attestation_names_documents_as_in_the_package():
    dossier = make_dossier()
    text = "\n".join(pages_text(renderer.buyer_attestation(dossier)))
    flat = squash(text)
    for _, member in package_members(dossier):
        assert squash(member) in flat
    assert "etc/passwd" not in text
    assert "Attestation d’assurance 2024.pdf" not in text  # original names stay with the candidate


def test_missing_fonts_say_which_debian_package_to_install(tmp_path):
    with pytest.raises(FontUnavailable, match="fonts-dejavu-core"):
        FpdfDocumentRenderer(font_dir=tmp_path).candidate_attestation(make_dossier())


def test_fonts_are_parsed_once_per_process():
    assert FpdfDocumentRenderer().library is FpdfDocumentRenderer().library
    library = font_library()
    assert library.everyday() is library.everyday()


# --- documents package -----------------------------------------------------------------------------

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "zip": "application/zip",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
}


@pytest.fixture
def storage(tmp_path) -> LocalFileStorage:
    return LocalFileStorage(tmp_path / "storage")


def stored(storage: LocalFileStorage, document_: DossierDocument, content: bytes):
    storage.put(document_.storage_key, iter([content]))
    return document_


def content_of(document_: DossierDocument) -> bytes:
    return (f"{document_.original_name}\n".encode() * 200)[:5000]


def build(dossier: Dossier, storage: LocalFileStorage, buyer: bytes = b"%PDF-1.4 buyer") -> bytes:
    target = io.BytesIO()
    ZipPackageBuilder().build(dossier, buyer, storage, target)
    return target.getvalue()


def test_the_package_holds_the_buyer_attestation_at_its_root_and_every_document(storage):
    dossier = make_dossier()
    for document_ in dossier.all_documents():
        stored(storage, document_, content_of(document_))
    buyer = renderer.buyer_attestation(dossier)
    archive = zipfile.ZipFile(io.BytesIO(build(dossier, storage, buyer)))

    assert archive.testzip() is None
    assert archive.namelist() == [
        "buyer_attestation_FT20240615A1B2C3D4.pdf",
        "documents/api_02_01_motifs_exclusion_fiscales_attestation_fiscale.pdf",
        "documents/user_03_02_capacite_economique_assurance_Attestation_d_assurance_2024.pdf",
        "documents/user_03_02_capacite_economique_assurance_passwd.pdf",
        "documents/user_03_02_capacite_economique_assurance_releve_31mevil.pdf",
    ]
    assert archive.read("buyer_attestation_FT20240615A1B2C3D4.pdf") == buyer
    for document_, member in package_members(dossier):
        assert archive.read(member) == content_of(document_)


def test_members_get_the_submission_time_in_paris(storage):
    dossier = make_dossier(sections=())
    archive = zipfile.ZipFile(io.BytesIO(build(dossier, storage)))
    assert archive.infolist()[0].date_time == (2024, 6, 15, 16, 30, 4)  # DOS time: even seconds


@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/passwd.pdf",
        "/etc/passwd.pdf",
        "documents/../../../passwd.pdf",
        "..\\..\\Windows\\System32\\passwd.pdf",
        "C:\\passwd.pdf",
        "documents/pass\x00wd\x1b\r\n.pdf",
        "documents/..",
        "documents/\u202efdp.exe",
        "documents/.hidden",
        "documents/con:passwd?.pdf",
    ],
)
def test_a_hostile_name_lands_inside_documents(storage, tmp_path, hostile):
    document_ = DossierDocument(
        attribute_key="key",
        original_name=hostile,
        package_name=hostile,  # not computed by the domain: the builder must not trust it
        storage_key="uploads/hostile",
        size=3,
        content_type="application/pdf",
    )
    stored(storage, document_, b"pwn")
    dossier = make_dossier(sections=(), documents=(document_,))
    archive = zipfile.ZipFile(io.BytesIO(build(dossier, storage)))

    member = archive.namelist()[1]
    parts = PurePosixPath(member).parts
    assert parts[0] == "documents" and len(parts) == 2, member
    assert ".." not in member and "\\" not in member and ":" not in member
    assert all(ch.isprintable() for ch in member)
    assert not parts[1].startswith(".")
    destination = tmp_path / "extracted"
    archive.extractall(destination)
    for path in destination.rglob("*"):
        assert path.is_relative_to(destination)
        if path.is_file():
            assert path.parent == destination / "documents" or path.name.startswith("buyer_")
    assert (destination / member).read_bytes() == b"pwn"


def test_the_domain_name_of_a_traversal_attempt_is_safe_too():
    dossier = make_dossier()
    names = [member for _, member in package_members(dossier)]
    assert "documents/user_03_02_capacite_economique_assurance_passwd.pdf" in names


def test_duplicate_names_get_a_number_before_the_extension(storage):
    twins = [
        document("key", "facture.pdf", 1, 1),
        document("key", "facture.pdf", 1, 1),
        document("key", "FACTURE.pdf", 1, 1),
        document("key", "facture", 1, 1),
        document("key", "facture", 1, 1),
    ]
    twins = [
        DossierDocument(**{**d.__dict__, "storage_key": f"uploads/twin-{n}"})
        for n, d in enumerate(twins)
    ]
    for n, twin in enumerate(twins):
        stored(storage, twin, f"copy {n}".encode())
    dossier = make_dossier(sections=(), documents=twins)
    archive = zipfile.ZipFile(io.BytesIO(build(dossier, storage)))
    assert archive.namelist()[1:] == [
        "documents/user_01_01_key_facture.pdf",
        "documents/user_01_01_key_facture (2).pdf",
        "documents/user_01_01_key_FACTURE (3).pdf",
        "documents/user_01_01_key_facture",
        "documents/user_01_01_key_facture (2)",
    ]
    assert [archive.read(n) for n in archive.namelist()[1:]] == [
        f"copy {n}".encode() for n in range(5)
    ]


def test_compressed_formats_are_stored_and_the_others_deflated(storage):
    documents = [
        stored(
            storage,
            document(f"key_{extension}", f"piece.{extension}", 1, n, content_type=content_type),
            b"compressible " * 1000,
        )
        for n, (extension, content_type) in enumerate(CONTENT_TYPES.items(), start=1)
    ]
    dossier = make_dossier(sections=(), documents=documents)
    archive = zipfile.ZipFile(io.BytesIO(build(dossier, storage)))
    methods = {
        PurePosixPath(info.filename).suffix.lstrip("."): info.compress_type
        for info in archive.infolist()[1:]
    }
    stored_types = {"pdf", "jpg", "jpeg", "png", "docx", "xlsx", "odt", "ods", "zip"}
    assert methods == {
        extension: zipfile.ZIP_STORED if extension in stored_types else zipfile.ZIP_DEFLATED
        for extension in CONTENT_TYPES
    }
    assert archive.getinfo(archive.namelist()[0]).compress_type == zipfile.ZIP_STORED
    for info in archive.infolist()[1:]:
        assert archive.read(info) == b"compressible " * 1000


def test_a_document_missing_from_storage_stops_the_build(storage):
    dossier = make_dossier()
    with pytest.raises(MissingDocument, match="attestation_fiscale.pdf"):
        build(dossier, storage)


class OneWayStream(io.RawIOBase):
    """A target that cannot seek back (an upload stream): it only counts what it gets."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def test_a_big_stored_file_is_streamed_with_little_memory(storage, tmp_path):
    size = 50 * 1024 * 1024
    big = document("memoire_technique", "mémoire technique.pdf", 4, 1)
    big = DossierDocument(**{**big.__dict__, "size": size})
    path = storage.root / big.storage_key
    path.parent.mkdir(parents=True)
    block = os.urandom(1024 * 1024)
    with path.open("wb") as file:
        for _ in range(size // len(block)):
            file.write(block)
    dossier = make_dossier(sections=(), documents=(big,))

    tracemalloc.start()
    try:
        with (tmp_path / "package.zip").open("wb") as target:
            ZipPackageBuilder().build(dossier, b"%PDF-1.4", storage, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"
    archive = zipfile.ZipFile(tmp_path / "package.zip")
    info = archive.getinfo("documents/user_04_01_memoire_technique_memoire_technique.pdf")
    assert info.file_size == size
    assert info.compress_type == zipfile.ZIP_STORED
    assert archive.testzip() is None

    one_way = OneWayStream()
    ZipPackageBuilder().build(dossier, b"%PDF-1.4", storage, one_way)
    assert size < one_way.size < size + 4096


def test_files_past_the_zip64_limit_get_zip64_records(storage, tmp_path, monkeypatch):
    # 2 GiB files are too big for a test: the limit is lowered instead, for writing and reading.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1024 * 1024)
    big = stored(storage, document("plans", "plans.png", 1, 1), os.urandom(3 * 1024 * 1024))
    dossier = make_dossier(sections=(), documents=(big,))
    with (tmp_path / "package.zip").open("wb") as target:
        ZipPackageBuilder().build(dossier, b"%PDF-1.4", storage, target)
    archive = zipfile.ZipFile(tmp_path / "package.zip")
    info = archive.getinfo("documents/user_01_01_plans_plans.png")
    assert info.file_size == 3 * 1024 * 1024
    assert b"\x01\x00" in info.extra[:2]  # the ZIP64 extra field
    assert archive.testzip() is None

"""Names of the files inside the documents package (SPEC §6): the domain's rules."""

import re
from pathlib import PurePosixPath

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from passemarche.domain.dossier import (
    MAX_NAME_LENGTH,
    Origin,
    package_member_name,
    safe_file_name,
)

SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def test_a_member_name_says_its_origin_numbers_attribute_and_original_name():
    assert (
        package_member_name(Origin.DECLARED, 3, 1, "capacite_economique_assurance", "police.pdf")
        == "documents/user_03_01_capacite_economique_assurance_police.pdf"
    )
    assert (
        package_member_name(Origin.PREFILLED, 2, 12, "motifs_exclusion_fiscales", "attestation.pdf")
        == "documents/api_02_12_motifs_exclusion_fiscales_attestation.pdf"
    )


def test_numbers_are_padded_to_two_digits_and_never_cut():
    assert package_member_name(Origin.DECLARED, 1, 100, "key", "a.pdf").startswith(
        "documents/user_01_100_key_"
    )


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\léa\\Bilan 2023.xlsx", "Bilan_2023.xlsx"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("rapport\x00\x07\x1f\n\r final.pdf", "rapport_final.pdf"),
        ("Mémoire technique – été 2024.docx", "Memoire_technique_ete_2024.docx"),
        ("Kbis « à jour ».pdf", "Kbis_a_jour_.pdf"),
        (".bashrc", "bashrc"),
        ("...pdf", "pdf"),
        ("a..b...c.pdf", "a.b.c.pdf"),
        ("-rf .pdf", "rf_.pdf"),
        ("ｆｕｌｌ ｗｉｄｔｈ.pdf", "full_width.pdf"),
    ],
)
def test_an_original_name_becomes_a_safe_file_name(original, expected):
    assert safe_file_name(original) == expected


@pytest.mark.parametrize("original", ["", "..", "/", "\\", "../..", "\x00\x01", "«»€", "   "])
def test_a_name_with_nothing_safe_left_becomes_document(original):
    assert safe_file_name(original) == "document"


def test_a_long_name_is_cut_and_keeps_its_extension():
    name = safe_file_name("x" * 300 + ".pdf")
    assert len(name) == MAX_NAME_LENGTH
    assert name.endswith("x.pdf")


def test_cutting_a_long_name_never_creates_a_double_dot():
    assert ".." not in safe_file_name("x" * 115 + ".y.y.y.y.y")
    assert not safe_file_name("x" * 115 + "_-_-_-_-_-.pdf").replace(".pdf", "").endswith(("_", "-"))


@given(st.text(max_size=300))
@example("../" * 40 + "x.pdf")
@example("\\\\server\\share\\..\\x.pdf")
@example("a\u202eexe.pdf")
@example("x" * 115 + ".y.y.y.y.y")
def test_any_name_gives_one_safe_path_component(original):
    name = safe_file_name(original)
    assert SAFE.match(name), name
    assert 0 < len(name) <= MAX_NAME_LENGTH
    assert not name.startswith((".", "-"))
    assert ".." not in name


@given(st.text(max_size=MAX_NAME_LENGTH))
def test_a_safe_name_stays_as_it_is(original):
    once = safe_file_name(original)
    assert safe_file_name(once) == once


@given(
    st.sampled_from(list(Origin)),
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=1, max_value=99),
    st.text(max_size=60),
    st.text(max_size=200),
)
def test_a_member_name_stays_inside_the_documents_folder(origin, section, answer, key, original):
    name = package_member_name(origin, section, answer, key, original)
    parts = PurePosixPath(name).parts
    assert parts[0] == "documents"
    assert len(parts) == 2
    assert "\\" not in name
    assert all(ch.isprintable() for ch in name)

import pytest
from hypothesis import given
from hypothesis import strategies as st
from passemarche.domain.errors import InvalidSiret
from passemarche.domain.siret import Siret, is_valid_siret, luhn_valid

from tests.support import INVALID_SIRETS, VALID_SIRETS


@pytest.mark.parametrize("value", VALID_SIRETS)
def test_the_reference_vectors_are_valid(value):
    assert Siret(value).value == value


@pytest.mark.parametrize("value", INVALID_SIRETS)
def test_the_reference_vectors_are_invalid(value):
    with pytest.raises(InvalidSiret):
        Siret(value)


def test_surrounding_spaces_are_stripped():
    assert Siret("  13002526500013 ").value == "13002526500013"


@pytest.mark.parametrize("value", [None, 13002526500013, ["13002526500013"], "130 025 265 00013"])
def test_anything_but_a_string_of_digits_is_refused(value):
    with pytest.raises(InvalidSiret):
        Siret(value)


def test_a_siret_knows_its_siren_and_compares_by_value():
    assert Siret("13002526500013").siren == "130025265"
    assert Siret("13002526500013") == Siret(" 13002526500013")


digits = st.text(alphabet="0123456789", min_size=13, max_size=13)


@given(digits)
def test_exactly_one_check_digit_completes_any_thirteen_digits(prefix):
    if prefix.startswith("356000000"):
        return  # La Poste numbers follow their own rule, tested below
    completions = [d for d in "0123456789" if is_valid_siret(prefix + d)]
    assert len(completions) == 1


@given(digits, st.integers(min_value=0, max_value=12), st.integers(min_value=1, max_value=9))
def test_changing_one_digit_of_a_valid_siret_breaks_it(prefix, position, shift):
    if prefix.startswith("356000000"):
        return
    valid = next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))
    changed = valid[:position] + str((int(valid[position]) + shift) % 10) + valid[position + 1 :]
    assert not is_valid_siret(changed)


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_la_poste_numbers_are_valid_by_luhn_or_by_a_digit_sum_multiple_of_five(suffix):
    value = "356000000" + suffix
    assert is_valid_siret(value) == (luhn_valid(value) or sum(map(int, value)) % 5 == 0)


@given(st.text(min_size=14, max_size=14).filter(lambda s: not s.isascii() or not s.isdigit()))
def test_fourteen_characters_that_are_not_all_ascii_digits_are_refused(value):
    assert not is_valid_siret(value)

"""The SIRET value object: 14 digits, Luhn-valid, with La Poste's exception."""

from __future__ import annotations

from dataclasses import dataclass

from passemarche.domain.errors import InvalidSiret

_LA_POSTE_PREFIX = "356000000"
_ASCII_DIGITS = frozenset("0123456789")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_valid_siret(value: str) -> bool:
    """True for 14 ASCII digits that pass Luhn; La Poste numbers are also valid when their digit
    sum is a multiple of 5 (its establishments share one SIREN and outgrew the Luhn rule)."""
    if len(value) != 14 or not set(value) <= _ASCII_DIGITS:
        return False
    if luhn_valid(value):
        return True
    return value.startswith(_LA_POSTE_PREFIX) and sum(ord(c) - 48 for c in value) % 5 == 0


@dataclass(frozen=True, slots=True)
class Siret:
    value: str

    def __init__(self, value: object) -> None:
        if not isinstance(value, str):
            raise InvalidSiret()
        cleaned = value.strip()
        if not is_valid_siret(cleaned):
            raise InvalidSiret()
        object.__setattr__(self, "value", cleaned)

    @property
    def siren(self) -> str:
        return self.value[:9]

    def __str__(self) -> str:
        return self.value

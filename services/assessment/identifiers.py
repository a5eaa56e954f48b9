"""Check and normalise the identifiers that link a family member to records held by other agencies.

An assessment is shared between agencies by the child's identifiers, so a mistyped NHS number or unique pupil
number would link a child to another family's record; the check digit or check letter catches most typing
errors before that happens. These functions are pure: they do no I/O and no logging, and they answer None
rather than raise, so the value checked never reaches an exception message or a log.

UPN check letter: DfE "Unique pupil numbers (UPNs)", https://www.gov.uk/government/publications/unique-pupil-numbers
"""

import re
from enum import StrEnum
from typing import assert_never

__all__ = [
    "IdentifierSystem",
    "normalise",
    "normalise_local_identifier",
    "normalise_nhs_number",
    "normalise_upn",
]


class IdentifierSystem(StrEnum):
    """The schemes that issue the identifiers of a family member."""

    NHS = "nhs"
    UPN = "upn"
    LOCAL = "local"


# Ten digits, or the 3-3-4 grouping with one kind of separator throughout. [0-9], not \d: \d matches other scripts.
_NHS_NUMBER = re.compile(r"([0-9]{3})([ -]?)([0-9]{3})\2([0-9]{4})")

# The check letters, and the values of the letter that ends a temporary UPN: A=0 ... Z=22, without I, O and S.
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN = re.compile(rf"[{_UPN_LETTERS}][0-9]{{11}}[0-9{_UPN_LETTERS}]")

_LOCAL_IDENTIFIER_MAX_LENGTH = 64


def _nhs_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for the first nine digits of an NHS number, or None when there is none (10)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def _upn_check_letter(last_twelve: str) -> str:
    """The check letter for characters 2 to 13 of a UPN, weighted 2 to 13 and taken modulo 23."""
    total = sum(
        (int(character) if character.isdigit() else _UPN_LETTERS.index(character)) * weight
        for character, weight in zip(last_twelve, range(2, 14), strict=True)
    )
    return _UPN_LETTERS[total % 23]


def normalise_nhs_number(value: str) -> str | None:
    """The NHS number as ten digits, accepting the 3-3-4 grouping with spaces or hyphens; None when invalid."""
    match = _NHS_NUMBER.fullmatch(value.strip())
    if match is None:
        return None
    digits = match.group(1) + match.group(3) + match.group(4)
    if _nhs_check_digit(digits[:9]) != int(digits[9]):
        return None
    return digits


def normalise_upn(value: str) -> str | None:
    """The unique pupil number (permanent or temporary) in upper case; None when invalid."""
    upn = value.strip().upper()
    if _UPN.fullmatch(upn) is None:
        return None
    if _upn_check_letter(upn[1:]) != upn[0]:
        return None
    return upn


def normalise_local_identifier(value: str) -> str | None:
    """The local identifier stripped, when it is 1 to 64 printable characters with no whitespace; else None."""
    identifier = value.strip()
    if not 1 <= len(identifier) <= _LOCAL_IDENTIFIER_MAX_LENGTH:
        return None
    if not identifier.isprintable() or any(character.isspace() for character in identifier):
        return None
    return identifier


def normalise(system: IdentifierSystem, value: str) -> str | None:
    """The identifier normalised by the rules of its system; None when invalid."""
    match system:
        case IdentifierSystem.NHS:
            return normalise_nhs_number(value)
        case IdentifierSystem.UPN:
            return normalise_upn(value)
        case IdentifierSystem.LOCAL:
            return normalise_local_identifier(value)
        case _:
            assert_never(system)

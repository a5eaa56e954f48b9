"""The checks on family members' identifiers: NHS numbers, unique pupil numbers and local identifiers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.assessment.identifiers import (
    IdentifierSystem,
    normalise,
    normalise_local_identifier,
    normalise_nhs_number,
    normalise_upn,
)
from tests.support.samples import nhs_check_digit

# Written out again from the published rules rather than imported, so the tests do not check the code against itself
# (the NHS number's check digit is in tests/support/samples.py, which makes valid numbers for other tests too).
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
DIGITS = "0123456789"


def upn_check_letter(last_twelve: str) -> str:
    """Characters 2..13 weighted 2..13, summed, modulo 23, mapped onto A..Z without I, O and S."""
    total = 0
    for weight, character in enumerate(last_twelve, start=2):
        value = int(character) if character in DIGITS else UPN_LETTERS.index(character)
        total += weight * value
    return UPN_LETTERS[total % 23]


# --- NHS numbers ------------------------------------------------------------------------------------------------

VALID_NHS_NUMBERS = [
    "9434765919",
    "9434765870",
    "4010232137",
    # Computed by hand with the Modulus 11 rule.
    "1234567881",
    "9876543210",
    "4505577104",
    "4857773457",
    "0000000000",
]


@pytest.mark.parametrize("number", VALID_NHS_NUMBERS)
def test_valid_nhs_number_is_accepted_unchanged(number: str) -> None:
    assert normalise_nhs_number(number) == number


def test_nhs_number_whose_check_digit_computes_to_eleven_takes_zero() -> None:
    # 943476587: weighted sum 319 = 11 * 29, so 11 - 0 = 11, which stands for 0.
    assert nhs_check_digit("943476587") == 0
    assert normalise_nhs_number("9434765870") == "9434765870"


@pytest.mark.parametrize(
    "number",
    ["9434765918", "9434765910", "9434765871", "4010232138", "1234567882", "9876543211"],
)
def test_nhs_number_with_a_wrong_check_digit_is_refused(number: str) -> None:
    assert normalise_nhs_number(number) is None


@pytest.mark.parametrize("first_nine", ["123456789", "400000008", "999000000"])
def test_nhs_number_whose_check_digit_would_be_ten_is_refused_whatever_its_last_digit(first_nine: str) -> None:
    assert nhs_check_digit(first_nine) == 10
    for last in DIGITS:
        assert normalise_nhs_number(first_nine + last) is None


@pytest.mark.parametrize("number", ["", "1", "943476591", "94347659190", "94347659199", "943 476 591"])
def test_nhs_number_of_the_wrong_length_is_refused(number: str) -> None:
    assert normalise_nhs_number(number) is None


@pytest.mark.parametrize("number", ["943476591A", "A434765919", "943476S919", "9434765g19", "NHS9434765919"])
def test_nhs_number_with_letters_is_refused(number: str) -> None:
    assert normalise_nhs_number(number) is None


@pytest.mark.parametrize(
    "written",
    ["943 476 5919", "943-476-5919", "  943 476 5919 ", "9434765919\n"],
)
def test_nhs_number_in_the_usual_grouping_is_normalised_to_ten_digits(written: str) -> None:
    assert normalise_nhs_number(written) == "9434765919"


@pytest.mark.parametrize(
    "written",
    [
        "9434 765 919",  # wrong grouping
        "94 347 65919",
        "943 4765919",  # only one separator
        "943476 5919",
        "943 476-5919",  # mixed separators
        "943  476  5919",  # doubled separators
        "943--476--5919",
        "943.476.5919",  # other separators
        "943/476/5919",
        "943_476_5919",
        "943\t476\t5919",
        "9 4 3 4 7 6 5 9 1 9",
        "+449434765919",
        "-9434765919",
        "".join(chr(0x0660 + int(digit)) for digit in "9434765919"),  # Arabic-Indic digits
        "".join(chr(0xFF10 + int(digit)) for digit in "9434765919"),  # full-width digits
    ],
)
def test_nhs_number_in_any_other_formatting_is_refused(written: str) -> None:
    assert normalise_nhs_number(written) is None


nine_digits = st.text(alphabet=DIGITS, min_size=9, max_size=9)
valid_nhs_numbers = nine_digits.filter(lambda stem: nhs_check_digit(stem) != 10).map(
    lambda stem: stem + str(nhs_check_digit(stem))
)


@given(valid_nhs_numbers)
def test_generated_valid_nhs_number_round_trips_in_every_accepted_formatting(number: str) -> None:
    assert normalise_nhs_number(number) == number
    assert normalise_nhs_number(f"{number[:3]} {number[3:6]} {number[6:]}") == number
    assert normalise_nhs_number(f"{number[:3]}-{number[3:6]}-{number[6:]}") == number


@given(nine_digits)
def test_every_nine_digits_admit_at_most_one_check_digit(first_nine: str) -> None:
    accepted = [last for last in DIGITS if normalise_nhs_number(first_nine + last) is not None]
    expected = [] if nhs_check_digit(first_nine) == 10 else [str(nhs_check_digit(first_nine))]
    assert accepted == expected


@given(valid_nhs_numbers, st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_changing_any_single_digit_of_a_valid_nhs_number_makes_it_invalid(
    number: str, position: int, shift: int
) -> None:
    changed_digit = str((int(number[position]) + shift) % 10)
    changed = number[:position] + changed_digit + number[position + 1 :]
    assert changed != number
    assert normalise_nhs_number(changed) is None


# --- Unique pupil numbers ---------------------------------------------------------------------------------------

# From the python-stdnum documentation of stdnum.gb.upn (not the DfE guidance itself); checked by hand:
# 8*2 + 1*4 + 2*5 + 5*10 + 1*13 = 93 = 4*23 + 1, and 1 is B.
PUBLISHED_UPN = "B801200005001"

# Constructed with the algorithm (and checked against upn_check_letter below).
VALID_PERMANENT_UPNS = [PUBLISHED_UPN, "P207000016049", "Z936212018001", "Q201500224007", "J201500224003"]
VALID_TEMPORARY_UPNS = ["G88812345678A", "J93621201801Z", "P30220111234K"]


@pytest.mark.parametrize("upn", VALID_PERMANENT_UPNS + VALID_TEMPORARY_UPNS)
def test_constructed_upn_examples_agree_with_the_published_algorithm(upn: str) -> None:
    assert upn_check_letter(upn[1:]) == upn[0]


@pytest.mark.parametrize("upn", VALID_PERMANENT_UPNS)
def test_valid_permanent_upn_is_accepted_unchanged(upn: str) -> None:
    assert normalise_upn(upn) == upn


@pytest.mark.parametrize("upn", VALID_TEMPORARY_UPNS)
def test_valid_temporary_upn_ending_in_a_letter_is_accepted(upn: str) -> None:
    assert normalise_upn(upn) == upn


@pytest.mark.parametrize("upn", VALID_PERMANENT_UPNS + VALID_TEMPORARY_UPNS)
def test_upn_in_lower_case_is_normalised_to_upper_case(upn: str) -> None:
    assert normalise_upn(upn.lower()) == upn
    assert normalise_upn(upn[0].lower() + upn[1:]) == upn


@pytest.mark.parametrize(
    "upn",
    [
        "A801200005001",  # the published example with the wrong check letter
        "C801200005001",
        "Q207000016049",  # a third-party worked example says Q; by the rule 266 = 11*23 + 13, and 13 is P
        "H88812345678A",
        "G88812345678B",  # temporary UPN with its last letter changed
    ],
)
def test_upn_with_a_wrong_check_letter_is_refused(upn: str) -> None:
    assert normalise_upn(upn) is None


@pytest.mark.parametrize(
    "upn",
    [
        "",
        "B80120000500",  # 12 characters
        "B8012000050011",  # 14 characters
        "801200005001",  # no check letter
        "1801200005001",  # digit for the check letter
        "I801200005001",  # I, O and S are never check letters
        "B80120000A001",  # letters only at the end
        "B8012000050A1",
        "BB01200005001",
        "B80120000500I",  # I, O and S are not in the letter table either
        "B80120000500O",
        "B80120000500S",
        "B801 2000 05001",
        "B-801200005001",
        "B80120000500\u0661",  # Arabic-Indic digit one
        "\uff22801200005001",  # full-width B
    ],
)
def test_malformed_upn_is_refused(upn: str) -> None:
    assert normalise_upn(upn) is None


def test_upn_surrounded_by_whitespace_is_stripped() -> None:
    assert normalise_upn("  b801200005001\n") == PUBLISHED_UPN


upn_middle = st.text(alphabet=DIGITS, min_size=11, max_size=11)
permanent_upns = st.builds(lambda middle, last: middle + last, upn_middle, st.sampled_from(DIGITS)).map(
    lambda rest: upn_check_letter(rest) + rest
)
temporary_upns = st.builds(lambda middle, last: middle + last, upn_middle, st.sampled_from(UPN_LETTERS)).map(
    lambda rest: upn_check_letter(rest) + rest
)


@given(permanent_upns | temporary_upns)
def test_generated_valid_upn_round_trips_from_upper_or_lower_case(upn: str) -> None:
    assert normalise_upn(upn) == upn
    assert normalise_upn(upn.lower()) == upn


@given(permanent_upns | temporary_upns, st.integers(min_value=0, max_value=12), st.data())
def test_changing_any_single_character_of_a_valid_upn_to_one_of_its_kind_makes_it_invalid(
    upn: str, position: int, data: st.DataObject
) -> None:
    # A check letter becomes another letter, a digit another digit, a final letter another letter. 23 is prime and
    # every weight is below it, so the weighted sum moves by a non-multiple of 23.
    alphabet = UPN_LETTERS if upn[position] in UPN_LETTERS else DIGITS
    changed_character = data.draw(st.sampled_from(alphabet.replace(upn[position], "")))
    changed = upn[:position] + changed_character + upn[position + 1 :]
    assert normalise_upn(changed) is None


# --- Local identifiers and the dispatcher -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("LA-12345", "LA-12345"),
        ("  case/2024/0001 \n", "case/2024/0001"),
        ("x", "x"),
        ("a" * 64, "a" * 64),
        ("Zoë-7", "Zoë-7"),
    ],
)
def test_local_identifier_is_stripped_and_accepted(written: str, expected: str) -> None:
    assert normalise_local_identifier(written) == expected


@pytest.mark.parametrize(
    "written",
    [
        "",
        "   ",
        "a" * 65,
        "LA 12345",  # whitespace inside
        "LA\t12345",
        "LA\u00a012345",  # no-break space
        "LA\x0012345",  # control character
        "LA\u200b12345",  # zero-width space
    ],
)
def test_local_identifier_that_is_empty_too_long_or_has_whitespace_or_unprintables_is_refused(written: str) -> None:
    assert normalise_local_identifier(written) is None


@pytest.mark.parametrize(
    ("system", "written", "expected"),
    [
        (IdentifierSystem.NHS, "943 476 5919", "9434765919"),
        (IdentifierSystem.NHS, "9434765918", None),
        (IdentifierSystem.UPN, "b801200005001", "B801200005001"),
        (IdentifierSystem.UPN, "A801200005001", None),
        (IdentifierSystem.LOCAL, " LA-12345 ", "LA-12345"),
        (IdentifierSystem.LOCAL, "LA 12345", None),
    ],
)
def test_normalise_applies_the_rules_of_the_identifier_system(
    system: IdentifierSystem, written: str, expected: str | None
) -> None:
    assert normalise(system, written) == expected


def test_normalise_accepts_the_system_by_its_string_value() -> None:
    assert normalise(IdentifierSystem("nhs"), "9434765919") == "9434765919"
    assert [system.value for system in IdentifierSystem] == ["nhs", "upn", "local"]

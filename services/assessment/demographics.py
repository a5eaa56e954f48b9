"""What a family member may be recorded as beyond their name and birth: sex, ethnicity, first language,
special educational needs or disability, being a young carer, and where they live; and the age band a
report counts a child in.

Councils break their figures down by these (locality, protected characteristics), so each is a closed list
or a checked format rather than free text. Every one is optional: a family is never asked to say more than
it wants to. Like the identifiers, these are personal data: they are answered over REST to those who may read
the family, and never put in an event or a log. Pure functions and constants, no I/O.

Ethnicity: the 19 categories, in 5 groups, of the ONS 2021 Census for England and Wales
(https://www.ons.gov.uk/census/census2021dictionary/variablesbytopic/ethnicgroupnationalidentitylanguageandreligionvariablescensus2021/ethnicgroup).
Postcodes: the format of the Royal Mail's postcodes, as the GOV.UK design system checks them.
"""

import re
from datetime import date
from enum import StrEnum
from typing import Final, Literal

Sex = Literal["female", "male", "indeterminate", "not_known"]
SendStatus = Literal["none", "sen_support", "ehc_plan"]


class Ethnicity(StrEnum):
    ASIAN_BANGLADESHI = "asian_bangladeshi"
    ASIAN_CHINESE = "asian_chinese"
    ASIAN_INDIAN = "asian_indian"
    ASIAN_PAKISTANI = "asian_pakistani"
    ASIAN_OTHER = "asian_other"
    BLACK_AFRICAN = "black_african"
    BLACK_CARIBBEAN = "black_caribbean"
    BLACK_OTHER = "black_other"
    MIXED_WHITE_AND_ASIAN = "mixed_white_and_asian"
    MIXED_WHITE_AND_BLACK_AFRICAN = "mixed_white_and_black_african"
    MIXED_WHITE_AND_BLACK_CARIBBEAN = "mixed_white_and_black_caribbean"
    MIXED_OTHER = "mixed_other"
    WHITE_BRITISH = "white_british"
    WHITE_IRISH = "white_irish"
    WHITE_GYPSY_OR_IRISH_TRAVELLER = "white_gypsy_or_irish_traveller"
    WHITE_ROMA = "white_roma"
    WHITE_OTHER = "white_other"
    OTHER_ARAB = "other_arab"
    OTHER_ANY = "other_any"


ASIAN: Final = "Asian, Asian British or Asian Welsh"
BLACK: Final = "Black, Black British, Black Welsh, Caribbean or African"
MIXED: Final = "Mixed or Multiple ethnic groups"
WHITE: Final = "White"
OTHER: Final = "Other ethnic group"

# Each category's group and its name, as the Census asks them.
ETHNIC_CATEGORIES: Final[dict[Ethnicity, tuple[str, str]]] = {
    Ethnicity.ASIAN_BANGLADESHI: (ASIAN, "Bangladeshi"),
    Ethnicity.ASIAN_CHINESE: (ASIAN, "Chinese"),
    Ethnicity.ASIAN_INDIAN: (ASIAN, "Indian"),
    Ethnicity.ASIAN_PAKISTANI: (ASIAN, "Pakistani"),
    Ethnicity.ASIAN_OTHER: (ASIAN, "Any other Asian background"),
    Ethnicity.BLACK_AFRICAN: (BLACK, "African"),
    Ethnicity.BLACK_CARIBBEAN: (BLACK, "Caribbean"),
    Ethnicity.BLACK_OTHER: (BLACK, "Any other Black, Black British or Caribbean background"),
    Ethnicity.MIXED_WHITE_AND_ASIAN: (MIXED, "White and Asian"),
    Ethnicity.MIXED_WHITE_AND_BLACK_AFRICAN: (MIXED, "White and Black African"),
    Ethnicity.MIXED_WHITE_AND_BLACK_CARIBBEAN: (MIXED, "White and Black Caribbean"),
    Ethnicity.MIXED_OTHER: (MIXED, "Any other Mixed or Multiple background"),
    Ethnicity.WHITE_BRITISH: (WHITE, "English, Welsh, Scottish, Northern Irish or British"),
    Ethnicity.WHITE_IRISH: (WHITE, "Irish"),
    Ethnicity.WHITE_GYPSY_OR_IRISH_TRAVELLER: (WHITE, "Gypsy or Irish Traveller"),
    Ethnicity.WHITE_ROMA: (WHITE, "Roma"),
    Ethnicity.WHITE_OTHER: (WHITE, "Any other White background"),
    Ethnicity.OTHER_ARAB: (OTHER, "Arab"),
    Ethnicity.OTHER_ANY: (OTHER, "Any other ethnic group"),
}

# Outward code (area, district) and inward code (sector, unit); GIR 0AA is Girobank's, still valid.
_POSTCODE = re.compile(
    r"(GIR0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]([0-9ABEHMNPRV-Y])?|[0-9][A-HJKPS-UW])[0-9][ABD-HJLNP-UW-Z]{2})"
)


def normalise_postcode(value: str) -> str | None:
    """`sw1a1aa` -> `SW1A 1AA`: capitals, one space before the inward code; None when it is no UK postcode."""
    compact = re.sub(r"\s+", "", value).upper()
    if len(compact) > 7 or not _POSTCODE.fullmatch(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


# The age bands of the Department for Education's children in need statistics (under 1, 1 to 4, 5 to 9, 10 to 15,
# 16 and over, the last split at 18 for the young adults a family plan may include), so that a council can set its
# early help figures beside its children in need ones: (the first age past the band, its name).
AGE_BANDS: Final = ((1, "under_1"), (5, "1_to_4"), (10, "5_to_9"), (16, "10_to_15"), (18, "16_to_17"))
ADULT_BAND: Final = "18_and_over"


def age_on(born: date, on: date) -> int:
    """Whole years from `born` to `on`; a birthday on 29 February falls on 1 March in other years."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_band(born: date | None, on: date) -> str | None:
    """The age band of someone born on `born`, on the day `on`; None when the date of birth is not recorded."""
    if born is None:
        return None
    age = age_on(born, on)
    return next((name for limit, name in AGE_BANDS if age < limit), ADULT_BAND)

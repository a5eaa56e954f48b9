"""The families' made-up people: names, ages, relationships and valid NHS numbers that never repeat within a seed."""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from tools.synthetic.proportions import pick

# NHS numbers: 8 digits scrambled from the member's serial by a bijection, so none repeats within a run;
# each seed (0-99) draws from its own block of serials.
SERIALS_PER_SEED = 1_000_000
MEMBERS_PER_FAMILY = 5  # at most 3 children and 2 adults
SCRAMBLE, OFFSET = 61_803_399, 31_415_926  # an affine bijection on 8 digits: SCRAMBLE is coprime with 10**8
LEADS = (
    "Aisha Rahman", "Ben Thornton", "Chloe Evans", "Dev Patel", "Ellie Morgan", "Farah Hussain",
    "Gareth Jones", "Hannah Byrne", "Isaac Mensah", "Jade Collins", "Kieran Walsh", "Lucy Adeyemi",
)  # fmt: skip
LEADS_DOMAIN = "council.example"


def lead_email(name: str) -> str:
    """A made-up lead professional's work address: the caseload report knows them by it."""
    return f"{name.lower().replace(' ', '.')}@{LEADS_DOMAIN}"


GIVEN_NAMES = {
    "female": ("Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Sophia", "Grace", "Aisha", "Zara", "Maya",
               "Poppy", "Ruby", "Evie", "Hana", "Nadia", "Chloe", "Ellie", "Layla", "Sienna", "Amara", "Leah", "Megan"),
    "male": ("Oliver", "Noah", "George", "Leo", "Arthur", "Muhammad", "Harry", "Oscar", "Jack", "Charlie", "Theo",
             "Finley", "Ethan", "Kai", "Rhys", "Tyler", "Zain", "Jayden", "Callum", "Reuben", "Kofi", "Adam", "Liam"),
}  # fmt: skip
FAMILY_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
    "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris",
    "Clarke", "Patel", "Khan", "Ahmed", "Ali", "Begum", "Hussain", "Okafor", "Mensah", "Nowak", "Kowalski",
    "Murphy", "Kelly", "O'Brien", "Campbell", "Stewart", "Singh", "Kaur", "Chen", "Nguyen", "Osei", "Mohamed",
    "Carter", "Price", "Bennett", "Wood", "Turner", "Hill", "Cooper", "Ward", "Morris", "King", "Baker", "Fisher",
)  # fmt: skip


# Where the demo's families live: postcode districts of the demo's locality lookup
# (`services/assessment/data/postcode-localities.csv`), so that the reports break them down by locality.
DISTRICTS = ("LS1", "LS2", "LS3", "LS4", "LS5", "LS6", "LS7", "LS8", "LS9", "LS10", "LS11", "LS12", "LS13", "LS14",
             "LS16")  # fmt: skip
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a postcode's last two may be
# A made-up mix of the Census's ethnic groups, roughly a northern English city's children.
ETHNICITIES = {
    "white_british": 66, "white_other": 6, "asian_pakistani": 8, "asian_indian": 3, "asian_bangladeshi": 1,
    "black_african": 5, "black_caribbean": 1, "mixed_white_and_black_caribbean": 3, "mixed_other": 3,
    "other_arab": 1, "other_any": 3,
}  # fmt: skip


@dataclass(frozen=True)
class Member:
    role: str  # child or adult
    given_name: str
    family_name: str
    date_of_birth: date
    relationship: str  # as the assessment form names it
    gender: str
    nhs_number: str
    postcode: str  # the family's home
    ethnicity: str


def nhs_number(seed: int, serial: int) -> str:
    """A valid NHS number (Modulus 11), different for every serial below SERIALS_PER_SEED within a seed."""
    digits = f"{(SCRAMBLE * (seed * SERIALS_PER_SEED + serial) + OFFSET) % 10**8:08d}"
    for ninth in "0123456789":  # at most one ninth digit leaves no check digit (11 - total % 11 == 10)
        body = digits + ninth
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return body + str(check % 11)
    raise AssertionError("unreachable: two ninth digits cannot both leave no check digit")


def _born(rng: random.Random, as_of: date, youngest: int, oldest: int) -> date:
    return as_of - timedelta(days=rng.randint(youngest * 365 + 30, oldest * 365 + 300))


def _home(seed: int, index: int) -> tuple[str, str]:
    """The family's postcode and ethnic group, drawn apart from the rest of its story, which stays as it was."""
    rng = random.Random(f"{seed}:{index}:home")
    postcode = f"{rng.choice(DISTRICTS)} {rng.randint(1, 9)}{rng.choice(UNIT_LETTERS)}{rng.choice(UNIT_LETTERS)}"
    return postcode, pick(rng, ETHNICITIES)


def family_members(rng: random.Random, seed: int, index: int, as_of: date) -> tuple[Member, ...]:
    """One to three children and one or two adults; mostly one surname; one home."""
    surname = rng.choice(FAMILY_NAMES)
    people: list[tuple[str, str, str, date, str]] = []  # role, gender, relationship, born, family name
    for n in range(pick(rng, {1: 45, 2: 35, 3: 20})):
        gender = rng.choice(("female", "male"))
        people.append(("child", gender, "sibling" if n else "child", _born(rng, as_of, 0, 16), surname))
    carer = pick(rng, {"mother": 88, "father": 12})
    people.append(("adult", "female" if carer == "mother" else "male", carer, _born(rng, as_of, 20, 48), surname))
    if rng.random() < 0.45:
        other = pick(
            rng,
            {"father": 45, "step_parent": 40, "grandparent": 15}
            if carer == "mother"
            else {"step_parent": 60, "grandparent": 40},
        )
        born = _born(rng, as_of, 40, 70) if other == "grandparent" else _born(rng, as_of, 20, 52)
        name = rng.choice(FAMILY_NAMES) if other == "step_parent" else surname
        people.append(("adult", "male" if carer == "mother" else "female", other, born, name))
    postcode, ethnicity = _home(seed, index)
    return tuple(
        Member(role, rng.choice(GIVEN_NAMES[gender]), name, born, relationship, gender,
               nhs_number(seed, index * MEMBERS_PER_FAMILY + n), postcode, ethnicity)
        for n, (role, gender, relationship, born, name) in enumerate(people)
    )  # fmt: skip

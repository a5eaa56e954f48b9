"""Small builders of test data: sample answers, families, NHS numbers."""

import copy
import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "assessment" / "samples"


def sample(key: str, version: int) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads((SAMPLES / f"{key}-{version}.json").read_text())
    return answers


def submitted_sample(family_id: str, key: str, version: int = 1) -> dict[str, Any]:
    """The body of `POST /assessments` that submits the form's sample answers for a family at once."""
    form = {"key": key, "version": version}
    return {"family_id": family_id, "form": form, "answers": sample(key, version), "status": "submitted"}


def assessment_answers(*, started: str = "2025-02-17", needs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The early help assessment's sample answers, started on `started`, with `needs` when given."""
    answers = copy.deepcopy(sample("early-help-assessment", 1))
    answers["about_the_assessment"]["date_started"] = started
    answers["about_the_assessment"]["consent_date"] = started
    if needs is not None:
        answers["needs"] = needs
    return answers


def family_body(nhs_number: str = "9434765919") -> dict[str, Any]:
    return {
        "members": [
            {
                "role": "child",
                "given_name": "Amara",
                "family_name": "Okafor",
                "date_of_birth": "2017-05-14",
                "identifiers": [{"system": "nhs", "value": nhs_number}],
            },
            {"role": "adult", "given_name": "Grace", "family_name": "Okafor", "relationship": "mother"},
        ]
    }


# From the published rule rather than imported from the services, so tests do not check the code against itself.
def nhs_check_digit(first_nine: str) -> int:
    """Modulus 11 over weights 10..2; 11 means 0; 10 means there is no valid number (returned as 10)."""
    remainder = sum(int(digit) * (10 - position) for position, digit in enumerate(first_nine)) % 11
    return (11 - remainder) % 11


def nhs_numbers(count: int, start: int = 943476000) -> list[str]:
    """`count` valid NHS numbers, one per family."""
    numbers: list[str] = []
    stem = start
    while len(numbers) < count:
        check = nhs_check_digit(str(stem))
        if check != 10:
            numbers.append(f"{stem}{check}")
        stem += 1
    return numbers

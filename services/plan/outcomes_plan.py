"""The council's Supporting Families outcomes plan: a file it supplies, checked when the service starts.

The plan names the headline outcome areas a family may join on, each with its indicators and how long
progress must hold to count as significant and sustained; how long continuous employment must last; what a
claim is paid; and the families to claim for in each financial year (April to March). The file is YAML or
JSON, checked against `data/supporting-families-outcomes-plan.schema.json` and then for what a schema
cannot say (no key twice, a year named as its two calendar years). A plan that does not hold together stops
the service at start-up with a message naming the file and the place in it.
"""

import json
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel

DATA = Path(__file__).parent / "data"
DEMO_PLAN = DATA / "supporting-families-outcomes-plan.yaml"
SCHEMA = DATA / "supporting-families-outcomes-plan.schema.json"
FIRST_MONTH = 4  # a council's financial year starts on 1 April


class OutcomesPlanInvalid(RuntimeError):
    """The outcomes plan file cannot be used; the message says where and why."""


class Indicator(BaseModel):
    key: str
    description: str


class HeadlineArea(BaseModel):
    key: str
    name: str
    sustained_months: int | None = None
    indicators: list[Indicator]


class Sustained(BaseModel):
    sustained_months: int


class ContinuousEmployment(BaseModel):
    months: int


class Target(BaseModel):
    year: str
    families: int


class OutcomesPlan(BaseModel):
    council: str
    minimum_areas: int
    significant_and_sustained: Sustained
    continuous_employment: ContinuousEmployment
    payment_per_claim: int
    headline_areas: list[HeadlineArea]
    targets: list[Target]

    def area(self, key: str) -> HeadlineArea | None:
        return next((area for area in self.headline_areas if area.key == key), None)

    def months_sustained(self, area: HeadlineArea) -> int:
        """How long progress in `area` must hold: its own rule, or the plan's."""
        return area.sustained_months or self.significant_and_sustained.sustained_months

    def target(self, year: str) -> int | None:
        return next((target.families for target in self.targets if target.year == year), None)


def financial_year(day: date) -> str:
    """The financial year `day` falls in, named as councils name it: 2025-26 runs from April 2025 to March 2026."""
    start = day.year if day.month >= FIRST_MONTH else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def year_bounds(year: str) -> tuple[date, date]:
    """The first and last day of a financial year named as 2025-26; ValueError when it is not such a name."""
    first, _, second = year.partition("-")
    if not (len(first) == 4 and first.isdigit() and len(second) == 2 and second.isdigit()):
        raise ValueError(f"{year!r} is not a financial year such as 2025-26")
    start = int(first)
    if (start + 1) % 100 != int(second):
        raise ValueError(f"{year!r} does not name two years in a row, as 2025-26 does")
    return date(start, FIRST_MONTH, 1), date(start + 1, FIRST_MONTH - 1, 31)


def _pointer(path: Any) -> str:
    return "/" + "/".join(str(part) for part in path)


def _repeated(keys: list[str]) -> list[str]:
    return sorted({key for key in keys if keys.count(key) > 1})


def _inconsistencies(plan: OutcomesPlan) -> list[str]:
    found = [f"/headline_areas: {key!r} is listed twice" for key in _repeated([a.key for a in plan.headline_areas])]
    for number, area in enumerate(plan.headline_areas):
        found += [
            f"/headline_areas/{number}/indicators: {key!r} is listed twice"
            for key in _repeated([indicator.key for indicator in area.indicators])
        ]
    found += [f"/targets: the year {year!r} is listed twice" for year in _repeated([t.year for t in plan.targets])]
    for number, target in enumerate(plan.targets):
        try:
            year_bounds(target.year)
        except ValueError as error:
            found.append(f"/targets/{number}/year: {error}")
    if plan.minimum_areas > len(plan.headline_areas):
        found.append(f"/minimum_areas: {plan.minimum_areas} is more than the {len(plan.headline_areas)} areas listed")
    return found


def load_outcomes_plan(path: Path) -> OutcomesPlan:
    """The outcomes plan in `path`, checked; `OutcomesPlanInvalid` saying where it fails when it cannot be used."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise OutcomesPlanInvalid(f"The Supporting Families outcomes plan {path} cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise OutcomesPlanInvalid(
            f"The Supporting Families outcomes plan {path} is neither YAML nor JSON: {error}"
        ) from error
    validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    failures = [f"{_pointer(error.absolute_path)}: {error.message}" for error in errors]
    if not failures:
        plan = OutcomesPlan.model_validate(document)
        failures = _inconsistencies(plan)
    if failures:
        raise OutcomesPlanInvalid(
            f"The Supporting Families outcomes plan {path} does not hold together:\n  " + "\n  ".join(failures)
        )
    return plan

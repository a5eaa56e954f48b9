"""Child population by locality: the council's figures, read once at start.

Rates per 10,000 children and the list of localities a manager filters by come from a CSV the council supplies,
with the columns `locality_code,locality_name,children` (children aged 0 to 17, as the council publishes them:
the ONS mid-year estimates by ward, summed to its localities). The demo ships made-up figures for its
made-up localities (`data/child-population.csv`).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

SHIPPED_POPULATION = Path(__file__).parent / "data" / "child-population.csv"
COLUMNS = ("locality_code", "locality_name", "children")


@dataclass(frozen=True)
class LocalityPopulation:
    code: str
    name: str
    children: int


class PopulationInvalid(ValueError):
    """The council's population file does not hold together; the service does not start with it."""


def load_population(path: Path) -> dict[str, LocalityPopulation]:
    """The localities in `path` by code; `PopulationInvalid` naming the line when it is not one."""
    found: dict[str, LocalityPopulation] = {}
    with path.open(newline="", encoding="utf-8-sig") as lines:
        reader = csv.DictReader(lines)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise PopulationInvalid(f"{path}: the columns must be {', '.join(COLUMNS)}.")
        for row in reader:
            code, name, children = ((row[column] or "").strip() for column in COLUMNS)
            if not code or not name or not children.isdigit() or code in found:
                raise PopulationInvalid(f"{path}, line {reader.line_num}: a new code, a name and a whole number.")
            found[code] = LocalityPopulation(code, name, int(children))
    return found

"""Postcode to locality: the council's lookup file, read once at start.

A council reports by the localities its early help teams cover, not by postcode. The lookup is a CSV with the
columns `postcode_prefix,locality_code,locality_name`, each prefix a postcode district (`LS6`) or sector
(`LS6 2`); a sector's line wins over its district's. The postcode itself never leaves this service: the
reporting profile answers the locality alone. The demo ships made-up localities for the districts its
families live in (`data/postcode-localities.csv`).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

SHIPPED_LOCALITIES = Path(__file__).parent / "data" / "postcode-localities.csv"
COLUMNS = ("postcode_prefix", "locality_code", "locality_name")


@dataclass(frozen=True)
class Locality:
    code: str
    name: str


class LocalityLookupInvalid(ValueError):
    """The council's lookup file does not hold together; the service does not start with it."""


@dataclass(frozen=True)
class Localities:
    by_prefix: dict[str, Locality]

    def of(self, postcode: str | None) -> Locality | None:
        """The locality of a normalised postcode (`LS6 2AB`): its sector's, else its district's; None unknown."""
        if not postcode or " " not in postcode:
            return None
        district, inward = postcode.split(" ", 1)
        return self.by_prefix.get(f"{district} {inward[:1]}") or self.by_prefix.get(district)


def load_localities(path: Path) -> Localities:
    """The lookup in `path`; `LocalityLookupInvalid` naming the line when it is not one."""
    by_prefix: dict[str, Locality] = {}
    with path.open(newline="", encoding="utf-8-sig") as lines:
        reader = csv.DictReader(lines)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise LocalityLookupInvalid(f"{path}: the columns must be {', '.join(COLUMNS)}.")
        for row in reader:
            prefix = " ".join((row["postcode_prefix"] or "").upper().split())
            code, name = (row["locality_code"] or "").strip(), (row["locality_name"] or "").strip()
            if not prefix or not code or not name:
                raise LocalityLookupInvalid(f"{path}, line {reader.line_num}: a prefix, a code and a name.")
            if by_prefix.get(prefix, Locality(code, name)) != Locality(code, name):
                raise LocalityLookupInvalid(f"{path}, line {reader.line_num}: {prefix} is in two localities.")
            by_prefix[prefix] = Locality(code, name)
    return Localities(by_prefix)

"""The access audit's hash chain: each entry's hash covers its own fields and the hash before it.

Changing, removing or reordering a stored entry breaks the chain at that entry,
which `verify` names. The first entry follows `GENESIS`.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from services.consent.models import AuditEntry

GENESIS = "0" * 64
HASHED_FIELDS = (
    "position",
    "event_id",
    "actor",
    "organisation_id",
    "organisation_type",
    "action",
    "resource_type",
    "resource_id",
    "family_id",
    "basis",
    "basis_reference",
    "occurred_at",
    "recorded_at",
    "previous_hash",
)


def entry_hash(entry: AuditEntry) -> str:
    fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    fields["occurred_at"] = entry.occurred_at.isoformat()
    fields["recorded_at"] = entry.recorded_at.isoformat()
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    first_broken_position: int | None = None
    problem: str | None = None


class ChainCheck:
    """Fed the entries in position order, a page at a time; stops at the first that does not follow."""

    def __init__(self) -> None:
        self.previous_hash, self.expected_position, self.entries = GENESIS, 1, 0
        self.broken: Verification | None = None

    def feed(self, entries: Iterable[AuditEntry]) -> bool:
        """False once the chain is broken: there is no need to read further."""
        for entry in entries:
            self.entries += 1
            problem = self._problem(entry)
            if problem is not None:
                self.broken = Verification(False, self.entries, entry.position, problem)
                return False
            self.previous_hash, self.expected_position = entry.hash, entry.position + 1
        return True

    def _problem(self, entry: AuditEntry) -> str | None:
        if entry.position != self.expected_position:
            return f"entry {self.expected_position} is missing"
        if entry.previous_hash != self.previous_hash:
            return "it does not follow the entry before it"
        if entry_hash(entry) != entry.hash:
            return "its content no longer matches its hash"
        return None

    def result(self) -> Verification:
        return self.broken or Verification(True, self.entries)

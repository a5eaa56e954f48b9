"""The access audit's hash chain: each entry's hash covers its own fields and the hash before it.

Changing, removing or reordering a stored entry breaks the chain at that entry,
which `ChainCheck` names. The first entry follows `GENESIS`. An entry rewritten
together with every hash after it still chains; the signed checkpoints fed
beside the entries show it, at the first checkpoint after the rewrite.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.consent.models import AuditCheckpoint, AuditEntry

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
    entries: int  # how many entries this check read
    first_broken_position: int | None = None
    problem: str | None = None
    checked_from: int = 1  # the first position read: 1, or the last signed checkpoint's
    checkpoints: int = 0  # how many signed checkpoints the entries were compared with


class ChainCheck:
    """Fed the entries in position order, a page at a time; stops at the first that does not follow.

    It starts at the first entry, or at a signed checkpoint's entry (`previous_hash` then being
    that entry's own: its hash is what the checkpoint vouches for).
    """

    def __init__(self, previous_hash: str = GENESIS, expected_position: int = 1) -> None:
        self.previous_hash, self.expected_position = previous_hash, expected_position
        self.checked_from, self.entries, self.checkpoints = expected_position, 0, 0
        self.broken: Verification | None = None

    def feed(self, entries: Iterable[AuditEntry], signed: Mapping[int, AuditCheckpoint]) -> bool:
        """False once the chain is broken: there is no need to read further.

        `signed` holds the checkpoints, by position, whose signatures were checked.
        """
        for entry in entries:
            self.entries += 1
            problem = self._problem(entry, signed.get(entry.position))
            if problem is not None:
                self.broken = self.failed(entry.position, problem)
                return False
            self.previous_hash, self.expected_position = entry.hash, entry.position + 1
        return True

    def _problem(self, entry: AuditEntry, checkpoint: AuditCheckpoint | None) -> str | None:
        if entry.position != self.expected_position:
            return f"entry {self.expected_position} is missing"
        if entry.previous_hash != self.previous_hash:
            return "it does not follow the entry before it"
        if entry_hash(entry) != entry.hash:
            return "its content no longer matches its hash"
        if checkpoint is not None:
            if checkpoint.hash != entry.hash:
                return (
                    f"it no longer has the hash signed in checkpoint {checkpoint.sequence}: "
                    "this entry or one before it was rewritten and rehashed"
                )
            self.checkpoints += 1
        return None

    def failed(self, position: int | None, problem: str) -> Verification:
        return Verification(False, self.entries, position, problem, self.checked_from, self.checkpoints)

    @property
    def end(self) -> tuple[int, str]:
        """The position and hash of the last entry that verified."""
        return self.expected_position - 1, self.previous_hash

    def result(self) -> Verification:
        return self.broken or Verification(True, self.entries, None, None, self.checked_from, self.checkpoints)

"""The rule that decides whether an organisation holds a basis for a family's data: pure, so it is checked exhaustively.

An organisation holds a basis for a family's records of a category on the
first of these that holds at that moment, in this order:

1. it wrote the records in question (authorship, told by the service that keeps them);
2. it is on the family's team (told by the plan service, or known to the caller);
3. a relation the consent service records for the family covers the category:
   it wrote the family's records of that category (authorship), is on the plan's
   team (team), or was allocated the work by the front door (allocation);
4. its practitioner holds an open safeguarding override;
5. it holds a sharing grant that covers the category, the purpose and the
   organisation (by id or by type), has started, has not ended and was not withdrawn;
6. it is an early help coordinator, whose basis is its public task (`public_task`).

Anything else is refused, with a reason that names no record. The same rule
decides reads, writes, who may share and who may answer a request for access.

The categories are `assessment`, `plan` and `case_notes` (the participants and
summaries of the contacts recorded on a plan). No category opens another: an
organisation that may see a plan does not thereby see its case notes. The
authors of a plan's case notes are the plan's authors, the organisation that
opened it and its lead professional's organisation, who keep its case record;
its team is not named for them, so a place on the team (which opens the
family's assessments and plans) opens its case notes only with a grant that
covers `case_notes`, an override or a coordinator's public task, as for anyone
else. An allocation covers `assessment` and `plan`, not `case_notes`.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Question:
    family_id: str
    organisation_id: str
    organisation_type: str
    practitioner: str
    category: str
    purpose: str
    authors: Collection[str] = ()
    team: Collection[str] = ()
    coordinator: bool = False


class GrantRow(Protocol):
    """A stored grant, wherever it is kept (the consent service's own rows, or a service's copy of them)."""

    @property
    def id(self) -> str: ...
    @property
    def family_id(self) -> str: ...
    @property
    def categories(self) -> Collection[str]: ...
    @property
    def recipient_organisations(self) -> Collection[str]: ...
    @property
    def recipient_types(self) -> Collection[str]: ...
    @property
    def purpose(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime | None: ...
    @property
    def withdrawn_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class GrantTerms:
    id: str
    family_id: str
    categories: Collection[str]
    recipient_organisations: Collection[str]
    recipient_types: Collection[str]
    purpose: str
    starts_at: datetime
    ends_at: datetime | None
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, row: GrantRow) -> "GrantTerms":
        return cls(
            id=row.id,
            family_id=row.family_id,
            categories=row.categories,
            recipient_organisations=row.recipient_organisations,
            recipient_types=row.recipient_types,
            purpose=row.purpose,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            withdrawn_at=row.withdrawn_at,
        )

    def covers(self, question: Question, at: datetime) -> bool:
        return (
            self.family_id == question.family_id
            and question.category in self.categories
            and self.purpose == question.purpose
            and (
                question.organisation_id in self.recipient_organisations
                or question.organisation_type in self.recipient_types
            )
            and self.starts_at <= at
            and (self.ends_at is None or at < self.ends_at)
            and (self.withdrawn_at is None or at < self.withdrawn_at)
        )


@dataclass(frozen=True)
class RelationTerms:
    """An organisation's standing with a family: it wrote its records, is on its team, or was allocated the work."""

    family_id: str
    organisation_id: str
    kind: str  # authorship, team, allocation
    categories: Collection[str]
    since: datetime
    ended_at: datetime | None = None

    def covers(self, question: Question, at: datetime) -> bool:
        return (
            self.family_id == question.family_id
            and self.organisation_id == question.organisation_id
            and question.category in self.categories
            and self.since <= at
            and (self.ended_at is None or at < self.ended_at)
        )


@dataclass(frozen=True)
class OverrideTerms:
    id: str
    family_id: str
    organisation_id: str
    practitioner: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None

    def covers(self, question: Question, at: datetime) -> bool:
        return (
            self.family_id == question.family_id
            and self.organisation_id == question.organisation_id
            and self.practitioner == question.practitioner
            and self.opened_at <= at < self.expires_at
            and (self.closed_at is None or at < self.closed_at)
        )


@dataclass(frozen=True)
class Decision:
    permit: bool
    basis: str | None  # authorship, team, allocation, override, grant, public_task
    reference: str | None  # the organisation, override or grant behind the basis
    reason: str


NO_BASIS = (
    "Your organisation did not write this, is not on the family's team, was not allocated the work, holds no "
    "open safeguarding override, and the family has not agreed to share this with it."
)
_RELATION_REASONS = {
    "authorship": "Your organisation wrote the family's records of this kind.",
    "team": "Your organisation is on the family's team.",
    "allocation": "The work with this family was allocated to your organisation.",
}


def decide(
    question: Question,
    grants: Iterable[GrantTerms],
    overrides: Iterable[OverrideTerms],
    at: datetime,
    relations: Iterable[RelationTerms] = (),
) -> Decision:
    if question.organisation_id in question.authors:
        return Decision(True, "authorship", question.organisation_id, "Your organisation wrote it.")
    if question.organisation_id in question.team:
        return Decision(True, "team", question.organisation_id, "Your organisation is on the family's team.")
    for relation in sorted(relations, key=lambda relation: _RELATION_ORDER.index(relation.kind)):
        if relation.covers(question, at):
            return Decision(True, relation.kind, question.organisation_id, _RELATION_REASONS[relation.kind])
    for override in overrides:
        if override.covers(question, at):
            return Decision(True, "override", override.id, "A safeguarding override is open.")
    for grant in sorted(grants, key=lambda grant: grant.id):
        if grant.covers(question, at):
            return Decision(True, "grant", grant.id, "The family's sharing grant covers it.")
    if question.coordinator:
        return Decision(
            True, "public_task", question.organisation_id, "Your organisation coordinates early help for the council."
        )
    return Decision(False, None, None, NO_BASIS)


_RELATION_ORDER = tuple(_RELATION_REASONS)

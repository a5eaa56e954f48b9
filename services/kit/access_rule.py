"""The rule that decides whether an organisation may read a family's data: pure, so it can be checked exhaustively.

A read is permitted on the first basis that holds at that moment, in this
order: the organisation wrote the record (authorship); it is on the family's
team; its practitioner holds an open safeguarding override; or it holds a
sharing grant that covers the category, the purpose and the organisation (by
id or by type), has started, has not ended and was not withdrawn. Anything
else is refused, with a reason that names no record.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime


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
    basis: str | None  # authorship, team, override, grant
    reference: str | None  # the organisation, override or grant behind the basis
    reason: str


NO_BASIS = (
    "Your organisation did not write this, is not on the family's team, holds no open safeguarding "
    "override, and the family has not agreed to share this with it."
)


def decide(
    question: Question, grants: Iterable[GrantTerms], overrides: Iterable[OverrideTerms], at: datetime
) -> Decision:
    if question.organisation_id in question.authors:
        return Decision(True, "authorship", question.organisation_id, "Your organisation wrote it.")
    if question.organisation_id in question.team:
        return Decision(True, "team", question.organisation_id, "Your organisation is on the family's team.")
    for override in overrides:
        if override.covers(question, at):
            return Decision(True, "override", override.id, "A safeguarding override is open.")
    for grant in sorted(grants, key=lambda grant: grant.id):
        if grant.covers(question, at):
            return Decision(True, "grant", grant.id, "The family's sharing grant covers it.")
    return Decision(False, None, None, NO_BASIS)

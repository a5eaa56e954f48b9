"""A plan's document: its team, needs, goals, actions, reviews and episodes, typed, stored as JSON beside its columns.

A contact's participants are kept the same way, in the contact's own row.

The whole document changes under one version (the ETag), so it lives in JSON
columns of the plan's row. Each part is a pydantic model in the code and the
same JSON in the database as before these types existed: `PlanDocumentColumn`
turns one into the other at the database's edge, so no migration was needed.
Text that came from another service (an assessment's outcome areas) stays
`str` here: the API's own models say what a caller may send.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer, TypeAdapter
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NeedStatus = Literal["open", "met", "not_met"]
# Stored as `isoformat()` writes it (`+00:00`), as every plan written so far holds it.
Moment = Annotated[datetime, PlainSerializer(datetime.isoformat, when_used="json")]


class Part(BaseModel):
    """One part of the document; frozen, so a change makes a new document rather than editing the stored one."""

    model_config = ConfigDict(frozen=True)


class TeamMember(Part):
    organisation_id: str
    role: str
    name: str | None = None  # the person, when the team names one


class Need(Part):
    id: str
    description: str
    outcome_area: str
    status: NeedStatus = "open"


class Goal(Part):
    id: str
    need_ids: list[str]
    outcome_area: str
    description: str
    measure_of_success: str
    added_at: Moment


class Action(Part):
    id: str
    description: str
    owner: str
    organisation_id: str
    due_on: date
    done_on: date | None = None


class Attendee(Part):
    name: str
    role: str
    organisation_id: str | None = None  # none for the family


class Participant(Part):
    """Who took part in a contact with the family: a person, or a role where no name is kept."""

    name: str | None = None
    role: str
    organisation_id: str | None = None  # none for the family and people outside any organisation


class Rating(Part):
    goal_id: str
    stage: str
    score: int


class Review(Part):
    id: str
    held_on: date
    attendees: list[Attendee]
    family_voice: str
    ratings: list[Rating]
    next_review_due: date
    recorded_by: str
    organisation_id: str
    recorded_at: Moment


class Episode(Part):
    """One spell of early help on the plan: from its opening, or a reopening, to its closure.

    A reopening starts a new episode and leaves the closed one as it was, so a
    reopened plan still counts in the closures of the period it closed in.
    """

    number: int  # 1 for the opening, then one more for each reopening
    opened_on: date
    re_referral: bool  # opened within 12 months of the family's last closure
    days_since_last_closure: int | None = None
    closed_on: date | None = None
    close_reason: str | None = None
    close_note: str | None = None
    outcome_areas: int = 0  # distinct outcome areas of the plan's needs, as closed
    all_needs_met: bool = False  # as closed


def dumped(parts: Sequence[Part]) -> list[dict[str, Any]]:
    """The parts as the JSON the database and the API hold."""
    return [part.model_dump(mode="json") for part in parts]


class PlanDocumentColumn(TypeDecorator[list[Any]]):
    """A JSON column holding a list of one kind of part: typed in Python, plain JSON in the database."""

    impl = JSON
    cache_ok = True

    def __init__(self, part: type[Part]) -> None:
        super().__init__()
        self.part = part
        self._parts: TypeAdapter[list[Any]] = TypeAdapter(list[part])  # type: ignore[valid-type]

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else dumped(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> list[Any] | None:
        return None if value is None else self._parts.validate_python(value)

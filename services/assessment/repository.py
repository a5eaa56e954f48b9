"""Every query the assessment service makes."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, func, insert, inspect, null, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from services.assessment.models import (
    Assessment,
    AssessmentRevision,
    Family,
    FormVersion,
    Person,
    PersonIdentifier,
    RequestDecision,
)


async def form_version(session: AsyncSession, key: str, version: int) -> FormVersion | None:
    return await session.get(FormVersion, (key, version))


async def form_state(session: AsyncSession, key: str, version: int) -> tuple[str, str] | None:
    """A version's status and hash, without its definition: all that posting an assessment needs of it."""
    query = select(col(FormVersion.status), col(FormVersion.sha256)).where(
        col(FormVersion.key) == key, col(FormVersion.version) == version
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def insert_assessment(session: AsyncSession, assessment: Assessment, revision: AssessmentRevision) -> None:
    """Both rows in two statements, without the unit of work: this is the hot path of every assessment posted."""
    await session.execute(insert(Assessment), [_columns(assessment)])
    await session.execute(insert(AssessmentRevision), [_columns(revision)])


def _columns(row: SQLModel) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in inspect(type(row)).columns}


async def form_versions(session: AsyncSession, key: str | None = None) -> Sequence[FormVersion]:
    query = select(FormVersion).order_by(col(FormVersion.key), col(FormVersion.version))
    if key is not None:
        query = query.where(col(FormVersion.key) == key)
    return (await session.scalars(query)).all()


async def latest_published(session: AsyncSession, key: str) -> FormVersion | None:
    query = (
        select(FormVersion)
        .where(col(FormVersion.key) == key, col(FormVersion.status) == "published")
        .order_by(col(FormVersion.version).desc())
        .limit(1)
    )
    return await session.scalar(query)


async def highest_version(session: AsyncSession, key: str) -> int:
    return int(await session.scalar(select(func.max(FormVersion.version)).where(col(FormVersion.key) == key)) or 0)


async def family(session: AsyncSession, family_id: str) -> Family | None:
    return await session.get(Family, family_id)


async def members(session: AsyncSession, family_ids: Sequence[str]) -> Sequence[Person]:
    query = select(Person).where(col(Person.family_id).in_(family_ids)).order_by(col(Person.position))
    return (await session.scalars(query)).all()


async def children_in_family(session: AsyncSession, family_id: str) -> int:
    query = select(func.count()).where(col(Person.family_id) == family_id, col(Person.role) == "child")
    return int(await session.scalar(query) or 0)


async def identifiers(session: AsyncSession, family_ids: Sequence[str]) -> Sequence[PersonIdentifier]:
    query = select(PersonIdentifier).where(col(PersonIdentifier.family_id).in_(family_ids))
    return (await session.scalars(query)).all()


async def family_holding(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> str | None:
    """The family of a person already known by any of these (system, value) identifiers."""
    if not keys:
        return None
    query = select(col(PersonIdentifier.family_id)).where(
        tuple_(col(PersonIdentifier.system), col(PersonIdentifier.value)).in_(keys)
    )
    return await session.scalar(query.limit(1))


async def family_of_member_born(session: AsyncSession, keys: Sequence[tuple[str, str]], born: date) -> str | None:
    """The family of a person known by any of these (system, value) identifiers and born on `born`."""
    query = (
        select(col(PersonIdentifier.family_id))
        .join(Person, col(Person.id) == col(PersonIdentifier.person_id))
        .where(tuple_(col(PersonIdentifier.system), col(PersonIdentifier.value)).in_(keys))
        .where(col(Person.date_of_birth) == born)
    )
    return await session.scalar(query.limit(1))


async def families_by_identifier(session: AsyncSession, system: str, value: str) -> Sequence[str]:
    query = select(col(PersonIdentifier.family_id)).where(
        col(PersonIdentifier.system) == system, col(PersonIdentifier.value) == value
    )
    return (await session.scalars(query)).all()


async def authors_of_family(session: AsyncSession, family: Family) -> set[str]:
    """The organisations that wrote something about the family: its registration or an assessment."""
    query = select(col(Assessment.organisation_id)).where(col(Assessment.family_id) == family.id).distinct()
    return {family.created_by_organisation, *(await session.scalars(query)).all()}


async def assessment(session: AsyncSession, assessment_id: str, *, for_update: bool = False) -> Assessment | None:
    """`for_update` locks the row until the transaction ends, so a concurrent change waits and then sees ours."""
    return await session.get(Assessment, assessment_id, with_for_update=for_update)


async def assessments_of_family(session: AsyncSession, family_id: str) -> Sequence[Assessment]:
    query = select(Assessment).where(col(Assessment.family_id) == family_id).order_by(col(Assessment.created_at))
    return (await session.scalars(query)).all()


def _drafts_of(organisation_id: str) -> Any:
    return and_(col(Assessment.organisation_id) == organisation_id, col(Assessment.status) == "draft")


async def drafts_of_organisation(session: AsyncSession, organisation_id: str, limit: int) -> Sequence[Assessment]:
    """The organisation's own assessments still in draft, the most recently changed first."""
    query = (
        select(Assessment)
        .where(_drafts_of(organisation_id))
        .order_by(col(Assessment.updated_at).desc(), col(Assessment.id))
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def count_drafts_of_organisation(session: AsyncSession, organisation_id: str) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(Assessment).where(_drafts_of(organisation_id))) or 0
    )


async def revisions(session: AsyncSession, assessment_id: str) -> Sequence[AssessmentRevision]:
    query = (
        select(AssessmentRevision)
        .where(col(AssessmentRevision.assessment_id) == assessment_id)
        .order_by(col(AssessmentRevision.number))
    )
    return (await session.scalars(query)).all()


async def revision(session: AsyncSession, assessment_id: str, number: int) -> AssessmentRevision | None:
    return await session.get(AssessmentRevision, (assessment_id, number))


# --- the front door -----------------------------------------------------------------


async def request_decision(session: AsyncSession, assessment_id: str) -> RequestDecision | None:
    return await session.get(RequestDecision, assessment_id)


async def count_waiting_requests(session: AsyncSession, form_key: str) -> int:
    """How many submitted assessments of the form have no decision yet."""
    query = (
        select(func.count())
        .select_from(Assessment)
        .outerjoin(RequestDecision, col(RequestDecision.assessment_id) == col(Assessment.id))
        .where(
            col(Assessment.form_key) == form_key,
            col(Assessment.status) == "submitted",
            col(RequestDecision.assessment_id).is_(None),
        )
    )
    return int(await session.scalar(query) or 0)


async def allocated_requests(session: AsyncSession, organisation_id: str) -> Sequence[tuple[str, str, str]]:
    """Every decided request whose work went to the organisation: its id, family and author."""
    query = (
        select(col(Assessment.id), col(Assessment.family_id), col(Assessment.organisation_id))
        .join(RequestDecision, col(RequestDecision.assessment_id) == col(Assessment.id))
        .where(col(RequestDecision.allocated_organisation_id) == organisation_id)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]


async def waiting_requests(
    session: AsyncSession, form_key: str, limit: int, after: Assessment | None
) -> Sequence[Assessment]:
    """Submitted assessments of the form with no decision yet, oldest first, from just after `after`."""
    query = (
        select(Assessment)
        .outerjoin(RequestDecision, col(RequestDecision.assessment_id) == col(Assessment.id))
        .where(
            col(Assessment.form_key) == form_key,
            col(Assessment.status) == "submitted",
            col(RequestDecision.assessment_id).is_(None),
        )
    )
    if after is not None:
        query = query.where(
            or_(
                col(Assessment.submitted_at) > after.submitted_at,
                and_(col(Assessment.submitted_at) == after.submitted_at, col(Assessment.id) > after.id),
            )
        )
    query = query.order_by(col(Assessment.submitted_at), col(Assessment.id)).limit(limit)
    return (await session.scalars(query)).all()


async def decided_requests(
    session: AsyncSession, limit: int, after: RequestDecision | None, allocated_to: str | None
) -> Sequence[tuple[Assessment, RequestDecision]]:
    """Decided requests with their decisions, latest decision first, from just after `after`;
    with `allocated_to`, only those whose work went to that organisation."""
    query = select(Assessment, RequestDecision).join(
        RequestDecision, col(RequestDecision.assessment_id) == col(Assessment.id)
    )
    if allocated_to is not None:
        query = query.where(col(RequestDecision.allocated_organisation_id) == allocated_to)
    if after is not None:
        query = query.where(
            or_(
                col(RequestDecision.decided_at) < after.decided_at,
                and_(
                    col(RequestDecision.decided_at) == after.decided_at,
                    col(RequestDecision.assessment_id) < after.assessment_id,
                ),
            )
        )
    query = query.order_by(col(RequestDecision.decided_at).desc(), col(RequestDecision.assessment_id).desc())
    rows = await session.execute(query.limit(limit))
    return [(assessment, decision) for assessment, decision in rows.all()]


# --- reports ----------------------------------------------------------------------------


class Decided(NamedTuple):
    group: str | None
    outcome: str
    working_days_to_decision: int
    postcodes: tuple[str | None, ...] = ()  # the family's members', in the order given; asked for by locality


# What `by=` breaks the front door's report down by in SQL: the organisation that made the request. By locality
# the report places each family from its members' postcodes (`front_door_decisions(postcodes=True)`).
FRONT_DOOR_BREAKDOWNS: dict[str, Any] = {"agency": Assessment.organisation_id}


async def front_door_decisions(
    session: AsyncSession,
    since: datetime,
    before: datetime,
    visible_to: str | None,
    by: str | None,
    *,
    postcodes: bool = False,
) -> list[Decided]:
    """Each request decided in [since, before): its outcome and working days; with `visible_to`, only the
    requests that organisation made or was allocated; with `postcodes`, its family's members' postcodes in the
    order they were given, read in the same statement (a row a member, gathered here into one a decision)."""
    group = (col(FRONT_DOOR_BREAKDOWNS[by]) if by in FRONT_DOOR_BREAKDOWNS else null()).label("group")
    query = (
        select(
            col(RequestDecision.assessment_id),
            group,
            col(RequestDecision.outcome),
            col(RequestDecision.working_days_to_decision),
        )
        .join_from(RequestDecision, Assessment, col(Assessment.id) == col(RequestDecision.assessment_id))
        .where(col(RequestDecision.decided_at) >= since, col(RequestDecision.decided_at) < before)
    )
    if visible_to is not None:
        query = query.where(
            or_(
                col(Assessment.organisation_id) == visible_to,
                col(RequestDecision.allocated_organisation_id) == visible_to,
            )
        )
    if not postcodes:
        return [Decided(found, outcome, days) for _, found, outcome, days in await session.execute(query)]
    with_postcodes: Select[Any] = (
        query.add_columns(col(Person.postcode))
        .outerjoin(Person, col(Person.family_id) == col(Assessment.family_id))
        .order_by(col(RequestDecision.assessment_id), col(Person.position))
    )
    decided: dict[str, Decided] = {}
    for assessment_id, found, outcome, days, postcode in await session.execute(with_postcodes):
        earlier = decided[assessment_id].postcodes if assessment_id in decided else ()
        decided[assessment_id] = Decided(found, outcome, days, (*earlier, postcode))
    return list(decided.values())

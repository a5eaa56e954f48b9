"""Every query the plan service makes: plans, who may see them by right of them, contacts, assessments seen,
referrals to social care, the Supporting Families ledger, and reports.

Reports read narrow columns and count in Python (`service.reports`), which
keeps the SQL the same on SQLite and PostgreSQL. `visible_to` narrows a
report to the plans an organisation wrote, leads or is on the team of; None
counts them all.
"""

from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import JSON, Date, Integer, Select, and_, case, delete, distinct, func, null, or_, select, type_coerce
from sqlalchemy import cast as cast_as
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from services.plan.models import (
    AssessmentRecord,
    Plan,
    PlanContact,
    PlanEpisode,
    PlanOrganisation,
    ReportingChild,
    ReportingFamily,
    SocialCareReferral,
    SupportingFamiliesClaim,
    SupportingFamiliesEnrolment,
    episode_rows,
)
from services.plan.transitions import DISCARDED, STEPPED_UP

REQUEST_FOR_SUPPORT = "request-for-support"
REVIEWS_DUE_BATCH = 500

# --- plans ------------------------------------------------------------------------------


async def plan(session: AsyncSession, plan_id: str, *, for_update: bool = False) -> Plan | None:
    statement = select(Plan).where(col(Plan.id) == plan_id)
    if for_update:
        statement = statement.with_for_update()
    found: Plan | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def family_plans(session: AsyncSession, family_id: str) -> list[Plan]:
    statement = select(Plan).where(col(Plan.family_id) == family_id).order_by(col(Plan.created_at))
    return list((await session.execute(statement)).scalars())


def _led_by(organisation_id: str, email: str) -> Any:
    return and_(
        col(Plan.lead_organisation_id) == organisation_id,
        func.lower(col(Plan.lead_email)) == email.lower(),
        col(Plan.status).not_in(("closed", DISCARDED)),
    )


async def open_plans_led_by(session: AsyncSession, organisation_id: str, email: str) -> list[Plan]:
    """The open plans whose lead is `email` of `organisation_id`: the next review due first, none last."""
    statement = (
        select(Plan)
        .where(_led_by(organisation_id, email))
        .order_by(col(Plan.next_review_due).is_(None), col(Plan.next_review_due), col(Plan.created_at))
    )
    return list((await session.execute(statement)).scalars())


async def count_open_plans_led_by(session: AsyncSession, organisation_id: str, email: str) -> int:
    return int(await session.scalar(select(func.count()).select_from(Plan).where(_led_by(organisation_id, email))) or 0)


async def saved_unless_another_is_open(
    session: AsyncSession, plan: Plan, change: Callable[[Plan], None] | None = None
) -> bool:
    """Write the plan now, `change`d; False, and nothing written, when the family's one open plan (or the
    assessment's) clashes.

    The change is made inside the savepoint: a row changed before it would be flushed on entering it,
    outside the savepoint, and a clash there would spoil the whole transaction.
    """
    try:
        async with session.begin_nested():
            if change is not None:
                change(plan)
            await save(session, plan)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def save(session: AsyncSession, plan: Plan) -> None:
    """The plan, and its episodes as the rows the reports count."""
    session.add(plan)
    for episode in episode_rows(plan):
        await session.merge(episode)


async def replace_organisations(session: AsyncSession, plan_id: str, organisations: Collection[str]) -> None:
    """Who may see the plan by right of it, as the plan now says."""
    await session.execute(delete(PlanOrganisation).where(col(PlanOrganisation.plan_id) == plan_id))
    session.add_all(PlanOrganisation(plan_id=plan_id, organisation_id=org) for org in sorted(organisations))


async def organisations_of_family_plans(session: AsyncSession, family_id: str) -> set[str]:
    """Every organisation that may see one of the family's plans by right of it: authors, leads and teams."""
    statement = (
        select(col(PlanOrganisation.organisation_id))
        .join(Plan, col(Plan.id) == col(PlanOrganisation.plan_id))
        .where(col(Plan.family_id) == family_id)
    )
    return set((await session.scalars(statement)).all())


async def last_closure(session: AsyncSession, family_id: str) -> date | None:
    """When an episode of the family's early help last closed (a discarded draft was never open)."""
    statement = select(func.max(PlanEpisode.closed_on)).where(
        col(PlanEpisode.family_id) == family_id, col(PlanEpisode.close_reason) != DISCARDED
    )
    last: date | None = (await session.execute(statement)).scalar_one_or_none()
    return last


async def open_plan_of(session: AsyncSession, family_id: str, assessment_id: str | None) -> str | None:
    """The plan that stood in the way of a new one: the family's open plan, or the assessment's own."""
    clash = col(Plan.family_id) == family_id, col(Plan.status).not_in(("closed", DISCARDED))
    found: str | None = (await session.execute(select(col(Plan.id)).where(*clash))).scalar_one_or_none()
    if found is None and assessment_id is not None:
        found = (
            await session.execute(select(col(Plan.id)).where(col(Plan.assessment_id) == assessment_id))
        ).scalar_one_or_none()
    return found


async def reviews_falling_due(session: AsyncSession, today: date) -> list[Plan]:
    """Active plans whose review has fallen due and is not yet announced, locked, skipping those another holds."""
    statement = (
        select(Plan)
        .where(col(Plan.status) == "active", col(Plan.next_review_due) <= today)
        .where(
            (col(Plan.review_due_announced).is_(None)) | (col(Plan.review_due_announced) != col(Plan.next_review_due))
        )
        .with_for_update(skip_locked=True)
        .limit(REVIEWS_DUE_BATCH)
    )
    return list((await session.execute(statement)).scalars())


async def stepped_down_from(session: AsyncSession, plan_id: str) -> list[tuple[str, date]]:
    """(id, opened_on) of the plans opened as social care stepped the family down from this one."""
    statement = (
        select(col(Plan.id), col(Plan.opened_on))
        .where(col(Plan.stepped_down_from) == plan_id)
        .order_by(col(Plan.opened_on), col(Plan.id))
    )
    return [(found, opened_on) for found, opened_on in await session.execute(statement)]


# --- contacts ---------------------------------------------------------------------------


def save_contact(session: AsyncSession, contact: PlanContact) -> None:
    session.add(contact)


async def contact(session: AsyncSession, contact_id: str) -> PlanContact | None:
    return await session.get(PlanContact, contact_id)


async def plan_contacts(
    session: AsyncSession, plan_id: str, *, limit: int | None = None, after: PlanContact | None = None
) -> list[PlanContact]:
    """The plan's contacts in the order they happened, from just after `after`; at most `limit`."""
    statement = select(PlanContact).where(col(PlanContact.plan_id) == plan_id)
    if after is not None:
        statement = statement.where(
            or_(
                col(PlanContact.occurred_at) > after.occurred_at,
                and_(col(PlanContact.occurred_at) == after.occurred_at, col(PlanContact.id) > after.id),
            )
        )
    statement = statement.order_by(col(PlanContact.occurred_at), col(PlanContact.id)).limit(limit)
    return list((await session.scalars(statement)).all())


# --- assessments seen -------------------------------------------------------------------


async def assessment_record(session: AsyncSession, assessment_id: str) -> AssessmentRecord | None:
    return await session.get(AssessmentRecord, assessment_id)


def save_assessment_record(session: AsyncSession, record: AssessmentRecord) -> None:
    session.add(record)


async def latest_request(session: AsyncSession, family_id: str) -> datetime | None:
    """When the family's latest request for support was submitted."""
    statement = select(func.max(AssessmentRecord.submitted_at)).where(
        col(AssessmentRecord.family_id) == family_id, col(AssessmentRecord.form_key) == REQUEST_FOR_SUPPORT
    )
    latest: datetime | None = (await session.execute(statement)).scalar_one_or_none()
    return latest


# --- referrals to social care -----------------------------------------------------------


def save_referral(session: AsyncSession, referral: SocialCareReferral) -> None:
    session.add(referral)


async def referral_saved_once(session: AsyncSession, referral: SocialCareReferral) -> bool:
    """Write the referral now; False, and nothing written, when its assessment already made one."""
    try:
        async with session.begin_nested():
            session.add(referral)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def referral(session: AsyncSession, referral_id: str, *, for_update: bool = False) -> SocialCareReferral | None:
    statement = select(SocialCareReferral).where(col(SocialCareReferral.id) == referral_id)
    if for_update:
        statement = statement.with_for_update()
    found: SocialCareReferral | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def family_referrals(session: AsyncSession, family_id: str) -> list[SocialCareReferral]:
    statement = (
        select(SocialCareReferral)
        .where(col(SocialCareReferral.family_id) == family_id)
        .order_by(col(SocialCareReferral.referred_on), col(SocialCareReferral.created_at))
    )
    return list((await session.execute(statement)).scalars())


async def plan_referrals(session: AsyncSession, plan_id: str) -> list[SocialCareReferral]:
    """The referrals linked to a plan: its step-up's, and those made after it closed."""
    statement = (
        select(SocialCareReferral)
        .where(col(SocialCareReferral.plan_id) == plan_id)
        .order_by(col(SocialCareReferral.referred_on), col(SocialCareReferral.created_at))
    )
    return list((await session.scalars(statement)).all())


async def referring_organisations(session: AsyncSession, family_id: str) -> set[str]:
    """The organisations that referred the family to social care: each wrote a referral."""
    statement = select(col(SocialCareReferral.organisation_id)).where(col(SocialCareReferral.family_id) == family_id)
    return set((await session.scalars(statement)).all())


async def last_closed_plan(session: AsyncSession, family_id: str) -> tuple[str, date] | None:
    """The plan whose episode closed last (a discarded draft was never open), and when."""
    statement = (
        select(col(PlanEpisode.plan_id), col(PlanEpisode.closed_on))
        .where(
            col(PlanEpisode.family_id) == family_id,
            col(PlanEpisode.closed_on).is_not(None),
            col(PlanEpisode.close_reason) != DISCARDED,
        )
        .order_by(col(PlanEpisode.closed_on).desc(), col(PlanEpisode.number).desc())
        .limit(1)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else cast(tuple[str, date], tuple(row))


# --- the reports' read model of families -----------------------------------------------


async def replace_reporting_profile(
    session: AsyncSession, family: ReportingFamily, children: Sequence[ReportingChild]
) -> None:
    """The family's locality and children, in place of those kept before."""
    await session.execute(delete(ReportingChild).where(col(ReportingChild.family_id) == family.family_id))
    await session.merge(family)
    session.add_all(children)


async def unprofiled_families(
    session: AsyncSession, limit: int, passed_over: Collection[str]
) -> list[tuple[str, date]]:
    """Up to `limit` families with a plan or an assessment but no reporting profile kept (none in `passed_over`),
    each with the day of its latest plan opening or assessment start."""
    kept = select(col(ReportingFamily.family_id))
    latest: dict[str, date] = {}
    for family, day in (
        (col(PlanEpisode.family_id), func.max(col(PlanEpisode.opened_on))),
        (col(AssessmentRecord.family_id), func.max(col(AssessmentRecord.started_at))),
    ):
        statement = (
            select(family, day)
            .where(family.not_in(kept), family.not_in(passed_over))
            .group_by(family)
            .order_by(family)
            .limit(limit)
        )
        for family_id, found in await session.execute(statement):
            on = found.date() if isinstance(found, datetime) else found
            latest[family_id] = max(latest.get(family_id, on), on)
    return sorted(latest.items())[:limit]


async def profiled(session: AsyncSession, family_id: str) -> bool:
    return await session.get(ReportingFamily, family_id) is not None


async def profiled_localities(session: AsyncSession) -> list[tuple[str, str | None]]:
    """(code, name) of every locality a family is kept in."""
    statement = (
        select(col(ReportingFamily.locality_code), func.max(col(ReportingFamily.locality_name)))
        .where(col(ReportingFamily.locality_code).is_not(None))
        .group_by(col(ReportingFamily.locality_code))
    )
    return [(code, name) for code, name in await session.execute(statement) if code is not None]


# --- reports ----------------------------------------------------------------------------
# Rows come back as SQLAlchemy's named rows; these name the columns each query selects, for the type checker.


class Waited(NamedTuple):
    group: str | None
    working_days: int
    plans: int


class Closed(NamedTuple):
    group: str | None
    close_reason: str
    episodes: int


class Qualifying(NamedTuple):
    plan_id: str
    family_id: str
    closed_on: date
    outcome_areas: int
    next_episode: date | None  # the family's first early help episode opened after the closure
    next_step_up: date | None  # the family's first step-up to social care after it
    next_request: date | None  # the day of the family's first request for support after the day of the closure


class OnCaseload(NamedTuple):
    lead_email: str | None
    lead_organisation_id: str
    families: int
    children: int


class AfterClosure(NamedTuple):
    group: str | None
    closed_on: date
    close_reason: str
    next_episode: date | None  # the family's first early help episode opened since, a reopening included
    next_referral: date | None  # the family's first referral to social care since


class OpenOn(NamedTuple):
    group: str | None
    plans: int
    families: int
    children: int


class Lasted(NamedTuple):
    group: str | None
    close_reason: str
    days: int
    episodes: int


class Overdue(NamedTuple):
    group: str | None
    active: int
    overdue: int


class Reviewed(NamedTuple):
    """A plan's goals and reviews as the JSON they are stored as: a report reads a few keys of many plans, and
    validating every document into its models would cost more than the query."""

    group: str | None
    goals: list[dict[str, Any]]
    reviews: list[dict[str, Any]]


class SteppedDown(NamedTuple):
    group: str | None
    status: str
    close_reason: str | None
    opened_on: date
    next_referral: date | None  # the family's first referral to social care since the step-down


def _plans(visible_to: str | None, *columns: Any, plan_id: Any = Plan.id) -> Select[Any]:
    """Plans (or, with `plan_id=PlanEpisode.plan_id`, episodes) an organisation may count (all of them for None),
    with `columns`."""
    statement = select(*columns)
    if visible_to is not None:
        seen = select(col(PlanOrganisation.plan_id)).where(col(PlanOrganisation.organisation_id) == visible_to)
        statement = statement.where(col(plan_id).in_(seen))
    return statement


def _episodes(visible_to: str | None, *columns: Any) -> Select[Any]:
    """Episodes closed (not discarded) that an organisation may count, with `columns`."""
    return _plans(visible_to, *columns, plan_id=PlanEpisode.plan_id).where(
        col(PlanEpisode.closed_on).is_not(None), col(PlanEpisode.close_reason) != DISCARDED
    )


def _in(column: Any, start: date, end: date) -> list[Any]:
    return [column >= start, column <= end]


class Started(NamedTuple):
    organisation_type: str
    organisation_id: str
    locality: str | None
    started: int


async def assessments_started(
    session: AsyncSession,
    visible_to: str | None,
    form_key: str,
    since: datetime,
    before: datetime,
    locality: str | None,
) -> list[Started]:
    """How many assessments of `form_key` were started in [since, before), per organisation and the family's
    locality."""
    organisation: tuple[Any, ...] = (col(AssessmentRecord.organisation_type), col(AssessmentRecord.organisation_id))
    place: Any = col(ReportingFamily.locality_code)
    statement = (
        select(*organisation, place.label("locality"), func.count().label("started"))
        .select_from(AssessmentRecord)
        .outerjoin(ReportingFamily, col(ReportingFamily.family_id) == col(AssessmentRecord.family_id))
        .where(
            col(AssessmentRecord.form_key) == form_key,
            col(AssessmentRecord.started_at) >= since,
            col(AssessmentRecord.started_at) < before,
        )
        .group_by(*organisation, place)
    )
    if visible_to is not None:
        statement = statement.where(col(AssessmentRecord.organisation_id) == visible_to)
    if locality is not None:
        statement = statement.where(place == locality)
    return cast(list[Started], (await session.execute(statement)).all())


async def activated_plans(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[Waited]:
    """How many plans activated in the period waited each number of working days (none recorded counts as 0),
    per group."""
    waited = func.coalesce(col(Plan.working_days_to_active), 0)
    statement = _plans(visible_to, _group(by), waited.label("working_days"), func.count().label("plans"))
    statement = _profiled(statement.select_from(Plan), by, locality, Plan.family_id)
    statement = statement.where(*_in(col(Plan.activated_on), start, end)).group_by(*_grouped(by), waited)
    return cast(list[Waited], (await session.execute(statement)).all())


async def close_reasons(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[Closed]:
    """How many episodes closed in the period for each reason, per group: a plan closed, reopened and closed
    again counts twice."""
    reason = col(PlanEpisode.close_reason)
    statement = _episodes(visible_to, _group(by), reason, func.count().label("episodes"))
    statement = statement.where(*_in(col(PlanEpisode.closed_on), start, end))
    if by in PLAN_BREAKDOWNS:
        statement = _profiled(_with_plan(statement), by, locality, Plan.family_id)
    else:
        statement = _profiled(statement.select_from(PlanEpisode), by, locality, PlanEpisode.family_id)
    return cast(list[Closed], (await session.execute(statement.group_by(*_grouped(by), reason))).all())


async def closed_with_every_need_met(
    session: AsyncSession, visible_to: str | None, start: date, end: date, locality: str | None, *, outcome_areas: int
) -> list[Qualifying]:
    """Episodes closed in the period with every need met, in at least `outcome_areas` areas, each with when its
    family next came back after the day of the closure: an episode of early help opened, a step-up to social
    care, a request for support submitted.

    One query that joins each episode to its family's episodes and requests and keeps the earliest return of
    each kind, rather than reading every episode and request of the cohort's families and matching them in
    Python, which took most of a second over a year of a county's closures; a join, not a subquery per episode,
    so that PostgreSQL hashes the families once instead of probing them per episode (and compiling the query).
    """
    later = aliased(PlanEpisode)
    closed_on = col(PlanEpisode.closed_on)
    # The day in UTC, as the service dates everything; PostgreSQL would take the session's time zone.
    submitted = col(AssessmentRecord.submitted_at)
    utc = func.timezone("UTC", submitted) if session.get_bind().dialect.name == "postgresql" else submitted
    submitted_on = func.date(utc)

    def earliest(when: Any, *conditions: Any) -> Any:
        return type_coerce(func.min(case((and_(*conditions), when))), Date)

    statement = (
        _episodes(
            visible_to,
            col(PlanEpisode.plan_id),
            col(PlanEpisode.family_id),
            closed_on,
            col(PlanEpisode.outcome_areas),
            earliest(
                col(later.opened_on),
                col(later.opened_on) > closed_on,
                col(later.close_reason).is_distinct_from(DISCARDED),
            ).label("next_episode"),
            earliest(
                col(later.closed_on), col(later.closed_on) > closed_on, col(later.close_reason) == STEPPED_UP
            ).label("next_step_up"),
            earliest(submitted_on, submitted_on > closed_on).label("next_request"),
        )
        .join_from(PlanEpisode, later, col(later.family_id) == col(PlanEpisode.family_id))
        .outerjoin(
            AssessmentRecord,
            and_(
                col(AssessmentRecord.family_id) == col(PlanEpisode.family_id),
                col(AssessmentRecord.form_key) == REQUEST_FOR_SUPPORT,
            ),
        )
        .where(
            *_in(closed_on, start, end),
            col(PlanEpisode.all_needs_met).is_(True),
            col(PlanEpisode.outcome_areas) >= outcome_areas,
        )
        .group_by(
            col(PlanEpisode.plan_id),
            col(PlanEpisode.number),
            col(PlanEpisode.family_id),
            closed_on,
            col(PlanEpisode.outcome_areas),
        )
    )
    statement = _profiled(statement, None, locality, PlanEpisode.family_id)
    return cast(list[Qualifying], (await session.execute(statement)).all())


# What `by=` breaks a report down by: columns of the plan, of the family's row in the read model, or of its
# children's rows (a plan then comes back once per child: those breakdowns count children).
BREAKDOWNS: dict[str, Any] = {
    "level_of_need": Plan.level_of_need,
    "lead_agency": Plan.lead_organisation_id,
    "agency": Plan.organisation_id,
    "locality": ReportingFamily.locality_code,
    "age_band": ReportingChild.age_band,
    "sex": ReportingChild.sex,
    "ethnicity": ReportingChild.ethnicity,
}
CHILD_BREAKDOWNS = frozenset({"age_band", "sex", "ethnicity"})
PLAN_BREAKDOWNS = frozenset({"level_of_need", "lead_agency", "agency"})


def _group(by: str | None) -> Any:
    return (col(BREAKDOWNS[by]) if by else null()).label("group")


def _grouped(by: str | None) -> tuple[Any, ...]:
    """What to GROUP BY for `by`: PostgreSQL refuses the constant `_group` stands for without a breakdown."""
    return (col(BREAKDOWNS[by]),) if by else ()


def _profiled(statement: Select[Any], by: str | None, locality: str | None, family_id: Any) -> Select[Any]:
    """`statement` (its FROM already set) joined to the read model as `by` and `locality` need, on `family_id`:
    a family never profiled stays in, its group None (`not_recorded`), except where a locality is asked for."""
    if by == "locality" or locality is not None:
        statement = statement.outerjoin(ReportingFamily, col(ReportingFamily.family_id) == family_id)
        if locality is not None:
            statement = statement.where(col(ReportingFamily.locality_code) == locality)
    if by in CHILD_BREAKDOWNS:
        statement = statement.outerjoin(ReportingChild, col(ReportingChild.family_id) == family_id)
    return statement


def _with_plan(statement: Select[Any]) -> Select[Any]:
    return statement.join_from(PlanEpisode, Plan, col(Plan.id) == col(PlanEpisode.plan_id))


async def active_caseloads(session: AsyncSession, visible_to: str | None, locality: str | None) -> list[OnCaseload]:
    """Per lead professional (their address, lower case, and organisation): the families and children of their
    active plans."""
    email = func.lower(col(Plan.lead_email))
    statement = (
        _plans(
            visible_to,
            email.label("lead_email"),
            col(Plan.lead_organisation_id),
            func.count(distinct(col(Plan.family_id))).label("families"),
            func.coalesce(func.sum(col(Plan.children)), 0).label("children"),
        )
        .select_from(Plan)
        .where(col(Plan.status) == "active", col(Plan.lead_organisation_id).is_not(None))
        .group_by(email, col(Plan.lead_organisation_id))
    )
    statement = _profiled(statement, None, locality, Plan.family_id)
    return cast(list[OnCaseload], (await session.execute(statement)).all())


async def closures_and_returns(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[AfterClosure]:
    """Each episode closed in the period, with when its family next opened an episode of early help (a new plan
    or the plan reopened) and was next referred to social care, on or after the closure."""
    later = aliased(PlanEpisode)
    next_episode = (
        select(func.min(later.opened_on))
        .where(
            col(later.family_id) == col(PlanEpisode.family_id),
            col(later.opened_on) >= col(PlanEpisode.closed_on),
            or_(col(later.plan_id) != col(PlanEpisode.plan_id), col(later.number) > col(PlanEpisode.number)),
            col(later.close_reason).is_distinct_from(DISCARDED),
        )
        .scalar_subquery()
    )
    next_referral = (
        select(func.min(SocialCareReferral.referred_on))
        .where(
            col(SocialCareReferral.family_id) == col(PlanEpisode.family_id),
            col(SocialCareReferral.referred_on) >= col(PlanEpisode.closed_on),
        )
        .scalar_subquery()
    )
    statement = _episodes(
        visible_to,
        _group(by),
        col(PlanEpisode.closed_on),
        col(PlanEpisode.close_reason),
        next_episode.label("next_episode"),
        next_referral.label("next_referral"),
    ).where(*_in(col(PlanEpisode.closed_on), start, end))
    statement = _profiled(_with_plan(statement), by, locality, Plan.family_id)
    return cast(list[AfterClosure], (await session.execute(statement)).all())


async def open_on(
    session: AsyncSession, visible_to: str | None, on: date, by: str | None, locality: str | None
) -> list[OpenOn]:
    """Plans started by `on` whose episode was open that day: how many, their families and children, per group.

    By a child's breakdown, a group's plans and families are those with a child in it, and its children those
    in it; a family not yet profiled counts its plan's children under None."""
    children = (
        func.sum(case((col(ReportingChild.family_id).is_(None), col(Plan.children)), else_=1))
        if by in CHILD_BREAKDOWNS
        else func.sum(col(Plan.children))
    )
    statement = (
        _plans(
            visible_to,
            _group(by),
            func.count(distinct(col(PlanEpisode.plan_id))).label("plans"),
            func.count(distinct(col(Plan.family_id))).label("families"),
            func.coalesce(children, 0).label("children"),
            plan_id=PlanEpisode.plan_id,
        )
        .where(
            col(Plan.activated_on) <= on,
            col(PlanEpisode.opened_on) <= on,
            or_(col(PlanEpisode.closed_on).is_(None), col(PlanEpisode.closed_on) > on),
            col(PlanEpisode.close_reason).is_distinct_from(DISCARDED),
        )
        .group_by(*_grouped(by))
    )
    statement = _profiled(_with_plan(statement), by, locality, Plan.family_id)
    return cast(list[OpenOn], (await session.execute(statement)).all())


def _days_between(session: AsyncSession, first: Any, last: Any) -> Any:
    """Whole days from `first` to `last`: PostgreSQL subtracts dates; SQLite stores them as ISO text, whose
    Julian days differ by a whole number."""
    if session.get_bind().dialect.name == "postgresql":
        return last - first
    return cast_as(func.julianday(last) - func.julianday(first), Integer)


async def closed_episodes(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[Lasted]:
    """How many episodes closed in the period lasted each number of days, per group and close reason."""
    days = _days_between(session, col(PlanEpisode.opened_on), col(PlanEpisode.closed_on))
    statement = _episodes(
        visible_to, _group(by), col(PlanEpisode.close_reason), days.label("days"), func.count().label("episodes")
    ).where(*_in(col(PlanEpisode.closed_on), start, end))
    statement = _profiled(_with_plan(statement), by, locality, Plan.family_id)
    statement = statement.group_by(*_grouped(by), col(PlanEpisode.close_reason), days)
    return cast(list[Lasted], (await session.execute(statement)).all())


async def reviews_overdue(
    session: AsyncSession, visible_to: str | None, today: date, by: str, locality: str | None
) -> list[Overdue]:
    """Per group: the active plans, and those whose next review fell due before `today`."""
    overdue = func.coalesce(func.sum(case((col(Plan.next_review_due) < today, 1), else_=0)), 0).label("overdue")
    statement = (
        _plans(visible_to, _group(by), func.count().label("active"), overdue)
        .select_from(Plan)
        .where(col(Plan.status) == "active")
        .group_by(col(BREAKDOWNS[by]))
    )
    statement = _profiled(statement, by, locality, Plan.family_id)
    return cast(list[Overdue], (await session.execute(statement)).all())


async def reviewed_plans(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[Reviewed]:
    """The goals and reviews of the plans started by `end` and not closed before `start`: those that could have
    been reviewed in the period."""
    goals, reviews = (
        type_coerce(col(Plan.goals), JSON).label("goals"),
        type_coerce(col(Plan.reviews), JSON).label("reviews"),
    )
    statement = _plans(visible_to, _group(by), goals, reviews).where(
        col(Plan.activated_on) <= end,
        or_(col(Plan.closed_on).is_(None), col(Plan.closed_on) >= start),
        col(Plan.status) != DISCARDED,
    )
    statement = _profiled(statement.select_from(Plan), by, locality, Plan.family_id)
    return cast(list[Reviewed], (await session.execute(statement)).all())


async def stepped_down(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[SteppedDown]:
    """The plans social care stepped families down to in the period, how each stands, and the family's first
    referral to social care since."""
    next_referral = (
        select(func.min(SocialCareReferral.referred_on))
        .where(
            col(SocialCareReferral.family_id) == col(Plan.family_id),
            col(SocialCareReferral.referred_on) >= col(Plan.opened_on),
        )
        .scalar_subquery()
    )
    statement = _plans(
        visible_to,
        _group(by),
        col(Plan.status),
        col(Plan.close_reason),
        col(Plan.opened_on),
        next_referral.label("next_referral"),
    ).where(
        *_in(col(Plan.opened_on), start, end), col(Plan.stepped_down_from).is_not(None), col(Plan.status) != DISCARDED
    )
    statement = _profiled(statement.select_from(Plan), by, locality, Plan.family_id)
    return cast(list[SteppedDown], (await session.execute(statement)).all())


STEP_DOWN, FRONT_DOOR, OWN_ASSESSMENT = "step_down_from_social_care", "front_door_request", "agency_assessment"


class Sourced(NamedTuple):
    group: str | None
    source: str
    plans: int


async def plan_sources(
    session: AsyncSession, visible_to: str | None, start: date, end: date, by: str | None, locality: str | None
) -> list[Sourced]:
    """How many of the plans opened in the period came from each source, per group: a step-down from social
    care, a request for support through the front door, or an agency's own assessment."""
    source = case(
        (col(Plan.stepped_down_from).is_not(None), STEP_DOWN),
        (col(Plan.requested_on).is_not(None), FRONT_DOOR),
        else_=OWN_ASSESSMENT,
    ).label("source")
    statement = (
        _plans(visible_to, _group(by), source, func.count().label("plans"))
        .select_from(Plan)
        .where(*_in(col(Plan.opened_on), start, end), col(Plan.status) != DISCARDED)
        .group_by(*_grouped(by), source)
    )
    statement = _profiled(statement, by, locality, Plan.family_id)
    return cast(list[Sourced], (await session.execute(statement)).all())


async def request_sources(
    session: AsyncSession, visible_to: str | None, since: datetime, before: datetime, locality: str | None
) -> list[tuple[str, int]]:
    """(the requester's type of organisation, how many) of the requests for support submitted in [since, before)."""
    kind: Any = col(AssessmentRecord.organisation_type)
    statement = (
        select(kind, func.count())
        .select_from(AssessmentRecord)
        .where(
            col(AssessmentRecord.form_key) == REQUEST_FOR_SUPPORT,
            col(AssessmentRecord.submitted_at) >= since,
            col(AssessmentRecord.submitted_at) < before,
        )
        .group_by(kind)
    )
    if visible_to is not None:
        statement = statement.where(col(AssessmentRecord.organisation_id) == visible_to)
    statement = _profiled(statement, None, locality, AssessmentRecord.family_id)
    return [(found, n) for found, n in await session.execute(statement)]


async def needs_of_plans_opened(
    session: AsyncSession, visible_to: str | None, start: date, end: date, locality: str | None
) -> list[list[dict[str, Any]]]:
    """The needs (as stored JSON) of each plan opened in the period: what the assessment found."""
    needs = type_coerce(col(Plan.needs), JSON).label("needs")
    statement = (
        _plans(visible_to, needs)
        .select_from(Plan)
        .where(*_in(col(Plan.opened_on), start, end), col(Plan.status) != DISCARDED)
    )
    statement = _profiled(statement, None, locality, Plan.family_id)
    return [found for (found,) in await session.execute(statement)]


# --- the Supporting Families ledger -----------------------------------------------------


async def open_plan(session: AsyncSession, family_id: str) -> Plan | None:
    """The family's one open plan (draft or active), if it has one."""
    statement = select(Plan).where(col(Plan.family_id) == family_id, col(Plan.status).not_in(("closed", DISCARDED)))
    found: Plan | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def saved_once(session: AsyncSession, row: SupportingFamiliesEnrolment | SupportingFamiliesClaim) -> bool:
    """Write the enrolment or claim now; False, and nothing written, when its episode already has one."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def enrolment(session: AsyncSession, enrolment_id: str) -> SupportingFamiliesEnrolment | None:
    return await session.get(SupportingFamiliesEnrolment, enrolment_id)


async def enrolment_in(session: AsyncSession, plan_id: str, episode: int) -> SupportingFamiliesEnrolment | None:
    statement = select(SupportingFamiliesEnrolment).where(
        col(SupportingFamiliesEnrolment.plan_id) == plan_id, col(SupportingFamiliesEnrolment.episode) == episode
    )
    found: SupportingFamiliesEnrolment | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def family_enrolments(
    session: AsyncSession, family_id: str
) -> list[tuple[SupportingFamiliesEnrolment, str | None]]:
    """The family's enrolments, the first first, each with the id of the claim made for it."""
    statement = (
        select(SupportingFamiliesEnrolment, col(SupportingFamiliesClaim.id))
        .outerjoin(
            SupportingFamiliesClaim, col(SupportingFamiliesClaim.enrolment_id) == col(SupportingFamiliesEnrolment.id)
        )
        .where(col(SupportingFamiliesEnrolment.family_id) == family_id)
        .order_by(col(SupportingFamiliesEnrolment.enrolled_on), col(SupportingFamiliesEnrolment.created_at))
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def claim_in(session: AsyncSession, family_id: str, plan_id: str, episode: int) -> SupportingFamiliesClaim | None:
    statement = select(SupportingFamiliesClaim).where(
        col(SupportingFamiliesClaim.family_id) == family_id,
        col(SupportingFamiliesClaim.plan_id) == plan_id,
        col(SupportingFamiliesClaim.episode) == episode,
    )
    found: SupportingFamiliesClaim | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def claims_of_year(
    session: AsyncSession, financial_year: str, claimed_by: str | None
) -> list[SupportingFamiliesClaim]:
    """The claims of a financial year in the order they were made; only `claimed_by`'s when named."""
    statement = select(SupportingFamiliesClaim).where(col(SupportingFamiliesClaim.financial_year) == financial_year)
    if claimed_by is not None:
        statement = statement.where(col(SupportingFamiliesClaim.organisation_id) == claimed_by)
    statement = statement.order_by(col(SupportingFamiliesClaim.claimed_on), col(SupportingFamiliesClaim.created_at))
    return list((await session.execute(statement)).scalars())

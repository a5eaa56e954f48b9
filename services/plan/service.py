"""The rules of a family plan: how it opens, who may see and change it, and its lifecycle.

draft → active → closed, and closed → active again by reopening. Every change
takes the version the caller read (`If-Match`) and makes a new one, so two
practitioners editing at once cannot overwrite each other unknowingly. A
transition that makes no sense in the plan's state is a 409 naming the state.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.kit.access import AccessPolicy, AccessRefused, Basis
from services.kit.audit import record_access
from services.kit.auth import Principal
from services.kit.etags import check_if_match
from services.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed
from services.plan.assessments import AssessmentFindings, Findings
from services.plan.events import (
    SOURCE,
    PlanActivated,
    PlanClosed,
    PlanCreated,
    PlanGoalAdded,
    PlanReopened,
    PlanReviewDue,
    PlanReviewRecorded,
    PlanSteppedDown,
    PlanSteppedUp,
    PlanUpdated,
    emit,
)
from services.plan.models import AssessmentRecord, Plan, PlanOrganisation
from services.plan.schemas import (
    ActivateIn,
    CloseIn,
    GoalIn,
    LeadProfessional,
    PlanIn,
    PlanPatch,
    ReopenIn,
    ReviewIn,
    StepDownIn,
    StepUpIn,
)
from services.plan.workdays import working_days_between

CATEGORY = "plan"
PURPOSE = "early-help"
REVIEW_INTERVAL = timedelta(weeks=6)
RE_REFERRAL_WINDOW = timedelta(days=365)
STEPPED_UP = "stepped_up_to_social_care"
_REFUSAL = (
    "Your organisation does not lead this plan, is not on the family's team, wrote no part of it, "
    "and holds no grant or safeguarding override for the family's plan."
)


class PlanNotFound(NotFound):
    slug, title = "plan-not-found", "No such plan"


class WrongState(Conflict):
    slug, title = "plan-state", "The plan is not in a state that allows this"

    def __init__(self, plan: Plan, wanted: str) -> None:
        super().__init__(f"The plan is {plan.status}: {wanted}.", status=plan.status)


class OpenPlanExists(Conflict):
    slug, title = "open-plan-exists", "The family already has an open plan"

    def __init__(self, detail: str, plan_id: str | None) -> None:
        super().__init__(detail, **({"plan_id": plan_id} if plan_id else {}))
        if plan_id:
            self.headers = {"Location": f"/plans/{plan_id}"}


class NotOnTheTeam(Forbidden):
    slug, title = "not-on-the-team", "Only the plan's lead, author and team change it"


class InvalidPlan(ValidationFailed):
    slug, title = "invalid-plan", "The plan would not hold together"


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


# --- who may see and change a plan ------------------------------------------------------


def _set_lead(plan: Plan, lead: LeadProfessional | None) -> None:
    plan.lead_name = lead.name if lead else None
    plan.lead_organisation_id = lead.organisation_id if lead else None
    plan.lead_email = lead.email if lead else None


def plan_organisations(plan: Plan) -> set[str]:
    """Who may see the plan by right of the plan itself: its author, its lead's organisation, its team."""
    organisations = {plan.organisation_id, *(member["organisation_id"] for member in plan.team)}
    if plan.lead_organisation_id:
        organisations.add(plan.lead_organisation_id)
    return organisations


async def _basis(session: AsyncSession, policy: AccessPolicy, principal: Principal, plan: Plan) -> Basis | None:
    authors = {plan.organisation_id} | ({plan.lead_organisation_id} if plan.lead_organisation_id else set())
    team = {member["organisation_id"] for member in plan.team}
    return await policy.basis_for(
        session, principal, family_id=plan.family_id, category=CATEGORY, purpose=PURPOSE, authors=authors, team=team
    )


def _audit(session: AsyncSession, principal: Principal, action: str, plan: Plan, basis: Basis) -> None:
    record_access(
        session,
        principal,
        source=SOURCE,
        action=action,
        resource_type=CATEGORY,
        resource_id=plan.id,
        family_id=plan.family_id,
        basis=basis,
    )


async def _plan(session: AsyncSession, plan_id: str, *, for_update: bool = False) -> Plan:
    statement = select(Plan).where(col(Plan.id) == plan_id)
    if for_update:
        statement = statement.with_for_update()
    plan = (await session.execute(statement)).scalar_one_or_none()
    if plan is None:
        raise PlanNotFound(f"There is no plan {plan_id}.")
    return plan


async def read_plan(session: AsyncSession, policy: AccessPolicy, principal: Principal, plan_id: str) -> Plan:
    plan = await _plan(session, plan_id)
    basis = await _basis(session, policy, principal, plan)
    if basis is None:
        raise AccessRefused(_REFUSAL)
    _audit(session, principal, "read", plan, basis)
    return plan


async def participants(session: AsyncSession, plan_id: str) -> Plan:
    """A plan, for a platform service asking whom it names; not audited, as that reveals nothing of the family."""
    return await _plan(session, plan_id)


async def family_plans(session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str) -> list[Plan]:
    """The family's plans the caller may open, each read audited; the others are neither shown nor counted."""
    statement = select(Plan).where(col(Plan.family_id) == family_id).order_by(col(Plan.created_at))
    visible = []
    for plan in (await session.execute(statement)).scalars():
        basis = await _basis(session, policy, principal, plan)
        if basis is not None:
            _audit(session, principal, "read", plan, basis)
            visible.append(plan)
    return visible


@dataclass(frozen=True)
class Editor:
    """Who is changing a plan, in which transaction, and the version (`If-Match`) they changed."""

    session: AsyncSession
    policy: AccessPolicy
    principal: Principal
    if_match: str | None


async def changeable(editor: Editor, plan_id: str) -> tuple[Plan, Basis]:
    """A plan locked for a change by its lead, author or team, at the version the caller read."""
    session, policy, principal, if_match = editor.session, editor.policy, editor.principal, editor.if_match
    plan = await _plan(session, plan_id, for_update=True)
    basis = await _basis(session, policy, principal, plan)
    if basis is None:
        raise AccessRefused(_REFUSAL)
    if principal.organisation_id not in plan_organisations(plan):
        raise NotOnTheTeam("A sharing grant or override lets your organisation read this plan, not change it.")
    check_if_match(if_match, plan.version)
    return plan, basis


async def _sync_organisations(session: AsyncSession, plan: Plan) -> None:
    await session.execute(delete(PlanOrganisation).where(col(PlanOrganisation.plan_id) == plan.id))
    session.add_all(PlanOrganisation(plan_id=plan.id, organisation_id=org) for org in sorted(plan_organisations(plan)))


async def _saved(
    session: AsyncSession, principal: Principal, plan: Plan, basis: Basis, action: str, *, organisations: bool = False
) -> None:
    plan.version += 1
    plan.updated_at = now()
    session.add(plan)
    if organisations:
        await _sync_organisations(session, plan)
    _audit(session, principal, action, plan, basis)


def _change(plan: Plan, principal: Principal) -> dict[str, Any]:
    return {
        "plan_id": plan.id,
        "family_id": plan.family_id,
        "organisation_id": principal.organisation_id,
        "version": plan.version,
    }


def _emit(session: AsyncSession, plan: Plan, payload: Any) -> None:
    emit(session, payload, subject=f"plan/{plan.id}", family_id=plan.family_id)


# --- opening a plan ---------------------------------------------------------------------


async def _last_closure(session: AsyncSession, family_id: str) -> date | None:
    statement = select(func.max(Plan.closed_on)).where(col(Plan.family_id) == family_id)
    last: date | None = (await session.execute(statement)).scalar_one_or_none()
    return last


def _re_referral(last: date | None, on: date) -> int | None:
    """Days since the family's last plan closed (`last`), when that was within 12 months of `on`."""
    if last is None or on < last or on - last > RE_REFERRAL_WINDOW:
        return None
    return (on - last).days


async def _requested_on(session: AsyncSession, family_id: str, opened_on: date, since: date | None) -> date | None:
    """The family's latest request for support before the plan opened, after its previous plan closed (`since`)."""
    statement = select(func.max(AssessmentRecord.submitted_at)).where(
        col(AssessmentRecord.family_id) == family_id, col(AssessmentRecord.form_key) == "request-for-support"
    )
    latest: datetime | None = (await session.execute(statement)).scalar_one_or_none()
    if latest is None or latest.date() > opened_on or (since is not None and latest.date() < since):
        return None
    return latest.date()


async def _open_plan_of(session: AsyncSession, family_id: str, assessment_id: str | None) -> str | None:
    """The plan that stood in the way of a new one: the family's open plan, or the assessment's own."""
    clash = col(Plan.family_id) == family_id, col(Plan.status) != "closed"
    found: str | None = (await session.execute(select(col(Plan.id)).where(*clash))).scalar_one_or_none()
    if found is None and assessment_id is not None:
        found = (
            await session.execute(select(col(Plan.id)).where(col(Plan.assessment_id) == assessment_id))
        ).scalar_one_or_none()
    return found


async def _open(
    session: AsyncSession,
    principal: Principal,
    *,
    family_id: str,
    organisation_id: str,
    opened_on: date,
    findings: Findings | None,
    lead: LeadProfessional | None = None,
    stepped_down_from: str | None = None,
) -> Plan:
    last_closure = await _last_closure(session, family_id)
    days_since_closure = _re_referral(last_closure, opened_on)
    at = now()
    plan = Plan(
        id=new_id(),
        family_id=family_id,
        status="draft",
        version=1,
        organisation_id=organisation_id,
        created_by=principal.subject,
        assessment_id=findings.assessment_id if findings else None,
        needs=[
            {"id": new_id(), "description": need.description, "outcome_area": need.outcome_area, "status": "open"}
            for need in (findings.needs if findings else [])
        ],
        children=findings.children if findings else 0,
        level_of_need=findings.level_of_need if findings else None,
        requested_on=await _requested_on(session, family_id, opened_on, last_closure),
        opened_on=opened_on,
        stepped_down_from=stepped_down_from,
        re_referral=days_since_closure is not None,
        days_since_last_closure=days_since_closure,
        created_at=at,
        updated_at=at,
    )
    _set_lead(plan, lead)
    try:
        async with session.begin_nested():
            session.add(plan)
            await session.flush()
    except IntegrityError:
        raise OpenPlanExists(
            "The family already has an open plan, or this assessment already opened one.",
            await _open_plan_of(session, family_id, plan.assessment_id),
        ) from None
    await _sync_organisations(session, plan)
    _emit(
        session,
        plan,
        PlanCreated(
            **_change(plan, principal),
            assessment_id=plan.assessment_id,
            re_referral=plan.re_referral,
            stepped_down_from=stepped_down_from,
        ),
    )
    _audit(session, principal, "create", plan, Basis("authorship", organisation_id))
    return plan


async def create_plan(
    session: AsyncSession, policy: AccessPolicy, findings_source: AssessmentFindings, principal: Principal, body: PlanIn
) -> Plan:
    lead = body.lead_professional
    if body.assessment_id is None:
        if body.family_id is None or not body.stepped_down_from_social_care:
            raise InvalidPlan(
                "A plan starts from a submitted assessment (`assessment_id`); only a family stepped down "
                "from social care may start one from `family_id` alone."
            )
        return await _open(
            session, principal, family_id=body.family_id, organisation_id=principal.organisation_id,
            opened_on=now().date(), findings=None, lead=lead, stepped_down_from="social-care",
        )  # fmt: skip
    findings = await findings_source.of(body.assessment_id)
    # The caller must be able to read the assessment it builds on, as if it opened it.
    basis = await policy.basis_for(
        session,
        principal,
        family_id=findings.family_id,
        category="assessment",
        purpose=PURPOSE,
        authors=(findings.organisation_id,),
    )
    if basis is None:
        raise AccessRefused("Your organisation may not read the assessment this plan would start from.")
    return await _open(
        session, principal, family_id=findings.family_id, organisation_id=findings.organisation_id,
        opened_on=findings.started_on or findings.submitted_at.date(), findings=findings, lead=lead,
    )  # fmt: skip


async def open_from_submission(session: AsyncSession, principal: Principal, findings: Findings) -> Plan | None:
    """The draft plan of a just-submitted assessment; None when the family already has an open plan."""
    try:
        async with session.begin_nested():
            return await _open(
                session, principal, family_id=findings.family_id, organisation_id=findings.organisation_id,
                opened_on=findings.started_on or findings.submitted_at.date(), findings=findings,
            )  # fmt: skip
    except OpenPlanExists:
        return None


async def note_assessment(
    session: AsyncSession,
    *,
    assessment_id: str,
    family_id: str,
    organisation_id: str,
    organisation_type: str,
    form_key: str,
    at: datetime,
    submitted: bool,
) -> None:
    """Keep what reports need of an assessment or request; flag a request that is a re-referral."""
    record = await session.get(AssessmentRecord, assessment_id)
    if record is None:
        record = AssessmentRecord(
            assessment_id=assessment_id,
            family_id=family_id,
            organisation_id=organisation_id,
            organisation_type=organisation_type,
            form_key=form_key,
            started_at=at,
        )
    if submitted and record.submitted_at is None:
        record.submitted_at = at
        days = _re_referral(await _last_closure(session, family_id), at.date())
        record.re_referral, record.days_since_last_closure = days is not None, days
    session.add(record)


# --- changing a plan --------------------------------------------------------------------


def _with_ids(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [{**item.model_dump(mode="json"), "id": item.id or new_id()} for item in items]


def _check_goals_keep_their_needs(goals: Sequence[dict[str, Any]], needs: Sequence[dict[str, Any]]) -> None:
    need_ids = {need["id"] for need in needs}
    orphaned = sorted({need_id for goal in goals for need_id in goal["need_ids"] if need_id not in need_ids})
    if orphaned:
        raise InvalidPlan(f"Goals are linked to needs this change removes: {', '.join(orphaned)}.")


def _refuse_when_closed(plan: Plan, wanted: str) -> None:
    if plan.status == "closed":
        raise WrongState(plan, wanted)


async def update_plan(editor: Editor, plan_id: str, body: PlanPatch) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    _refuse_when_closed(plan, "reopen it before changing it")
    changed = sorted(body.model_fields_set)
    if not changed:
        raise InvalidPlan("Send at least one part of the plan to change.")
    if "lead_professional" in body.model_fields_set:
        _set_lead(plan, body.lead_professional)
    if body.team is not None:
        plan.team = [member.model_dump(mode="json") for member in body.team]
    if body.needs is not None:
        needs = _with_ids(body.needs)
        _check_goals_keep_their_needs(plan.goals, needs)
        plan.needs = needs
    if body.actions is not None:
        plan.actions = _with_ids(body.actions)
    if "next_review_due" in body.model_fields_set:
        plan.next_review_due = body.next_review_due
    await _saved(session, principal, plan, basis, "update", organisations=True)
    _emit(session, plan, PlanUpdated(**_change(plan, principal), changed=changed))
    return plan


async def add_goal(editor: Editor, plan_id: str, body: GoalIn) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    _refuse_when_closed(plan, "reopen it before adding goals")
    known = {need["id"] for need in plan.needs}
    unknown = [need_id for need_id in body.need_ids if need_id not in known]
    if unknown:
        raise InvalidPlan(f"The plan has no need {', '.join(unknown)}.")
    goal_id = new_id()
    plan.goals = [*plan.goals, {"id": goal_id, **body.model_dump(mode="json"), "added_at": now().isoformat()}]
    await _saved(session, principal, plan, basis, "update")
    _emit(session, plan, PlanGoalAdded(**_change(plan, principal), goal_id=goal_id))
    return plan


def _practice_date(given: date | None, after: date, what: str) -> date:
    """A date a practitioner records: today when not given, never in the future nor before `after`."""
    today = now().date()
    on = given or today
    if on > today:
        raise InvalidPlan(f"The {what} date is in the future.")
    if on < after:
        raise InvalidPlan(f"The {what} date is before {after.isoformat()}, when the plan got to where it is.")
    return on


def _latest_milestone(plan: Plan) -> date:
    dates = [
        plan.opened_on,
        plan.activated_on,
        plan.closed_on,
        *(date.fromisoformat(r["held_on"]) for r in plan.reviews),
    ]
    return max(day for day in dates if day is not None)


async def activate(editor: Editor, plan_id: str, body: ActivateIn) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    if plan.status != "draft":
        raise WrongState(plan, "only a draft plan is activated")
    if plan.lead_organisation_id is None:
        raise InvalidPlan("Name the lead professional before the plan starts.")
    if not plan.goals:
        raise InvalidPlan("Agree at least one goal before the plan starts.")
    plan.activated_on = _practice_date(body.activated_on, plan.opened_on, "activation")
    plan.working_days_to_active = working_days_between(plan.requested_on or plan.opened_on, plan.activated_on)
    plan.status = "active"
    if plan.next_review_due is None:
        plan.next_review_due = plan.activated_on + REVIEW_INTERVAL
    await _saved(session, principal, plan, basis, "activate")
    _emit(session, plan, PlanActivated(**_change(plan, principal)))
    return plan


async def record_review(editor: Editor, plan_id: str, body: ReviewIn) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    if plan.status != "active":
        raise WrongState(plan, "only an active plan is reviewed")
    goal_ids = {goal["id"] for goal in plan.goals}
    rated = [rating.goal_id for rating in body.ratings]
    if len(set(rated)) != len(rated) or set(rated) != goal_ids:
        missing, unknown = sorted(goal_ids - set(rated)), sorted(set(rated) - goal_ids)
        raise InvalidPlan(
            "A review rates every goal of the plan once on the change matrix."
            + (f" Not rated: {', '.join(missing)}." if missing else "")
            + (f" Not goals of this plan: {', '.join(unknown)}." if unknown else "")
        )
    assert plan.activated_on is not None
    held_on = _practice_date(body.held_on, plan.activated_on, "review")
    next_due = body.next_review_due or held_on + REVIEW_INTERVAL
    if next_due <= held_on:
        raise InvalidPlan("The next review falls after this one.")
    review_id = new_id()
    review = {
        "id": review_id,
        **body.model_dump(mode="json", exclude={"next_review_due"}),
        "held_on": held_on.isoformat(),
        "next_review_due": next_due.isoformat(),
        "recorded_by": principal.subject,
        "organisation_id": principal.organisation_id,
        "recorded_at": now().isoformat(),
    }
    plan.reviews = [*plan.reviews, review]
    plan.next_review_due = next_due
    await _saved(session, principal, plan, basis, "review")
    _emit(session, plan, PlanReviewRecorded(**_change(plan, principal), review_id=review_id, next_review_due=next_due))
    return plan


def _close(plan: Plan, reason: str, note: str | None, closed_on: date) -> None:
    plan.status = "closed"
    plan.close_reason, plan.close_note, plan.closed_on = reason, note, closed_on
    plan.outcome_areas = len({need["outcome_area"] for need in plan.needs})
    plan.all_needs_met = bool(plan.needs) and all(need["status"] == "met" for need in plan.needs)
    plan.next_review_due = None


async def close(editor: Editor, plan_id: str, body: CloseIn) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    if plan.status != "active":
        raise WrongState(plan, "only an active plan is closed")
    if body.reason == STEPPED_UP:
        raise InvalidPlan("Step the plan up with POST /plans/{id}/step-up, which records when and why.")
    _close(plan, body.reason, body.note, _practice_date(body.closed_on, _latest_milestone(plan), "closing"))
    await _saved(session, principal, plan, basis, "close")
    _emit(session, plan, PlanClosed(**_change(plan, principal)))
    return plan


async def step_up(editor: Editor, plan_id: str, body: StepUpIn) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    if plan.status != "active":
        raise WrongState(plan, "only an active plan is stepped up")
    on = _practice_date(body.stepped_up_on, _latest_milestone(plan), "step-up")
    plan.stepped_up_on, plan.step_up_reason = on, body.reason
    _close(plan, STEPPED_UP, None, on)
    await _saved(session, principal, plan, basis, "step_up")
    _emit(session, plan, PlanSteppedUp(**_change(plan, principal)))
    return plan


async def step_down(editor: Editor, plan_id: str, body: StepDownIn) -> Plan:
    """Social care hands the family back: a new early help plan, flagged as a step-down, carrying the needs."""
    stepped_up, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    if stepped_up.close_reason != STEPPED_UP:
        raise WrongState(stepped_up, "only a plan stepped up to social care is stepped down from it")
    plan = await _open(
        session, principal, family_id=stepped_up.family_id, organisation_id=principal.organisation_id,
        opened_on=now().date(), findings=None, lead=body.lead_professional, stepped_down_from=stepped_up.id,
    )  # fmt: skip
    plan.needs = [{**need, "status": "open"} for need in stepped_up.needs]
    plan.team = stepped_up.team
    plan.children = stepped_up.children
    await _sync_organisations(session, plan)
    _audit(session, principal, "read", stepped_up, basis)
    _emit(session, plan, PlanSteppedDown(**_change(plan, principal), from_plan_id=stepped_up.id))
    return plan


async def reopen(editor: Editor, plan_id: str, body: ReopenIn) -> Plan:
    plan, basis = await changeable(editor, plan_id)
    session, principal = editor.session, editor.principal
    if plan.status != "closed":
        raise WrongState(plan, "only a closed plan is reopened")
    plan.status = "active"
    plan.close_reason = plan.close_note = None
    plan.closed_on = None
    plan.next_review_due = now().date() + REVIEW_INTERVAL
    plan.review_due_announced = None
    try:
        async with session.begin_nested():
            await _saved(session, principal, plan, basis, "reopen")
            await session.flush()
    except IntegrityError:
        raise OpenPlanExists(
            "The family has another open plan; close it before reopening this one.",
            await _open_plan_of(session, plan.family_id, None),
        ) from None
    _emit(session, plan, PlanReopened(**_change(plan, principal)))
    return plan


# --- reviews falling due ----------------------------------------------------------------


async def announce_reviews_due(session: AsyncSession, today: date | None = None) -> int:
    """Announce each active plan whose review has fallen due, once per due date."""
    today = today or now().date()
    statement = (
        select(Plan)
        .where(col(Plan.status) == "active", col(Plan.next_review_due) <= today)
        .where(
            (col(Plan.review_due_announced).is_(None)) | (col(Plan.review_due_announced) != col(Plan.next_review_due))
        )
        .with_for_update(skip_locked=True)
        .limit(500)
    )
    due = list((await session.execute(statement)).scalars())
    for plan in due:
        assert plan.next_review_due is not None
        plan.review_due_announced = plan.next_review_due
        session.add(plan)
        _emit(
            session,
            plan,
            PlanReviewDue(
                plan_id=plan.id,
                family_id=plan.family_id,
                lead_organisation_id=plan.lead_organisation_id,
                due_on=plan.next_review_due,
            ),
        )
    return len(due)

"""Changing a plan: its parts and goals, its reviews, and its lifecycle from activation to closure and reopening
(or a draft's discarding).

Every change takes the version the caller read (`If-Match`) and makes a new
one, so two practitioners editing at once cannot overwrite each other
unknowingly. Whether a change makes sense in the plan's state is for the
table in `transitions` to say; a refusal is a 409 naming the state.
"""

from collections.abc import Sequence
from datetime import date

from services.kit.clock import now
from services.kit.ids import new_id
from services.plan import events, repository
from services.plan.document import Action, Goal, Need, Review, TeamMember
from services.plan.models import Plan
from services.plan.schemas import (
    ActivateIn,
    CloseIn,
    DiscardIn,
    GoalIn,
    PlanPatch,
    ReopenIn,
    ReviewIn,
    StepDownIn,
    StepUpIn,
)
from services.plan.service import lifecycle, referrals
from services.plan.service.access import Editor, changeable
from services.plan.service.lifecycle import REVIEW_INTERVAL, moved
from services.plan.service.opening import open_plan
from services.plan.service.problems import InvalidPlan, OpenPlanExists
from services.plan.service.writing import announce, change, saved, set_lead, sync_organisations
from services.plan.transitions import STEPPED_UP


def _check_goals_keep_their_needs(goals: Sequence[Goal], needs: Sequence[Need]) -> None:
    need_ids = {need.id for need in needs}
    orphaned = sorted({need_id for goal in goals for need_id in goal.need_ids if need_id not in need_ids})
    if orphaned:
        raise InvalidPlan(f"Goals are linked to needs this change removes: {', '.join(orphaned)}.")


async def update_plan(editor: Editor, plan_id: str, body: PlanPatch) -> Plan:
    plan = await changeable(editor, plan_id, "update")
    session, principal = editor.session, editor.principal
    moved(plan, "change")
    changed = sorted(body.model_fields_set)
    if not changed:
        raise InvalidPlan("Send at least one part of the plan to change.")
    if "lead_professional" in body.model_fields_set:
        set_lead(plan, body.lead_professional)
    if body.team is not None:
        plan.team = [TeamMember.model_validate(member.model_dump()) for member in body.team]
    if body.needs is not None:
        needs = [Need.model_validate({**need.model_dump(), "id": need.id or new_id()}) for need in body.needs]
        _check_goals_keep_their_needs(plan.goals, needs)
        plan.needs = needs
    if body.actions is not None:
        plan.actions = [
            Action.model_validate({**action.model_dump(), "id": action.id or new_id()}) for action in body.actions
        ]
    if "next_review_due" in body.model_fields_set:
        plan.next_review_due = body.next_review_due
    await saved(session, plan, organisations=editor.standing)
    announce(session, plan, events.PlanUpdated(**change(plan, principal), changed=changed))
    return plan


async def add_goal(editor: Editor, plan_id: str, body: GoalIn) -> Plan:
    plan = await changeable(editor, plan_id, "update")
    session, principal = editor.session, editor.principal
    moved(plan, "add_goal")
    known = {need.id for need in plan.needs}
    unknown = [need_id for need_id in body.need_ids if need_id not in known]
    if unknown:
        raise InvalidPlan(f"The plan has no need {', '.join(unknown)}.")
    goal = Goal.model_validate({"id": new_id(), **body.model_dump(), "added_at": now()})
    plan.goals = [*plan.goals, goal]
    await saved(session, plan)
    announce(session, plan, events.PlanGoalAdded(**change(plan, principal), goal_id=goal.id))
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


async def activate(editor: Editor, plan_id: str, body: ActivateIn) -> Plan:
    plan = await changeable(editor, plan_id, "activate")
    session, principal = editor.session, editor.principal
    moved(plan, "activate")
    if plan.lead_organisation_id is None:
        raise InvalidPlan("Name the lead professional before the plan starts.")
    if not plan.goals:
        raise InvalidPlan("Agree at least one goal before the plan starts.")
    lifecycle.activate(plan, _practice_date(body.activated_on, plan.opened_on, "activation"))
    await saved(session, plan)
    announce(session, plan, events.PlanActivated(**change(plan, principal)))
    return plan


async def record_review(editor: Editor, plan_id: str, body: ReviewIn) -> Plan:
    plan = await changeable(editor, plan_id, "review")
    session, principal = editor.session, editor.principal
    moved(plan, "review")
    goal_ids = {goal.id for goal in plan.goals}
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
    review = Review.model_validate(
        {
            "id": new_id(),
            **body.model_dump(exclude={"next_review_due"}),
            "held_on": held_on,
            "next_review_due": next_due,
            "recorded_by": principal.subject,
            "organisation_id": principal.organisation_id,
            "recorded_at": now(),
        }
    )
    plan.reviews = [*plan.reviews, review]
    plan.next_review_due = next_due
    await saved(session, plan)
    announce(
        session,
        plan,
        events.PlanReviewRecorded(**change(plan, principal), review_id=review.id, next_review_due=next_due),
    )
    return plan


async def close(editor: Editor, plan_id: str, body: CloseIn) -> Plan:
    plan = await changeable(editor, plan_id, "close")
    session, principal = editor.session, editor.principal
    moved(plan, "close")
    if body.reason == STEPPED_UP:
        raise InvalidPlan("Step the plan up with POST /plans/{id}/step-up, which records when and why.")
    closed_on = _practice_date(body.closed_on, lifecycle.latest_milestone(plan), "closing")
    lifecycle.close(plan, body.reason, body.note, closed_on)
    await saved(session, plan)
    announce(session, plan, events.PlanClosed(**change(plan, principal)))
    return plan


async def step_up(editor: Editor, plan_id: str, body: StepUpIn) -> Plan:
    plan = await changeable(editor, plan_id, "step_up")
    session, principal = editor.session, editor.principal
    moved(plan, "step_up")
    lifecycle.step_up(
        plan, body.reason, _practice_date(body.stepped_up_on, lifecycle.latest_milestone(plan), "step-up")
    )
    await saved(session, plan)
    announce(session, plan, events.PlanSteppedUp(**change(plan, principal)))
    referrals.refer_on_step_up(session, principal, plan)
    return plan


async def step_down(editor: Editor, plan_id: str, body: StepDownIn) -> Plan:
    """Social care hands the family back: a new early help plan, flagged as a step-down, carrying the needs."""
    stepped_up = await changeable(editor, plan_id, "read")
    session, principal = editor.session, editor.principal
    moved(stepped_up, "step_down")
    plan = await open_plan(
        session, editor.standing, principal, family_id=stepped_up.family_id,
        organisation_id=principal.organisation_id, opened_on=now().date(), findings=None,
        lead=body.lead_professional, stepped_down_from=stepped_up.id,
    )  # fmt: skip
    plan.needs = [need.model_copy(update={"status": "open"}) for need in stepped_up.needs]
    plan.team = list(stepped_up.team)
    plan.children = stepped_up.children
    await sync_organisations(session, editor.standing, plan)
    announce(session, plan, events.PlanSteppedDown(**change(plan, principal), from_plan_id=stepped_up.id))
    return plan


async def reopen(editor: Editor, plan_id: str, body: ReopenIn) -> Plan:
    plan = await changeable(editor, plan_id, "reopen")
    session, principal = editor.session, editor.principal
    family_id = plan.family_id  # read now: a refused save rolls the row back and expires it

    def reopened(plan: Plan) -> None:
        lifecycle.reopen(plan, now().date())
        plan.version += 1
        plan.updated_at = now()

    if not await repository.saved_unless_another_is_open(session, plan, reopened):
        raise OpenPlanExists(
            "The family has another open plan; close it before reopening this one.",
            await repository.open_plan_of(session, family_id, None),
        )
    announce(session, plan, events.PlanReopened(**change(plan, principal)))
    return plan


async def discard(editor: Editor, plan_id: str, body: DiscardIn) -> Plan:
    """A draft nobody goes on with (the family declined, the assessment was wrong): the family may have another."""
    plan = await changeable(editor, plan_id, "discard")
    session, principal = editor.session, editor.principal
    moved(plan, "discard")
    lifecycle.discard(plan, body.reason, now().date())
    await saved(session, plan)
    announce(session, plan, events.PlanDiscarded(**change(plan, principal)))
    return plan

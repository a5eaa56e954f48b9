"""What each step of a plan's life writes on its row: pure, no session, and shared with the reports benchmark.

The columns beside the document (`outcome_areas`, `all_needs_met`,
`working_days_to_active`, the practice dates, who may see it) are derived here
and nowhere else, so that what the reports count and what the benchmark
writes agree with what the service does. Status changes follow `transitions`.
"""

from datetime import date, datetime, timedelta

from services.kit.workdays import working_days_between
from services.plan.document import Episode
from services.plan.models import Plan
from services.plan.service.problems import WrongState
from services.plan.transitions import DISCARDED, STEPPED_UP, Action, Moved, Refused, standing, transition

REVIEW_INTERVAL = timedelta(weeks=6)
RE_REFERRAL_WINDOW = timedelta(days=365)


def moved(plan: Plan, action: Action) -> Moved:
    """Where `action` takes the plan; a 409 naming its status when the table refuses it."""
    outcome = transition(standing(plan.status, plan.close_reason), action)
    if isinstance(outcome, Refused):
        raise WrongState(plan.status, outcome.wanted)
    return outcome


def plan_organisations(plan: Plan) -> set[str]:
    """Who may see the plan by right of the plan itself: its author, its lead's organisation, its team."""
    organisations = {plan.organisation_id, *(member.organisation_id for member in plan.team)}
    if plan.lead_organisation_id:
        organisations.add(plan.lead_organisation_id)
    return organisations


def days_since_closure(last: date | None, on: date) -> int | None:
    """Days since the family's last plan closed (`last`), when that was within 12 months of `on`: a re-referral."""
    if last is None or on < last or on - last > RE_REFERRAL_WINDOW:
        return None
    return (on - last).days


def requested_on(latest_request: datetime | None, opened_on: date, since: date | None) -> date | None:
    """The family's latest request for support, when it came before the plan opened and after its previous
    plan closed (`since`)."""
    if latest_request is None or latest_request.date() > opened_on:
        return None
    if since is not None and latest_request.date() < since:
        return None
    return latest_request.date()


def first_episode(plan: Plan) -> None:
    """The episode a plan opens with: a re-referral when the family's last closure was within 12 months."""
    plan.episodes = [
        Episode(
            number=1,
            opened_on=plan.opened_on,
            re_referral=plan.re_referral,
            days_since_last_closure=plan.days_since_last_closure,
        )
    ]


def _with_current_episode(plan: Plan, **changes: object) -> None:
    *earlier, current = plan.episodes
    plan.episodes = [*earlier, current.model_copy(update=changes)]


def activate(plan: Plan, on: date) -> None:
    plan.status = moved(plan, "activate").status
    plan.activated_on = on
    plan.working_days_to_active = working_days_between(plan.requested_on or plan.opened_on, on)
    if plan.next_review_due is None:
        plan.next_review_due = on + REVIEW_INTERVAL


def close(plan: Plan, reason: str, note: str | None, on: date, *, action: Action = "close") -> None:
    plan.status = moved(plan, action).status
    plan.close_reason, plan.close_note, plan.closed_on = reason, note, on
    plan.outcome_areas = len({need.outcome_area for need in plan.needs})
    plan.all_needs_met = bool(plan.needs) and all(need.status == "met" for need in plan.needs)
    plan.next_review_due = None
    _with_current_episode(
        plan,
        closed_on=on,
        close_reason=reason,
        close_note=note,
        outcome_areas=plan.outcome_areas,
        all_needs_met=plan.all_needs_met,
    )


def step_up(plan: Plan, reason: str, on: date) -> None:
    plan.stepped_up_on, plan.step_up_reason = on, reason
    close(plan, STEPPED_UP, None, on, action="step_up")


def reopen(plan: Plan, today: date) -> None:
    """A new episode, a re-referral when within 12 months of the closure; the closed episode stays as it was."""
    plan.status = moved(plan, "reopen").status
    days = days_since_closure(plan.closed_on, today)
    plan.episodes = [
        *plan.episodes,
        Episode(
            number=len(plan.episodes) + 1,
            opened_on=today,
            re_referral=days is not None,
            days_since_last_closure=days,
        ),
    ]
    plan.close_reason = plan.close_note = None
    plan.closed_on = None
    plan.next_review_due = today + REVIEW_INTERVAL
    plan.review_due_announced = None


def discard(plan: Plan, reason: str, on: date) -> None:
    """A draft nobody went on with: it frees the family's open-plan slot and is never counted as a closure."""
    plan.status = moved(plan, "discard").status
    plan.close_reason, plan.close_note, plan.closed_on = DISCARDED, reason, on
    plan.next_review_due = None
    _with_current_episode(plan, closed_on=on, close_reason=DISCARDED, close_note=reason)


def latest_milestone(plan: Plan) -> date:
    """The latest practice date of the plan: a later step is never recorded before it."""
    dates = [plan.opened_on, plan.activated_on, plan.closed_on, *(review.held_on for review in plan.reviews)]
    return max(day for day in dates if day is not None)

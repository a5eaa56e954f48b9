"""The events the plan service emits: thin, with identifiers, versions and changed fields, never what a plan says.

Their payload schemas are written to `schemas/events/` by
`python -m services.plan.events`; a test fails when the files drift.
"""

from datetime import date

from pydantic import BaseModel

from services.kit.audit import AUDIT_EVENT_TYPE, AccessRecorded
from services.kit.events.catalogue import EventCatalogue
from services.kit.events.schemas import write_event_schemas

SOURCE = "/services/plan"


class PlanChange(BaseModel):
    plan_id: str
    family_id: str
    organisation_id: str  # who made the change
    version: int


class PlanCreated(PlanChange):
    """`plan.created`: a draft plan exists, from an assessment or from social care's step-down."""

    assessment_id: str | None
    re_referral: bool
    stepped_down_from: str | None


class PlanActivated(PlanChange):
    """`plan.activated`: the plan is agreed and being worked."""


class PlanUpdated(PlanChange):
    """`plan.updated`: `changed` names the parts of the plan replaced."""

    changed: list[str]


class PlanGoalAdded(PlanChange):
    """`plan.goal_added`."""

    goal_id: str


class PlanReviewRecorded(PlanChange):
    """`plan.review_recorded`: `next_review_due` is when the next one falls due."""

    review_id: str
    next_review_due: date


class PlanSteppedUp(PlanChange):
    """`plan.stepped_up`: social care takes the family over; the plan is closed."""


class PlanSteppedDown(PlanChange):
    """`plan.stepped_down`: social care stepped the family down; `plan_id` is the new early help plan."""

    from_plan_id: str


class PlanClosed(PlanChange):
    """`plan.closed`."""


class PlanReopened(PlanChange):
    """`plan.reopened`."""


class PlanReviewDue(BaseModel):
    """`plan.review_due`: the plan's review has fallen due; its lead professional is reminded."""

    plan_id: str
    family_id: str
    lead_organisation_id: str | None
    due_on: date


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "plan.created": PlanCreated,
    "plan.activated": PlanActivated,
    "plan.updated": PlanUpdated,
    "plan.goal_added": PlanGoalAdded,
    "plan.review_recorded": PlanReviewRecorded,
    "plan.stepped_up": PlanSteppedUp,
    "plan.stepped_down": PlanSteppedDown,
    "plan.closed": PlanClosed,
    "plan.reopened": PlanReopened,
    "plan.review_due": PlanReviewDue,
    AUDIT_EVENT_TYPE: AccessRecorded,
}


emit = EventCatalogue(SOURCE, EVENT_PAYLOADS).emit


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)

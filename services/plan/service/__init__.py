"""The plan service's use cases, one module each; no SQL here (that is `repository`), no HTTP (that is `routes`).

- `access`: who may see and change a plan; every read and change is authorised and audited.
- `opening`: a plan from a submitted assessment, or from social care's step-down; assessments noted for reports.
- `changes`: a plan's parts, goals, reviews, and its lifecycle as `transitions` allows it.
- `lifecycle`: what each step writes on the plan's row, pure (the reports benchmark builds its rows with it).
- `writing`: how a change is written: its version, who may see the plan by right of it, its event.
- `reviews_due`: the sweep announcing reviews that have fallen due.
- `referrals`: referrals to children's social care (step-up, front door, after closure) and their outcomes.
- `contacts`: contacts with the family recorded on a plan, whose notes are the category `case_notes`.
- `chronology`: a plan's steps, reviews, contacts, assessment and referrals in date order.
- `reports`: the measures councils publish.
- `supporting_families`: the Supporting Families ledger: enrolments and claims against the outcomes plan.
"""

from services.plan.service import chronology, contacts, referrals, reports, supporting_families
from services.plan.service.access import (
    Editor,
    actions_for,
    family_plans,
    open_plans_led_count,
    participants,
    plans_led_by,
    read_plan,
)
from services.plan.service.changes import (
    activate,
    add_goal,
    close,
    discard,
    record_review,
    reopen,
    step_down,
    step_up,
    update_plan,
)
from services.plan.service.lifecycle import plan_organisations
from services.plan.service.opening import create_plan, note_assessment, open_from_submission
from services.plan.service.reviews_due import announce_reviews_due

__all__ = [
    "Editor",
    "actions_for",
    "activate",
    "add_goal",
    "announce_reviews_due",
    "chronology",
    "close",
    "contacts",
    "create_plan",
    "discard",
    "family_plans",
    "note_assessment",
    "open_from_submission",
    "open_plans_led_count",
    "participants",
    "plan_organisations",
    "plans_led_by",
    "read_plan",
    "record_review",
    "referrals",
    "reopen",
    "reports",
    "step_down",
    "step_up",
    "supporting_families",
    "update_plan",
]

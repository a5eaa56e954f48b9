"""Where a plan may go from where it stands: one table, no I/O, checked cell by cell by its test.

A plan's `status` is draft, active, closed or discarded (a draft nobody went on
with); a closed plan stepped up to social care stands apart (`stepped_up`), as
only it may be stepped down from.
Each action either moves the plan to a new standing or is refused with what
the caller wanted, which the service renders as a 409 naming the status.
Stepping down leaves the stepped-up plan as it is and opens a new draft one.
"""

from dataclasses import dataclass
from typing import Literal, get_args

Status = Literal["draft", "active", "closed", "discarded"]
Standing = Literal["draft", "active", "closed", "stepped_up", "discarded"]
Action = Literal[
    "change", "add_goal", "activate", "review", "close", "step_up", "step_down", "reopen", "discard", "record_contact"
]
STANDINGS: tuple[Standing, ...] = get_args(Standing)
ACTIONS: tuple[Action, ...] = get_args(Action)
STEPPED_UP = "stepped_up_to_social_care"  # the closing reason of a plan social care took over
DISCARDED = "discarded"  # the status, and closing reason, of a draft nobody went on with: never a closure


@dataclass(frozen=True)
class Moved:
    to: Standing

    @property
    def status(self) -> Status:
        return "closed" if self.to == "stepped_up" else self.to


@dataclass(frozen=True)
class Refused:
    wanted: str  # what it takes, for the 409's detail: "The plan is closed: <wanted>."


# Every action, the standings it is allowed from and where each goes; from anywhere else it is refused.
ALLOWED: dict[Action, dict[Standing, Standing]] = {
    "change": {"draft": "draft", "active": "active"},
    "add_goal": {"draft": "draft", "active": "active"},
    "activate": {"draft": "active"},
    "review": {"active": "active"},
    "close": {"active": "closed"},
    "step_up": {"active": "stepped_up"},
    "step_down": {"stepped_up": "stepped_up"},
    "reopen": {"closed": "active", "stepped_up": "active"},
    "discard": {"draft": "discarded"},
    "record_contact": {"draft": "draft", "active": "active"},
}
REFUSED: dict[Action, str] = {
    "change": "reopen it before changing it",
    "add_goal": "reopen it before adding goals",
    "activate": "only a draft plan is activated",
    "review": "only an active plan is reviewed",
    "close": "only an active plan is closed",
    "step_up": "only an active plan is stepped up",
    "step_down": "only a plan stepped up to social care is stepped down from it",
    "reopen": "only a closed plan is reopened",
    "discard": "only a draft plan is discarded",
    "record_contact": "reopen it before recording contacts on it",
}


def standing(status: str, close_reason: str | None) -> Standing:
    """Where a plan stands, from its two columns."""
    if status == "closed":
        return "stepped_up" if close_reason == STEPPED_UP else "closed"
    if status == "draft":
        return "draft"
    if status == "active":
        return "active"
    if status == "discarded":
        return "discarded"
    raise ValueError(f"A plan has no status {status!r}.")


def allowed(at: Standing) -> list[Action]:
    """The actions a plan standing `at` may take, in the table's order: what a page offers, and nothing more."""
    return [action for action in ACTIONS if at in ALLOWED[action]]


def transition(at: Standing, action: Action) -> Moved | Refused:
    """Where `action` takes a plan standing `at`, or why it may not."""
    to = ALLOWED[action].get(at)
    return Refused(REFUSED[action]) if to is None else Moved(to)

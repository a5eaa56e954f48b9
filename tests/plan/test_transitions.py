"""Every cell of the plan's transition table: from each standing, each action either moves the plan or is refused.

The expected table is written out here by hand, from the lifecycle the service's README describes, and shares no
code with `transitions.py` beyond its names.
"""

import itertools

import pytest

from services.plan.transitions import ACTIONS, STANDINGS, Moved, Refused, allowed, standing, transition

# standing → action → where it goes; a dash is a refusal.
TABLE = {
    #              change    add_goal  activate  review    close     step_up       step_down     reopen    discard
    "draft":      ("draft",  "draft",  "active", "-",      "-",      "-",          "-",          "-",      "discarded"),
    "active":     ("active", "active", "-",      "active", "closed", "stepped_up", "-",          "-",      "-"),
    "closed":     ("-",      "-",      "-",      "-",      "-",      "-",          "-",          "active", "-"),
    "stepped_up": ("-",      "-",      "-",      "-",      "-",      "-",          "stepped_up", "active", "-"),
    "discarded":  ("-",      "-",      "-",      "-",      "-",      "-",          "-",          "-",      "-"),
}  # fmt: skip
# A contact is recorded where a change may be made: on a draft or an active plan, never on one closed or discarded.
RECORD_CONTACT = {"draft": "draft", "active": "active", "closed": "-", "stepped_up": "-", "discarded": "-"}
EXPECTED = {at: (*row, RECORD_CONTACT[at]) for at, row in TABLE.items()}
COLUMNS = (
    "change", "add_goal", "activate", "review", "close", "step_up", "step_down", "reopen", "discard", "record_contact"
)  # fmt: skip
REFUSALS = {
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
STATUS_OF = {"draft": "draft", "active": "active", "closed": "closed", "stepped_up": "closed", "discarded": "discarded"}


def test_the_table_covers_every_standing_and_action() -> None:
    assert set(STANDINGS) == set(EXPECTED)
    assert set(ACTIONS) == set(COLUMNS)


@pytest.mark.parametrize(("at", "action"), list(itertools.product(EXPECTED, COLUMNS)))
def test_each_cell_moves_the_plan_or_refuses_with_what_it_takes(at: str, action: str) -> None:
    expected = EXPECTED[at][COLUMNS.index(action)]
    outcome = transition(at, action)  # type: ignore[arg-type]  # the names are checked against the table above
    if expected == "-":
        assert outcome == Refused(REFUSALS[action])
    else:
        assert outcome == Moved(expected)  # type: ignore[arg-type]
        assert isinstance(outcome, Moved)
        assert outcome.status == STATUS_OF[expected]


@pytest.mark.parametrize("at", list(EXPECTED))
def test_what_a_plan_may_do_next_is_each_cell_of_its_row_that_moves_it(at: str) -> None:
    expected = [action for action, to in zip(COLUMNS, EXPECTED[at], strict=True) if to != "-"]
    assert allowed(at) == expected  # type: ignore[arg-type]  # the names are checked against the table above


@pytest.mark.parametrize(
    ("status", "close_reason", "expected"),
    [
        ("draft", None, "draft"),
        ("active", None, "active"),
        ("closed", "outcomes_met", "closed"),
        ("closed", "family_disengaged", "closed"),
        ("closed", "stepped_up_to_social_care", "stepped_up"),
        ("discarded", "discarded", "discarded"),
    ],
)
def test_a_plan_stands_where_its_status_and_closing_reason_put_it(
    status: str, close_reason: str | None, expected: str
) -> None:
    assert standing(status, close_reason) == expected


def test_a_status_the_service_never_writes_is_an_error() -> None:
    with pytest.raises(ValueError, match="no status"):
        standing("paused", None)

"""The councils' measures, computed from plans worked through the API, in JSON and CSV, and only as wide as allowed."""

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.organisations import Organisation
from tests.support.plan import EVERY_SCOPE, PlanStack
from tests.support.samples import assessment_answers

NEEDS = [
    {"description": "Attendance below 90% this term.", "outcome_area": "education_and_attendance"},
    {"description": "Low mood, no treatment yet.", "outcome_area": "physical_and_mental_health"},
    {"description": "Notice to quit; rent arrears.", "outcome_area": "housing"},
]


@dataclass
class History:
    council: Organisation
    school: Organisation
    everything: Organisation  # reports:all
    plans: dict[str, dict[str, Any]]


async def _worked(stack: PlanStack, who: Organisation, nhs: str, started: str, activated: str) -> dict[str, Any]:
    family_id = await stack.family(who, nhs)
    await stack.submit(who, family_id, assessment_answers(started=started, needs=NEEDS))
    return await stack.active_plan(who, family_id, activated_on=activated)


@pytest.fixture
async def history(plan_stack: PlanStack) -> History:
    """Four families' plans, as practitioners recorded them in 2025."""
    council = plan_stack.organisation("org-council")
    school = plan_stack.organisation("org-school", "school")
    everything = plan_stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")
    stack = plan_stack

    # A: five working days to a plan, every need met, closed at the end of April: a claim candidate.
    a = await _worked(stack, council, "9434765919", "2025-01-06", "2025-01-13")
    a = await stack.change(council, a, "", {"needs": [{**n, "status": "met"} for n in a["needs"]]}, method="PATCH")
    a = await stack.change(council, a, "/close", {"reason": "outcomes_met", "closed_on": "2025-04-30"})
    # B: fifteen working days to a plan, disengaged at the end of March, back three weeks later.
    b = await _worked(stack, council, "9434761018", "2025-01-06", "2025-01-27")
    b = await stack.change(council, b, "/close", {"reason": "family_disengaged", "closed_on": "2025-03-31"})
    await stack.submit(council, b["family_id"], assessment_answers(started="2025-04-21", needs=NEEDS))
    b_again = await stack.opened_plan(council, b["family_id"])
    # C: stepped up to social care in March.
    c = await _worked(stack, council, "9434761026", "2025-02-03", "2025-02-10")
    c = await stack.change(council, c, "/step-up", {"reason": "Strategy discussion.", "stepped_up_on": "2025-03-14"})
    # D: the school's own plan, active today with its own lead.
    d = await _worked(stack, school, "9434761034", "2025-06-02", "2025-06-09")
    return History(council, school, everything, {"a": a, "b": b, "b_again": b_again, "c": c, "d": d})


async def _report(stack: PlanStack, who: Organisation, name: str, **period: str) -> dict[str, Any]:
    response = await stack.plans.get(f"/reports/{name}", params=period, headers=who.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def test_time_from_request_to_an_active_plan(plan_stack: PlanStack, history: History) -> None:
    report = await _report(plan_stack, history.council, "time-to-plan", **{"from": "2025-01-01", "to": "2025-02-28"})

    assert "bank holidays" in report.pop("definition")
    assert report == {
        "period": {"start": "2025-01-01", "end": "2025-02-28"},
        "by": None,
        "locality": None,
        "plans_activated": 3,  # A, B and C; D is the school's, outside the council's view and the period
        "median_working_days": 5,  # A 5, B 15, C 5: in the same unit as the share
        "within_10_working_days": 2,
        "share_within_10_working_days": 0.6667,
        "groups": [],
    }


async def test_time_to_plan_leaves_bank_holidays_out_of_the_median_as_of_the_share(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    # Started on Friday 2 May 2025, before the early May bank holiday; active the next Thursday: 3 working days.
    await _worked(plan_stack, council, "9434765919", "2025-05-02", "2025-05-08")
    report = await _report(plan_stack, council, "time-to-plan", **{"from": "2025-05-01", "to": "2025-05-31"})
    assert (report["plans_activated"], report["median_working_days"], report["within_10_working_days"]) == (1, 3, 1)


async def test_closures_by_reason_and_the_share_with_outcomes_met(plan_stack: PlanStack, history: History) -> None:
    report = await _report(plan_stack, history.council, "closures", **{"from": "2025-01-01", "to": "2025-06-30"})

    assert report["closed"] == 3
    assert report["by_reason"] == [
        {"reason": "family_disengaged", "plans": 1},
        {"reason": "outcomes_met", "plans": 1},
        {"reason": "stepped_up_to_social_care", "plans": 1},
    ]
    assert report["share_outcomes_met"] == 0.3333

    as_csv = await plan_stack.plans.get(
        "/reports/closures",
        params={"from": "2025-01-01", "to": "2025-06-30"},
        headers={**history.council.headers, "Accept": "text/csv"},
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(as_csv.text))) == [
        {"reason": "family_disengaged", "plans": "1"},
        {"reason": "outcomes_met", "plans": "1"},
        {"reason": "stepped_up_to_social_care", "plans": "1"},
    ]


async def test_re_referrals_count_a_new_plan_as_back_to_early_help_and_leave_the_step_up_out(
    plan_stack: PlanStack, history: History
) -> None:
    report = await _report(plan_stack, history.council, "re-referrals", **{"from": "2025-03-01", "to": "2025-05-31"})

    assert (report["closed"], report["stepped_up"]) == (2, 1)  # A and B; C went to social care
    assert "within 6 and within 12 months" in report["definition"]
    counted = {m["measure"]: (m["numerator"], m["denominator"], m["share"], m["complete"]) for m in report["measures"]}
    assert counted == {
        "early_help_within_6_months": (1, 2, 0.5, True),  # B's family, back three weeks later
        "early_help_within_12_months": (1, 2, 0.5, True),
        "social_care_within_6_weeks": (0, 2, 0.0, True),
        "social_care_within_6_months": (0, 2, 0.0, True),
    }
    assert {m["group"] for m in report["measures"]} == {None}
    assert history.plans["b_again"]["re_referral"] == {"days_since_last_closure": 21}


async def test_supporting_families_claim_candidates(plan_stack: PlanStack, history: History) -> None:
    report = await _report(plan_stack, history.council, "claims", **{"from": "2025-01-01", "to": "2025-06-30"})

    a = history.plans["a"]
    assert report["candidates"] == [
        {"plan_id": a["id"], "family_id": a["family_id"], "closed_on": "2025-04-30", "outcome_areas": 3}
    ]
    assert report["awaiting_six_months"] == 0


async def test_caseload_and_assessments_started_are_only_as_wide_as_the_caller_may_see(
    plan_stack: PlanStack, history: History
) -> None:
    council_caseload = await _report(plan_stack, history.council, "caseload")
    all_caseload = await _report(plan_stack, history.everything, "caseload")
    school_caseload = await _report(plan_stack, history.school, "caseload")

    assert council_caseload["leads"] == []  # the council's plans are closed or still drafts
    school_lead = {"lead_email": None, "lead_organisation_id": "org-school", "families": 1, "children": 1}
    assert all_caseload["leads"] == [school_lead]
    assert school_caseload["leads"] == [school_lead]

    council_started = await _report(plan_stack, history.council, "assessments-started")
    all_started = await _report(plan_stack, history.everything, "assessments-started")

    assert council_started["by_organisation"] == [
        {"organisation_type": "council", "organisation_id": "org-council", "started": 4, "share": 1.0}
    ]
    assert all_started["by_organisation_type"] == [
        {"organisation_type": "council", "started": 4, "share": 0.8},
        {"organisation_type": "school", "started": 1, "share": 0.2},
    ]
    assert all_started["total"] == 5


async def test_a_report_without_the_scope_or_with_a_backwards_period_is_refused(
    plan_stack: PlanStack, history: History
) -> None:
    reader = plan_stack.organisation("org-council", scopes="plans:read")
    no_scope = await plan_stack.plans.get("/reports/closures", headers=reader.headers)
    backwards = await plan_stack.plans.get(
        "/reports/closures", params={"from": "2025-06-01", "to": "2025-01-01"}, headers=history.council.headers
    )

    assert no_scope.status_code == 403
    assert no_scope.json()["type"].endswith(":insufficient-scope")
    assert backwards.status_code == 422
    assert "`from` is after `to`" in backwards.json()["detail"]

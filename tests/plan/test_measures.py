"""The councils' measures as the seeds define them, each against a hand-built history whose right answer is
worked out here: re-referrals (reopenings included) and referrals to social care after closure, open work,
plan duration, overdue reviews, distance travelled, the step-down cohort and caseloads by the lead's address."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.plan.service import changes
from tests.support.organisations import Organisation
from tests.support.plan import EVERY_SCOPE, PlanStack
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers, nhs_numbers

NEEDS = [
    {"description": "Attendance below 90% this term.", "outcome_area": "education_and_attendance"},
    {"description": "Low mood, no treatment yet.", "outcome_area": "physical_and_mental_health"},
]
PRIVATE = ("Amara", "Okafor", "2017-05-14", "9434765919", "Attendance below 90%")
REFERRAL_REASON = "Mum told the family worker the children saw a serious assault at home last weekend."


def _council(stack: PlanStack) -> Organisation:
    return stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")


async def _plan(
    stack: PlanStack,
    council: Organisation,
    nhs: str,
    *,
    started: str,
    activated: str | None = None,
    lead: tuple[str, str | None] = ("org-council", None),
) -> dict[str, Any]:
    """A family's plan from its assessment started on `started`, led by `lead` (organisation, e-mail), activated
    on `activated` when given."""
    family_id = await stack.family(council, nhs)
    await stack.submit(council, family_id, assessment_answers(started=started, needs=NEEDS))
    plan = await stack.opened_plan(council, family_id)
    if activated is None:
        return plan
    plan = await stack.active_plan(council, family_id, activated_on=activated)
    organisation_id, email = lead
    body = {"name": "Sam Lead", "organisation_id": organisation_id, **({"email": email} if email else {})}
    return await stack.change(council, plan, "", {"lead_professional": body}, method="PATCH")


async def _close(stack: PlanStack, who: Organisation, plan: dict[str, Any], on: str, reason: str) -> dict[str, Any]:
    return await stack.change(who, plan, "/close", {"reason": reason, "closed_on": on})


async def _step_up(stack: PlanStack, who: Organisation, plan: dict[str, Any], on: str) -> dict[str, Any]:
    return await stack.change(who, plan, "/step-up", {"reason": "Strategy discussion.", "stepped_up_on": on})


async def _refer(stack: PlanStack, who: Organisation, family_id: str, on: str, source: str) -> None:
    body = {"referred_on": on, "source": source, "reason": REFERRAL_REASON}
    response = await stack.plans.post(f"/families/{family_id}/social-care-referrals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text


def _on(moment: date) -> Any:
    return lambda: datetime.combine(moment, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)


async def _report(stack: PlanStack, who: Organisation, name: str, **params: str) -> dict[str, Any]:
    response = await stack.plans.get(f"/reports/{name}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    assert not any(private in response.text for private in PRIVATE)
    report: dict[str, Any] = response.json()
    return report


async def _csv(stack: PlanStack, who: Organisation, name: str, **params: str) -> list[dict[str, str]]:
    response = await stack.plans.get(f"/reports/{name}", params=params, headers={**who.headers, "Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _measures(report: dict[str, Any], group: str | None = None) -> dict[str, tuple[int, int, float | None]]:
    return {
        m["measure"]: (m["numerator"], m["denominator"], m["share"]) for m in report["measures"] if m["group"] == group
    }


async def test_re_referrals_count_reopenings_and_referrals_to_social_care_apart(
    plan_stack: PlanStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    a_nhs, b_nhs, c_nhs, d_nhs = nhs_numbers(4)
    # A: closed on 1 March, referred to social care on 10 April (40 days): within 6 weeks.
    a = await _plan(stack, council, a_nhs, started="2025-01-06", activated="2025-01-13")
    a = await _close(stack, council, a, "2025-03-01", "outcomes_met")
    await _refer(stack, council, a["family_id"], "2025-04-10", "after_closure")
    # B: closed on 15 March and reopened 11 months later (332 days): back to early help within 12 months only.
    b = await _plan(stack, council, b_nhs, started="2025-01-06", activated="2025-01-13")
    b = await _close(stack, council, b, "2025-03-15", "family_disengaged")
    with monkeypatch.context() as clock:
        clock.setattr(changes, "now", _on(date(2026, 2, 10)))
        reopened = await stack.change(council, b, "/reopen", {"reason": "The family asked for help again."})
    assert reopened["episodes"][1]["opened_on"] == "2026-02-10"
    # C: led by a school, closed on 20 March; a new assessment two months later opens a new plan (61 days), and
    # the front door refers the family to social care in August (153 days): within 6 months, not 6 weeks.
    c = await _plan(stack, council, c_nhs, started="2025-01-06", activated="2025-01-13", lead=("org-school", None))
    c = await _close(stack, council, c, "2025-03-20", "outcomes_met")
    await stack.submit(council, c["family_id"], assessment_answers(started="2025-05-20", needs=NEEDS))
    await stack.opened_plan(council, c["family_id"])
    await _refer(stack, council, c["family_id"], "2025-08-20", "front_door")
    # D: stepped up to social care in March: open to social care, so out of the cohort.
    d = await _plan(stack, council, d_nhs, started="2025-01-06", activated="2025-01-13")
    await _step_up(stack, council, d, "2025-03-10")

    march = {"from": "2025-03-01", "to": "2025-03-31"}
    report = await _report(stack, council, "re-referrals", **march)

    assert (report["closed"], report["stepped_up"], report["by"]) == (3, 1, None)
    assert "reopened" in report["definition"] and "6 weeks" in report["definition"]
    assert _measures(report) == {
        "early_help_within_6_months": (1, 3, 0.3333),  # C
        "early_help_within_12_months": (2, 3, 0.6667),  # B (reopened) and C
        "social_care_within_6_weeks": (1, 3, 0.3333),  # A
        "social_care_within_6_months": (2, 3, 0.6667),  # A and C
    }
    assert all(m["complete"] and m["definition"] for m in report["measures"])

    by_lead = await _report(stack, council, "re-referrals", by="lead_agency", **march)
    assert _measures(by_lead, "org-council") == {  # A and B
        "early_help_within_6_months": (0, 2, 0.0),
        "early_help_within_12_months": (1, 2, 0.5),
        "social_care_within_6_weeks": (1, 2, 0.5),
        "social_care_within_6_months": (1, 2, 0.5),
    }
    assert _measures(by_lead, "org-school") == {  # C
        "early_help_within_6_months": (1, 1, 1.0),
        "early_help_within_12_months": (1, 1, 1.0),
        "social_care_within_6_weeks": (0, 1, 0.0),
        "social_care_within_6_months": (1, 1, 1.0),
    }
    assert _measures(by_lead) == _measures(report)

    rows = await _csv(stack, council, "re-referrals", **march)
    assert [(r["measure"], r["numerator"], r["denominator"]) for r in rows] == [
        ("early_help_within_6_months", "1", "3"),
        ("early_help_within_12_months", "2", "3"),
        ("social_care_within_6_weeks", "1", "3"),
        ("social_care_within_6_months", "2", "3"),
    ]

    unsupported = await stack.plans.get(
        "/reports/re-referrals", params={"by": "ward", **march}, headers=council.headers
    )
    problem = assert_problem(unsupported, 400, "unsupported-breakdown")
    supported = ["age_band", "agency", "ethnicity", "lead_agency", "level_of_need", "locality", "sex"]
    assert problem["supported"] == supported
    assert ", ".join(supported) in str(problem["detail"])


def _review(plan: dict[str, Any], held_on: str, next_due: str, *ratings: tuple[str, int]) -> dict[str, Any]:
    return {
        "held_on": held_on,
        "attendees": [{"name": "Sam Lead", "role": "lead professional", "organisation_id": "org-council"}],
        "family_voice": "Things are calmer at home.",
        "ratings": [
            {"goal_id": goal["id"], "stage": stage, "score": score}
            for goal, (stage, score) in zip(plan["goals"], ratings, strict=True)
        ],
        "next_review_due": next_due,
    }


async def test_open_work_caseload_overdue_reviews_and_distance_travelled(plan_stack: PlanStack) -> None:
    stack, council = plan_stack, _council(plan_stack)
    today = date.today()
    yesterday, next_month = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=30)).isoformat()
    p1_nhs, p2_nhs, p3_nhs, p4_nhs = nhs_numbers(4)
    # P1: active since January, its first review long overdue; its lead's address as they typed it.
    await _plan(stack, council, p1_nhs, started="2025-01-06", activated="2025-01-13",
                lead=("org-council", "Sam.Lead@Council.example"))  # fmt: skip
    # P2: the same lead; two goals reviewed twice, the second review yesterday with the next one to come.
    p2 = await _plan(stack, council, p2_nhs, started="2025-01-27", activated="2025-02-03",
                     lead=("org-council", "sam.lead@council.example"))  # fmt: skip
    health_goal = {
        "need_ids": [p2["needs"][1]["id"]],
        "outcome_area": "physical_and_mental_health",
        "description": "Mum sees her GP about her mood.",
        "measure_of_success": "An appointment kept.",
    }
    p2 = await stack.change(council, p2, "/goals", health_goal)
    p2 = await stack.change(council, p2, "/reviews", _review(p2, "2025-03-03", "2025-04-14",
                                                              ("contemplation", 3), ("action", 5)))  # fmt: skip
    p2 = await stack.change(council, p2, "/reviews", _review(p2, yesterday, next_month,
                                                              ("action", 5), ("action", 4)))  # fmt: skip
    # P3: led by a school; reviewed twice, no movement, and the next review overdue.
    p3 = await _plan(stack, council, p3_nhs, started="2025-02-03", activated="2025-02-10",
                     lead=("org-school", "jo@school.example"))  # fmt: skip
    p3 = await stack.change(council, p3, "/reviews", _review(p3, "2025-03-03", "2025-04-14", ("maintenance", 6)))
    p3 = await stack.change(council, p3, "/reviews", _review(p3, "2025-04-14", "2025-05-26", ("maintenance", 6)))
    # P4: closed at the end of March.
    p4 = await _plan(stack, council, p4_nhs, started="2025-01-06", activated="2025-01-13")
    await _close(stack, council, p4, "2025-03-31", "outcomes_met")

    in_march = await _report(stack, council, "open-work", on="2025-03-05")
    assert (in_march["plans"], in_march["families"], in_march["children"]) == (4, 4, 4)  # one child each
    assert "children" in in_march["definition"] and in_march["groups"] == []
    april = await _report(stack, council, "open-work", on="2025-04-15")  # P4 closed at the end of March
    january = await _report(stack, council, "open-work", on="2025-01-20")  # only P1 and P4 had started
    assert (april["plans"], april["children"], january["plans"], january["children"]) == (3, 3, 2, 2)
    by_lead = await _report(stack, council, "open-work", on="2025-03-05", by="lead_agency")
    assert by_lead["groups"] == [
        {"group": "org-council", "plans": 3, "families": 3, "children": 3},
        {"group": "org-school", "plans": 1, "families": 1, "children": 1},
    ]
    assert [row["group"] for row in await _csv(stack, council, "open-work", on="2025-03-05", by="lead_agency")] == [
        "", "org-council", "org-school",
    ]  # fmt: skip

    caseload = await _report(stack, council, "caseload")
    assert caseload["leads"] == [
        {"lead_email": "sam.lead@council.example", "lead_organisation_id": "org-council", "families": 2, "children": 2},
        {"lead_email": "jo@school.example", "lead_organisation_id": "org-school", "families": 1, "children": 1},
    ]
    assert "e-mail" in caseload["definition"] and "Sam Lead" not in str(caseload)

    overdue = await _report(stack, council, "reviews-overdue")
    assert (overdue["by"], overdue["active"], overdue["overdue"], overdue["share"]) == ("lead_agency", 3, 2, 0.6667)
    assert overdue["rows"] == [
        {"group": "org-council", "active": 2, "overdue": 1, "share": 0.5},  # P1; P2 is reviewed
        {"group": "org-school", "active": 1, "overdue": 1, "share": 1.0},  # P3
    ]

    travelled = await _report(stack, council, "distance-travelled", **{"from": "2025-01-01", "to": today.isoformat()})
    assert (travelled["plans"], travelled["goals"]) == (2, 3)  # P2 and P3; P1 was never reviewed
    assert (travelled["improved"], travelled["same"], travelled["worse"]) == (1, 1, 1)
    assert [(r["outcome_area"], r["goals"], r["improved"], r["same"], r["worse"]) for r in travelled["rows"]] == [
        ("education_and_attendance", 2, 1, 1, 0),  # P2 contemplation to action; P3 maintenance both times
        ("physical_and_mental_health", 1, 0, 0, 1),  # P2 action 5 to action 4
    ]
    # Up to April 2025 only P3's latest review (14 April) falls in the period and follows an earlier one.
    april = await _report(stack, council, "distance-travelled", **{"from": "2025-04-01", "to": "2025-04-30"})
    assert (april["plans"], april["goals"], april["same"]) == (1, 1, 1)

    school = stack.organisation("org-school", "school")
    school_caseload = await _report(stack, school, "caseload")
    assert [lead["lead_email"] for lead in school_caseload["leads"]] == ["jo@school.example"]


async def test_plan_duration_by_close_reason_and_the_step_down_cohort(
    plan_stack: PlanStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    e1, e2, e3, s1, s2 = nhs_numbers(5)
    # Opened on 6 January: closed after 54 days (under 3 months), 120 (3 to 6) and 207 (6 to 12).
    for nhs, closed_on, reason in (
        (e1, "2025-03-01", "outcomes_met"),
        (e2, "2025-05-06", "outcomes_met"),
        (e3, "2025-08-01", "family_disengaged"),
    ):
        plan = await _plan(stack, council, nhs, started="2025-01-06", activated="2025-01-13")
        await _close(stack, council, plan, closed_on, reason)

    duration = await _report(stack, council, "plan-duration", **{"from": "2025-01-01", "to": "2025-12-31"})
    assert (duration["closed"], duration["median_days"]) == (3, 120)
    assert [
        (r["close_reason"], r["episodes"], r["median_days"], r["under_3_months"], r["from_3_to_6_months"],
         r["from_6_to_12_months"], r["over_12_months"])
        for r in duration["rows"]
    ] == [
        (None, 3, 120, 1, 1, 1, 0),
        ("family_disengaged", 1, 207, 0, 0, 1, 0),
        ("outcomes_met", 2, 87, 1, 1, 0, 0),
    ]  # fmt: skip

    # Two families stepped up in March and stepped down on 2 June: S1's plan closed with outcomes met and the
    # family stayed away from social care; S2's is still open, and the front door referred it again on 1 September
    # (91 days after the step-down).
    stepped_down = []
    for nhs, stepped_up_on in ((s1, "2025-03-10"), (s2, "2025-03-12")):
        plan = await _step_up(
            stack, council, await _plan(stack, council, nhs, started="2025-01-06", activated="2025-01-13"),
            stepped_up_on,
        )  # fmt: skip
        with monkeypatch.context() as clock:
            clock.setattr(changes, "now", _on(date(2025, 6, 2)))
            stepped_down.append(await stack.change(council, plan, "/step-down", {}))
    s1_plan = await stack.active_plan(council, stepped_down[0]["family_id"], activated_on="2025-06-09")
    await _close(stack, council, s1_plan, "2025-10-01", "outcomes_met")
    await _refer(stack, council, stepped_down[1]["family_id"], "2025-09-01", "front_door")

    cohort = await _report(stack, council, "step-down-outcomes", **{"from": "2025-06-01", "to": "2025-06-30"})
    assert cohort["stepped_down"] == 2
    assert cohort["outcomes"] == [
        {"group": None, "outcome": "open", "plans": 1},
        {"group": None, "outcome": "outcomes_met", "plans": 1},
    ]
    assert _measures(cohort) == {"social_care_within_6_months": (1, 2, 0.5)}
    assert "stepped a family down" in cohort["definition"]
    # The step-ups themselves, before the step-down, are not a return to social care; nor is anyone stepped down
    # in May.
    may = await _report(stack, council, "step-down-outcomes", **{"from": "2025-05-01", "to": "2025-05-31"})
    assert (may["stepped_down"], _measures(may)) == (0, {"social_care_within_6_months": (0, 0, None)})

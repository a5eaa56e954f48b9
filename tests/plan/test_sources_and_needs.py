"""Where early help came from (a request through the front door, an agency's own assessment, a step-down from
social care) and the presenting needs of the plans opened, each against families whose right answer is worked out
here."""

from datetime import date
from typing import Any

from tests.support.organisations import Organisation
from tests.support.plan import EVERY_SCOPE, PlanStack
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers, nhs_numbers, submitted_sample

TODAY = date.today().isoformat()
EDUCATION = {"description": "Attendance below 90% this term.", "outcome_area": "education_and_attendance"}
HEALTH = {"description": "Low mood, no treatment yet.", "outcome_area": "physical_and_mental_health"}
PRIVATE = ("Amara", "Okafor", "Attendance below 90%", "Low mood")


async def _opened(
    stack: PlanStack, council: Organisation, family_id: str, needs: list[dict[str, str]]
) -> dict[str, Any]:
    await stack.submit(council, family_id, assessment_answers(started=TODAY, needs=needs))
    return await stack.opened_plan(council, family_id)


async def _report(stack: PlanStack, who: Organisation, name: str, **params: str) -> dict[str, Any]:
    response = await stack.plans.get(f"/reports/{name}", params={"from": TODAY, "to": TODAY, **params},
                                     headers=who.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    assert not any(private in response.text for private in PRIVATE)
    report: dict[str, Any] = response.json()
    return report


async def _four_plans(stack: PlanStack, council: Organisation) -> None:
    """F1 asked for support first; F2 was assessed by an agency; F3 too, then stepped up and down again today."""
    f1, f2, f3 = [await stack.family(council, nhs) for nhs in nhs_numbers(3, start=943478000)]
    request = await stack.assessment.post(
        "/assessments", json=submitted_sample(f1, "request-for-support"), headers=council.headers
    )
    assert request.status_code == 201, request.text
    await _opened(stack, council, f1, [EDUCATION, HEALTH])
    await _opened(stack, council, f2, [EDUCATION])
    await _opened(stack, council, f3, [EDUCATION, HEALTH])
    plan = await stack.active_plan(council, f3, activated_on=TODAY)
    plan = await stack.change(council, plan, "/step-up", {"reason": "Strategy discussion.", "stepped_up_on": TODAY})
    await stack.change(council, plan, "/step-down", {})  # a new plan, carrying F3's needs


async def test_referral_sources_count_plans_by_where_they_came_from_and_requests_by_who_made_them(
    plan_stack: PlanStack,
) -> None:
    stack = plan_stack
    council = stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")
    await _four_plans(stack, council)

    report = await _report(stack, council, "referral-sources")
    assert (report["plans_opened"], report["requests_for_support"]) == (4, 1)
    assert report["plan_sources"] == [
        {"source": "agency_assessment", "count": 2, "share": 0.5},  # F2 and F3's first plan
        {"source": "front_door_request", "count": 1, "share": 0.25},  # F1
        {"source": "step_down_from_social_care", "count": 1, "share": 0.25},  # F3's second plan
    ]
    assert report["request_sources"] == [{"source": "council", "count": 1, "share": 1.0}]
    assert "step_down_from_social_care" in report["definition"]

    rows = await stack.plans.get(
        "/reports/referral-sources",
        params={"from": TODAY, "to": TODAY},
        headers={**council.headers, "Accept": "text/csv"},
    )
    assert rows.text.splitlines() == [
        "counted,source,count,share",
        "plans,agency_assessment,2,0.5",
        "plans,front_door_request,1,0.25",
        "plans,step_down_from_social_care,1,0.25",
        "requests_for_support,council,1,1.0",
    ]


async def test_the_needs_profile_counts_plans_by_the_outcome_areas_of_their_needs(plan_stack: PlanStack) -> None:
    stack = plan_stack
    council = stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")
    await _four_plans(stack, council)

    report = await _report(stack, council, "needs-profile")
    # Education: all four plans; health: F1 and both of F3's.
    assert (report["plans_opened"], report["top"]) == (4, 10)
    assert report["rows"] == [
        {"outcome_area": "education_and_attendance", "plans": 4, "needs": 4, "share": 1.0},
        {"outcome_area": "physical_and_mental_health", "plans": 3, "needs": 3, "share": 0.75},
    ]
    top = await _report(stack, council, "needs-profile", top="1")
    assert [row["outcome_area"] for row in top["rows"]] == ["education_and_attendance"]

    too_many = await stack.plans.get("/reports/needs-profile", params={"top": "0"}, headers=council.headers)
    assert_problem(too_many, 422, "validation-failed")

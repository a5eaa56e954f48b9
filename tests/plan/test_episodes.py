"""A plan's history is kept: each reopening is a new episode, a draft can be discarded, and the assessment's next
step decides whether a plan opens at all."""

import copy
from datetime import date, timedelta
from typing import Any

from tests.support.organisations import Organisation
from tests.support.plan import EVERY_SCOPE, PlanStack
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers
from tests.support.streams import published


async def _report(stack: PlanStack, who: Organisation, name: str, start: date, end: date) -> dict[str, Any]:
    period = {"from": start.isoformat(), "to": end.isoformat()}
    response = await stack.plans.get(f"/reports/{name}", params=period, headers=who.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def _plans_of(stack: PlanStack, who: Organisation, family_id: str) -> list[dict[str, Any]]:
    response = await stack.plans.get("/plans", params={"family_id": family_id}, headers=who.headers)
    assert response.status_code == 200, response.text
    plans: list[dict[str, Any]] = response.json()
    return plans


def _with_next_step(next_step: str) -> dict[str, Any]:
    answers = copy.deepcopy(assessment_answers())
    answers["next_step"] = next_step
    return answers


async def test_close_reopen_close_keeps_two_episodes_and_counts_the_reopening_as_a_re_referral(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")
    family_id = await plan_stack.family(council)
    today = date.today()
    first_closed = today - timedelta(days=20)
    await plan_stack.submit(council, family_id, assessment_answers(started=(today - timedelta(days=90)).isoformat()))
    plan = await plan_stack.active_plan(council, family_id, activated_on=(today - timedelta(days=80)).isoformat())

    plan = await plan_stack.change(
        council, plan, "/close", {"reason": "family_disengaged", "closed_on": first_closed.isoformat()}
    )
    plan = await plan_stack.change(council, plan, "/reopen", {"reason": "Mum asked for help again."})
    assert plan["status"] == "active" and plan["closure"] is None
    plan = await plan_stack.change(council, plan, "/close", {"reason": "outcomes_met"})

    first, second = plan["episodes"]
    assert first == {
        "number": 1,
        "opened_on": plan["opened_on"],
        "re_referral": False,
        "days_since_last_closure": None,
        "closed_on": first_closed.isoformat(),
        "close_reason": "family_disengaged",
        "close_note": None,
        "outcome_areas": first["outcome_areas"],
        "all_needs_met": False,
    }
    assert second["number"] == 2 and second["opened_on"] == today.isoformat()
    assert (second["re_referral"], second["days_since_last_closure"]) == (True, 20)
    assert (second["closed_on"], second["close_reason"]) == (today.isoformat(), "outcomes_met")

    # The first closure is not erased by the reopening: both count, and the first was re-referred within 6 weeks.
    closures = await _report(plan_stack, council, "closures", first_closed, today)
    assert (closures["closed"], closures["by_reason"]) == (
        2,
        [{"reason": "family_disengaged", "plans": 1}, {"reason": "outcomes_met", "plans": 1}],
    )
    re_referrals = await _report(plan_stack, council, "re-referrals", first_closed, first_closed)
    back = {m["measure"]: m["numerator"] for m in re_referrals["measures"]}
    assert (re_referrals["closed"], back["early_help_within_6_months"]) == (1, 1)


async def test_a_discarded_draft_lets_the_next_assessment_open_a_plan_and_is_on_the_record(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    draft = await plan_stack.opened_plan(council, family_id)

    headers = {**council.headers, "If-Match": f'"{draft["version"]}"'}
    without_reason = await plan_stack.plans.post(f"/plans/{draft['id']}/discard", json={}, headers=headers)
    assert_problem(without_reason, 422, "validation-failed")
    discarded = await plan_stack.change(council, draft, "/discard", {"reason": "Family moved out of the area."})
    assert discarded["status"] == "discarded"
    assert discarded["episodes"][0]["close_reason"] == "discarded"

    again = await plan_stack.plans.post(
        f"/plans/{draft['id']}/discard",
        json={"reason": "twice"},
        headers={**council.headers, "If-Match": f'"{discarded["version"]}"'},
    )
    assert_problem(again, 409, "plan-state")
    assert again.json()["plan_status"] == "discarded"

    second_assessment = await plan_stack.submit(council, family_id)
    second = await plan_stack.opened_plan(council, family_id)
    assert second["assessment_id"] == second_assessment and second["id"] != draft["id"]
    assert second["re_referral"] is None  # a discarded draft was never early help: nothing closed before

    (event,) = [e for e in await published(plan_stack, "plan.discarded") if e["plan_id"] == draft["id"]]
    assert event == {
        "plan_id": draft["id"],
        "family_id": family_id,
        "organisation_id": "org-council",
        "version": discarded["version"],
    }
    entries = await published(plan_stack, "audit.recorded")
    audited = [entry["action"] for entry in entries if entry["resource_id"] == draft["id"]]
    assert "discard" in audited
    today = date.today()
    closures = await _report(plan_stack, council, "closures", today - timedelta(days=400), today)
    assert closures["closed"] == 0


async def test_an_active_plan_cannot_be_discarded(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)

    refused = await plan_stack.plans.post(
        f"/plans/{plan['id']}/discard",
        json={"reason": "Changed our minds."},
        headers={**council.headers, "If-Match": f'"{plan["version"]}"'},
    )

    assert_problem(refused, 409, "plan-state")
    assert "only a draft plan is discarded" in refused.json()["detail"]


async def test_an_assessment_whose_next_step_is_not_a_plan_opens_none(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    universal = await plan_stack.family(council, "9434765919")
    social_care = await plan_stack.family(council, "9434765870")
    await plan_stack.submit(council, universal, _with_next_step("universal_services"))
    await plan_stack.submit(council, social_care, _with_next_step("refer_to_social_care"))
    # Then an assessment that calls for a plan, for each family: the consumer takes events in order, so once its
    # plan is there the earlier one was handled; had it opened a plan, this one could not have opened.
    later = {
        family_id: await plan_stack.submit(council, family_id, _with_next_step("team_around_the_family"))
        for family_id in (universal, social_care)
    }

    for family_id, assessment_id in later.items():
        plan = await plan_stack.opened_plan(council, family_id)
        assert plan["assessment_id"] == assessment_id
        assert [p["id"] for p in await _plans_of(plan_stack, council, family_id)] == [plan["id"]]

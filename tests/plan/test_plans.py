"""Plans from identify to review: opened from a submitted assessment, worked, reviewed, closed, reopened."""

import asyncio
from datetime import date, timedelta
from typing import Any

from services.kit.events.schemas import render, schema_file
from services.plan.events import EVENT_PAYLOADS
from tests.support.plan import PlanStack
from tests.support.samples import assessment_answers
from tests.support.streams import published
from tests.support.waiting import eventually


def _events_of(events: list[dict[str, Any]], plan_id: str) -> list[dict[str, Any]]:
    return [event for event in events if event.get("plan_id") == plan_id]


async def test_a_submitted_assessment_opens_a_draft_plan_with_its_needs_already_listed(plan_stack: PlanStack) -> None:
    school = plan_stack.organisation("org-school", "school")
    family_id = await plan_stack.family(school)
    assessment_id = await plan_stack.submit(school, family_id)

    plan = await plan_stack.opened_plan(school, family_id)

    found = assessment_answers()["needs"]
    assert [(need["description"], need["outcome_area"], need["status"]) for need in plan["needs"]] == [
        (need["description"], need["outcome_area"], "open") for need in found
    ]
    assert len({need["id"] for need in plan["needs"]}) == len(found)
    assert plan["status"] == "draft"
    assert plan["assessment_id"] == assessment_id
    assert plan["organisation_id"] == "org-school"  # the assessing organisation may see and shape it
    assert plan["opened_on"] == "2025-02-17"  # the day the assessment started, as recorded in it
    assert plan["level_of_need"] == "2"
    assert plan["re_referral"] is None and plan["stepped_down_from"] is None

    (created,) = _events_of(await published(plan_stack, "plan.created"), plan["id"])
    assert created == {
        "plan_id": plan["id"],
        "family_id": family_id,
        "organisation_id": "org-school",
        "version": 1,
        "assessment_id": assessment_id,
        "re_referral": False,
        "stepped_down_from": None,
    }
    # The service read the assessment as itself, and that read is on the record.
    reads = [
        entry
        for entry in await published(plan_stack, "audit.recorded")
        if entry["resource_id"] == assessment_id and entry["basis"] == "service"
    ]
    assert [entry["action"] for entry in reads] == ["read_needs"]


async def test_asking_again_for_the_same_assessment_points_at_the_plan_it_opened(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    assessment_id = await plan_stack.submit(council, family_id)
    plan = await plan_stack.opened_plan(council, family_id)

    again = await plan_stack.plans.post("/plans", json={"assessment_id": assessment_id}, headers=council.headers)

    assert again.status_code == 409, again.text
    assert again.json()["type"].endswith(":open-plan-exists")
    assert again.headers["Location"] == f"/plans/{plan['id']}"
    listed = await plan_stack.plans.get("/plans", params={"family_id": family_id}, headers=council.headers)
    assert [summary["id"] for summary in listed.json()] == [plan["id"]]


async def test_a_plan_from_an_assessment_that_is_not_submitted_or_not_there_is_refused(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    draft = await plan_stack.assessment.post(
        "/assessments",
        json={"family_id": family_id, "form": {"key": "early-help-assessment", "version": 1}, "answers": {}},
        headers=council.headers,
    )
    assert draft.status_code == 201, draft.text

    not_submitted = await plan_stack.plans.post(
        "/plans", json={"assessment_id": draft.json()["id"]}, headers=council.headers
    )
    missing = await plan_stack.plans.post(
        "/plans", json={"assessment_id": "00000000-0000-0000-0000-000000000000"}, headers=council.headers
    )

    assert not_submitted.status_code == 422
    assert not_submitted.json()["type"].endswith(":assessment-not-submitted")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith(":unknown-assessment")


async def test_a_plan_is_worked_from_draft_to_review_to_closure_and_reopened(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.opened_plan(council, family_id)
    assert plan["allowed_actions"] == ["change", "add_goal", "activate", "discard", "record_contact"]

    premature = await plan_stack.plans.post(
        f"/plans/{plan['id']}/activate", json={}, headers={**council.headers, "If-Match": f'"{plan["version"]}"'}
    )
    assert premature.status_code == 422
    assert "lead professional" in premature.json()["detail"]
    closing_a_draft = await plan_stack.plans.post(
        f"/plans/{plan['id']}/close",
        json={"reason": "outcomes_met"},
        headers={**council.headers, "If-Match": f'"{plan["version"]}"'},
    )
    assert closing_a_draft.status_code == 409
    assert closing_a_draft.json()["plan_status"] == "draft"
    assert "draft" in closing_a_draft.json()["detail"]

    plan = await plan_stack.active_plan(council, family_id, activated_on="2025-03-03")
    assert plan["status"] == "active"
    assert plan["allowed_actions"] == ["change", "add_goal", "review", "close", "step_up", "record_contact"]
    assert plan["activated_on"] == "2025-03-03"
    assert plan["next_review_due"] == "2025-04-14"  # six weeks on
    (goal,) = plan["goals"]
    assert goal["need_ids"] == [plan["needs"][0]["id"]]

    team = [
        {"organisation_id": "org-school", "role": "attendance", "name": "Jo Bloggs"},
        {"organisation_id": "org-health", "role": "GP", "name": None},
    ]
    actions = [
        {
            "description": "Walking bus from Monday",
            "owner": "Joanne (DSL)",
            "organisation_id": "org-school",
            "due_on": "2025-03-10",
        }
    ]
    plan = await plan_stack.change(council, plan, "", {"team": team, "actions": actions}, method="PATCH")
    assert plan["team"] == team
    assert plan["actions"][0]["id"] and plan["actions"][0]["owner"] == "Joanne (DSL)"

    review = {
        "held_on": "2025-04-10",
        "attendees": [
            {"name": "Gemma", "role": "mother"},
            {"name": "Sam Lead", "role": "lead professional", "organisation_id": "org-council"},
        ],
        "family_voice": "Mornings are calmer; Maisie likes the walking bus.",
        "ratings": [{"goal_id": goal["id"], "stage": "action", "score": 6}],
    }
    plan = await plan_stack.change(council, plan, "/reviews", review)
    assert plan["next_review_due"] == "2025-05-22"
    assert plan["reviews"][0]["ratings"] == [{"goal_id": goal["id"], "stage": "action", "score": 6}]
    assert plan["reviews"][0]["attendees"][0] == {"name": "Gemma", "role": "mother", "organisation_id": None}

    met = [{**need, "status": "met"} for need in plan["needs"]]
    plan = await plan_stack.change(council, plan, "", {"needs": met}, method="PATCH")
    plan = await plan_stack.change(council, plan, "/close", {"reason": "outcomes_met", "closed_on": "2025-06-30"})
    assert plan["status"] == "closed"
    assert plan["closure"] == {"reason": "outcomes_met", "note": None, "closed_on": "2025-06-30"}
    assert plan["next_review_due"] is None
    assert plan["allowed_actions"] == ["reopen"]

    reviewing_a_closed_plan = await plan_stack.plans.post(
        f"/plans/{plan['id']}/reviews", json=review, headers={**council.headers, "If-Match": f'"{plan["version"]}"'}
    )
    assert reviewing_a_closed_plan.status_code == 409
    assert reviewing_a_closed_plan.json()["plan_status"] == "closed"

    plan = await plan_stack.change(council, plan, "/reopen", {"reason": "Housing fell through again."})
    assert plan["status"] == "active" and plan["closure"] is None

    kinds = []
    for kind in (
        "plan.created",
        "plan.updated",
        "plan.goal_added",
        "plan.activated",
        "plan.review_recorded",
        "plan.closed",
        "plan.reopened",
    ):
        events = _events_of(await published(plan_stack, kind), plan["id"])
        kinds += [(event["version"], kind) for event in events]
    assert [kind for _, kind in sorted(kinds)] == [
        "plan.created",
        "plan.updated",  # the lead
        "plan.goal_added",
        "plan.activated",
        "plan.updated",  # team and actions
        "plan.review_recorded",
        "plan.updated",  # needs met
        "plan.closed",
        "plan.reopened",
    ]
    updates = _events_of(await published(plan_stack, "plan.updated"), plan["id"])
    assert [update["changed"] for update in updates] == [["lead_professional"], ["actions", "team"], ["needs"]]


async def test_a_review_rates_every_goal_once_and_dates_are_never_in_the_future(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id, activated_on="2025-03-03")
    headers = {**council.headers, "If-Match": f'"{plan["version"]}"'}
    base = {"held_on": "2025-04-10", "attendees": [{"name": "Gemma", "role": "mother"}], "family_voice": "Better."}

    unrated = await plan_stack.plans.post(
        f"/plans/{plan['id']}/reviews",
        json={**base, "ratings": [{"goal_id": "not-a-goal", "stage": "action", "score": 5}]},
        headers=headers,
    )
    out_of_scale = await plan_stack.plans.post(
        f"/plans/{plan['id']}/reviews",
        json={**base, "ratings": [{"goal_id": plan["goals"][0]["id"], "stage": "action", "score": 11}]},
        headers=headers,
    )
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    future = await plan_stack.plans.post(
        f"/plans/{plan['id']}/close", json={"reason": "moved_away", "closed_on": tomorrow}, headers=headers
    )

    assert unrated.status_code == 422
    assert "Not rated" in unrated.json()["detail"] and "not-a-goal" in unrated.json()["detail"]
    assert out_of_scale.status_code == 422
    assert [error["pointer"] for error in out_of_scale.json()["errors"]] == ["/ratings/0/score"]
    assert future.status_code == 422 and "future" in future.json()["detail"]


async def test_a_change_needs_the_current_etag_so_two_editors_never_silently_overwrite(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.opened_plan(council, family_id)
    url = f"/plans/{plan['id']}"

    without = await plan_stack.plans.patch(url, json={"next_review_due": "2025-05-01"}, headers=council.headers)
    assert without.status_code == 428, without.text
    assert without.json()["type"].endswith(":precondition-required")

    as_read = {**council.headers, "If-Match": f'"{plan["version"]}"'}
    first, second = await asyncio.gather(
        *(
            plan_stack.plans.patch(
                url, json={"lead_professional": {"name": name, "organisation_id": "org-council"}}, headers=as_read
            )
            for name in ("A", "B")
        )
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    loser = second if winner is first else first
    assert loser.json()["current_etag"] == winner.headers["ETag"]
    now = await plan_stack.plans.get(url, headers=council.headers)
    assert now.json()["lead_professional"] == winner.json()["lead_professional"]
    assert now.headers["ETag"] == f'"{plan["version"] + 1}"'


async def test_removing_a_need_a_goal_depends_on_is_refused(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)

    response = await plan_stack.plans.patch(
        f"/plans/{plan['id']}",
        json={"needs": plan["needs"][1:]},
        headers={**council.headers, "If-Match": f'"{plan["version"]}"'},
    )

    assert response.status_code == 422
    assert plan["needs"][0]["id"] in response.json()["detail"]


async def test_step_up_records_when_and_why_and_step_down_opens_a_flagged_plan(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id, activated_on="2025-03-03")

    stepping_down_an_active_plan = await plan_stack.plans.post(
        f"/plans/{plan['id']}/step-down", json={}, headers={**council.headers, "If-Match": f'"{plan["version"]}"'}
    )
    assert stepping_down_an_active_plan.status_code == 409

    reason = "Disclosure of harm at school: strategy discussion held."
    stepped_up = await plan_stack.change(council, plan, "/step-up", {"reason": reason, "stepped_up_on": "2025-04-01"})
    assert stepped_up["status"] == "closed"
    assert stepped_up["step_up"] == {"reason": reason, "stepped_up_on": "2025-04-01"}
    assert stepped_up["closure"]["reason"] == "stepped_up_to_social_care"

    lead = {"name": "Robin Soft", "organisation_id": "org-council", "email": "robin.soft@council.example.gov.uk"}
    landing = await plan_stack.change(council, stepped_up, "/step-down", {"lead_professional": lead})

    assert landing["id"] != plan["id"]
    assert landing["status"] == "draft"
    assert landing["stepped_down_from"] == plan["id"]
    assert [need["description"] for need in landing["needs"]] == [need["description"] for need in plan["needs"]]
    assert landing["lead_professional"] == lead
    (event,) = _events_of(await published(plan_stack, "plan.stepped_down"), landing["id"])
    assert event["from_plan_id"] == plan["id"]
    assert [e["plan_id"] for e in await published(plan_stack, "plan.stepped_up")] == [plan["id"]]


async def test_a_new_plan_within_a_year_of_the_last_closing_is_flagged_as_a_re_referral(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id, assessment_answers(started="2025-01-06"))
    plan = await plan_stack.active_plan(council, family_id, activated_on="2025-01-20")
    await plan_stack.change(council, plan, "/close", {"reason": "family_disengaged", "closed_on": "2025-03-31"})

    await plan_stack.submit(council, family_id, assessment_answers(started="2025-06-09"))
    second = await plan_stack.opened_plan(council, family_id)

    assert second["re_referral"] == {"days_since_last_closure": (date(2025, 6, 9) - date(2025, 3, 31)).days}
    (created,) = _events_of(await published(plan_stack, "plan.created"), second["id"])
    assert created["re_referral"] is True


async def test_a_review_that_falls_due_is_announced_once(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id, activated_on="2025-03-03")  # due 2025-04-14: overdue

    async def announced() -> bool:
        return bool(_events_of(await published(plan_stack, "plan.review_due"), plan["id"]))

    await eventually(announced)
    await asyncio.sleep(0.6)  # three more sweeps
    due = _events_of(await published(plan_stack, "plan.review_due"), plan["id"])
    assert due == [
        {"plan_id": plan["id"], "family_id": family_id, "lead_organisation_id": "org-council", "due_on": "2025-04-14"}
    ]


def test_the_published_event_schemas_match_the_code() -> None:
    for event_type, model in EVENT_PAYLOADS.items():
        path = schema_file(event_type)
        assert path.read_text() == render(event_type, model), f"{path} drifted: python -m services.plan.events"

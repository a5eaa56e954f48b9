"""A platform service, acting as itself, asks whom a plan names: its organisations and its lead, unaudited."""

import httpx

from tests.support.organisations import Organisation
from tests.support.plan import PlanStack
from tests.support.problems import assert_problem
from tests.support.stack import PLATFORM_ORGANISATION
from tests.support.streams import published
from tests.support.waiting import eventually


def _platform_service(stack: PlanStack) -> Organisation:
    return stack.organisation(PLATFORM_ORGANISATION, scopes="service")


async def _participants(stack: PlanStack, plan_id: str, caller: Organisation) -> httpx.Response:
    return await stack.plans.get(f"/internal/plans/{plan_id}/participants", headers=caller.headers)


async def test_a_service_learns_the_plans_author_lead_and_team_organisations_and_the_leads_email(
    plan_stack: PlanStack,
) -> None:
    school = plan_stack.organisation("org-school", "school")
    service = _platform_service(plan_stack)
    family_id = await plan_stack.family(school)
    await plan_stack.submit(school, family_id)
    plan = await plan_stack.opened_plan(school, family_id)

    opened = await _participants(plan_stack, plan["id"], service)
    assert opened.status_code == 200, opened.text
    assert opened.json() == {
        "plan_id": plan["id"],
        "family_id": family_id,
        "status": "draft",
        "organisations": ["org-school"],
        "lead": None,
    }

    lead = {"name": "Sam Lead", "organisation_id": "org-council", "email": "sam.lead@council.example.gov.uk"}
    team = [
        {"organisation_id": "org-health", "role": "health visitor"},
        {"organisation_id": "org-school", "role": "attendance lead"},  # the author on its own team counts once
        {"organisation_id": "org-housing", "role": "housing officer"},
    ]
    plan = await plan_stack.change(school, plan, "", {"lead_professional": lead, "team": team}, method="PATCH")

    named = await _participants(plan_stack, plan["id"], service)
    assert named.status_code == 200, named.text
    assert named.json() == {
        "plan_id": plan["id"],
        "family_id": family_id,
        "status": "draft",
        "organisations": ["org-council", "org-health", "org-housing", "org-school"],
        "lead": lead,
    }

    # Off the team, off the list: the answer follows the plan as it is now.
    plan = await plan_stack.change(school, plan, "", {"team": team[:1]}, method="PATCH")
    narrowed = await _participants(plan_stack, plan["id"], service)
    assert narrowed.json()["organisations"] == ["org-council", "org-health", "org-school"]

    # Nothing of the family is read, so nothing is audited: the school's own later read is, and only that.
    read = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=school.headers)
    assert read.status_code == 200, read.text
    audited: list[tuple[str, str]] = []

    async def schools_read_audited() -> bool:
        entries = await published(plan_stack, "audit.recorded")
        audited[:] = [(e["organisation_id"], e["action"]) for e in entries if e["resource_id"] == plan["id"]]
        return audited.count(("org-school", "read")) == 3  # listed and read when opened, and read now

    await eventually(schools_read_audited)
    opening = [("org-school", "create"), ("org-school", "read"), ("org-school", "read")]
    changes = [("org-school", "update"), ("org-school", "update")]
    assert sorted(audited) == sorted([*opening, *changes, ("org-school", "read")])


async def test_only_the_service_scope_asks_not_even_the_plans_author(plan_stack: PlanStack) -> None:
    school = plan_stack.organisation("org-school", "school")
    family_id = await plan_stack.family(school)
    await plan_stack.submit(school, family_id)
    plan = await plan_stack.opened_plan(school, family_id)

    refused = await _participants(plan_stack, plan["id"], school)

    body = assert_problem(refused, 403, "insufficient-scope")
    assert body["missing_scope"] == "service"
    assert "organisations" not in body and "org-school" not in refused.text


async def test_an_unknown_plan_is_not_found(plan_stack: PlanStack) -> None:
    missing = await _participants(plan_stack, "no-such-plan", _platform_service(plan_stack))

    body = assert_problem(missing, 404, "plan-not-found")
    assert body["detail"] == "There is no plan no-such-plan."

"""The lead professional's work e-mail address: kept with the lead, where review reminders go, and never logged."""

import json

import httpx
import pytest

from tests.support.organisations import Organisation
from tests.support.plan import PlanStack
from tests.support.problems import assert_problem
from tests.support.streams import published
from tests.support.waiting import eventually

ADDRESS = "sam.lead@council.example.gov.uk"
NEW_ADDRESS = "robin.soft@health.example.nhs.uk"


async def _stepped_down_plan(
    stack: PlanStack, council: Organisation, family_id: str, lead: dict[str, str]
) -> httpx.Response:
    """A plan opened without an assessment, for a family social care hands over, with `lead` as its lead."""
    body = {"family_id": family_id, "stepped_down_from_social_care": True, "lead_professional": lead}
    return await stack.plans.post("/plans", json=body, headers=council.headers)


def _validation_pointers(response: httpx.Response) -> list[str]:
    body = assert_problem(response, 422, "validation-failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    return [error["pointer"] for error in errors]


async def test_the_leads_email_is_kept_through_create_change_and_read(
    plan_stack: PlanStack, capfd: pytest.CaptureFixture[str]
) -> None:
    # The council's Early Help hub, a coordinator: its public task covers a family social care hands back.
    council = plan_stack.organisation("org-council", roles=("coordinator",))
    family_id = await plan_stack.family(council)
    lead = {"name": "Sam Lead", "organisation_id": "org-council", "email": ADDRESS}

    created = await _stepped_down_plan(plan_stack, council, family_id, lead)

    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["lead_professional"] == lead
    read = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=council.headers)
    assert read.status_code == 200, read.text
    assert read.json()["lead_professional"] == lead
    listed = await plan_stack.plans.get("/plans", params={"family_id": family_id}, headers=council.headers)
    assert [summary["lead_professional"] for summary in listed.json()] == [lead]

    new_lead = {"name": "Robin Soft", "organisation_id": "org-health", "email": NEW_ADDRESS}
    changed = await plan_stack.change(council, plan, "", {"lead_professional": new_lead}, method="PATCH")
    assert changed["lead_professional"] == new_lead
    reread = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=council.headers)
    assert reread.json()["lead_professional"] == new_lead

    # The lead is replaced as a whole: a lead named without an address has none.
    without = {"name": "Robin Soft", "organisation_id": "org-health"}
    cleared = await plan_stack.change(council, changed, "", {"lead_professional": without}, method="PATCH")
    assert cleared["lead_professional"] == {**without, "email": None}
    reread = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=council.headers)
    assert reread.json()["lead_professional"] == {**without, "email": None}

    # A practitioner's address is theirs: in no event and in no log line.
    events: list[dict[str, object]] = []

    async def both_changes_announced() -> bool:
        updated = [event for event in await published(plan_stack, "plan.updated") if event["plan_id"] == plan["id"]]
        audited = [e for e in await published(plan_stack, "audit.recorded") if e["resource_id"] == plan["id"]]
        events[:] = [*await published(plan_stack, "plan.created"), *updated, *audited]
        return len(updated) == 2 and [e["action"] for e in audited].count("update") == 2

    await eventually(both_changes_announced)
    assert ADDRESS not in json.dumps(events) and NEW_ADDRESS not in json.dumps(events)
    logged = capfd.readouterr().err
    assert '"logger": "access"' in logged  # the services' log lines are here to look through
    assert ADDRESS not in logged and NEW_ADDRESS not in logged


async def test_an_address_that_is_not_one_is_refused_naming_the_field(plan_stack: PlanStack) -> None:
    # The council's Early Help hub, a coordinator: its public task covers a family social care hands back.
    council = plan_stack.organisation("org-council", roles=("coordinator",))
    family_id = await plan_stack.family(council)
    not_addresses = [
        "sam.lead",
        "sam lead@council.example.gov.uk",
        "sam@@council.example.gov.uk",
        "sam@localhost",
        "sam@council.",
        "",
        f"{'s' * 240}@council.example.gov.uk",  # longer than the 254 characters an address may have
    ]
    for address in not_addresses:
        lead = {"name": "Sam Lead", "organisation_id": "org-council", "email": address}
        refused = await _stepped_down_plan(plan_stack, council, family_id, lead)
        assert _validation_pointers(refused) == ["/lead_professional/email"], address
        if address:
            assert address not in refused.text  # the problem does not repeat the address back

    created = await _stepped_down_plan(
        plan_stack, council, family_id, {"name": "Sam Lead", "organisation_id": "org-council"}
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["lead_professional"] == {"name": "Sam Lead", "organisation_id": "org-council", "email": None}
    lead = {"name": "Sam Lead", "organisation_id": "org-council", "email": "sam.lead@"}
    refused = await plan_stack.plans.patch(
        f"/plans/{plan['id']}",
        json={"lead_professional": lead},
        headers={**council.headers, "If-Match": f'"{plan["version"]}"'},
    )
    assert _validation_pointers(refused) == ["/lead_professional/email"]
    unchanged = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=council.headers)
    assert unchanged.json()["version"] == plan["version"]
    assert unchanged.json()["lead_professional"]["email"] is None


async def test_a_lead_professional_lists_the_open_plans_they_lead_for_their_own_organisation_next_review_first(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council", roles=("coordinator",))
    health = plan_stack.organisation("org-health", "health")
    led: dict[str, str] = {}
    for nhs_number, address, review_due in (
        ("9434765919", ADDRESS, "2026-09-01"),
        ("9434765927", ADDRESS.upper(), "2026-03-01"),  # overdue by now, and the address as another typed it
        ("9434765870", NEW_ADDRESS, "2026-01-01"),
        ("9434765900", ADDRESS, None),
    ):
        family_id = await plan_stack.family(council, nhs_number)
        lead = {"name": "Sam Lead", "organisation_id": "org-council", "email": address}
        created = await _stepped_down_plan(plan_stack, council, family_id, lead)
        assert created.status_code == 201, created.text
        if review_due:
            await plan_stack.change(council, created.json(), "", {"next_review_due": review_due}, method="PATCH")
        led[nhs_number] = created.json()["id"]

    listed = await plan_stack.plans.get("/plans", params={"lead_email": ADDRESS}, headers=council.headers)

    assert listed.status_code == 200, listed.text
    assert [plan["id"] for plan in listed.json()] == [led["9434765927"], led["9434765919"], led["9434765900"]]
    assert [plan["next_review_due"] for plan in listed.json()] == ["2026-03-01", "2026-09-01", None]
    assert await _led_count(plan_stack, council, ADDRESS) == 3  # the navigation's number, without the list
    # Another organisation learns nothing of who the council's staff lead, even naming the address.
    elsewhere = await plan_stack.plans.get("/plans", params={"lead_email": ADDRESS}, headers=health.headers)
    assert elsewhere.status_code == 200 and elsewhere.json() == []
    assert await _led_count(plan_stack, health, ADDRESS) == 0
    # A closed plan is no longer work to do.
    plan = (await plan_stack.plans.get(f"/plans/{led['9434765900']}", headers=council.headers)).json()
    await plan_stack.change(council, plan, "/discard", {"reason": "Opened by mistake"})
    again = await plan_stack.plans.get("/plans", params={"lead_email": ADDRESS}, headers=council.headers)
    assert [plan["id"] for plan in again.json()] == [led["9434765927"], led["9434765919"]]
    assert await _led_count(plan_stack, council, ADDRESS.upper()) == 2
    assert_problem(await plan_stack.plans.get("/plans/led/count", headers=council.headers), 422, "validation-failed")

    for params in ({}, {"lead_email": ADDRESS, "family_id": "fam-1"}):
        refused = await plan_stack.plans.get("/plans", params=params, headers=council.headers)
        assert_problem(refused, 422, "validation-failed")


async def _led_count(stack: PlanStack, organisation: Organisation, address: str) -> int:
    counted = await stack.plans.get("/plans/led/count", params={"lead_email": address}, headers=organisation.headers)
    assert counted.status_code == 200, counted.text
    assert set(counted.json()) == {"count"}  # a number, naming no plan and no family
    count = counted.json()["count"]
    assert isinstance(count, int)
    return count

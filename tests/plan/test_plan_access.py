"""Consent applies to plans as to assessments: the plan's organisations and granted ones read; reads are audited."""

import time

from tests.support.plan import PlanStack
from tests.support.plan import grant as _grant
from tests.support.streams import published
from tests.support.waiting import eventually


async def _audited(stack: PlanStack, plan_id: str) -> list[tuple[str, str, str]]:
    entries = await published(stack, "audit.recorded")
    return [(e["organisation_id"], e["action"], e["basis"]) for e in entries if e["resource_id"] == plan_id]


async def test_an_organisation_outside_the_plan_reads_it_only_under_a_grant_for_plans(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    health = plan_stack.organisation("org-health", "health")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.opened_plan(council, family_id)
    url = f"/plans/{plan['id']}"

    refused = await plan_stack.plans.get(url, headers=health.headers)
    unlisted = await plan_stack.plans.get("/plans", params={"family_id": family_id}, headers=health.headers)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith(":access-refused")
    assert "needs" not in refused.text and plan["needs"][0]["description"] not in refused.text
    assert unlisted.status_code == 200 and unlisted.json() == []

    await _grant(plan_stack, council, family_id, categories=["assessment"], recipient_types=["health"])
    still_refused = await plan_stack.plans.get(url, headers=health.headers)
    assert still_refused.status_code == 403  # a grant for assessments does not open plans

    grant = await _grant(plan_stack, council, family_id, categories=["plan"], recipient_organisations=["org-health"])
    granted = await plan_stack.plans.get(url, headers=health.headers)
    assert granted.status_code == 200, granted.text
    assert granted.json()["needs"] == plan["needs"]
    # The plan says what its reader may do: a grantee, nothing; its author, what the draft's status allows.
    assert granted.json()["allowed_actions"] == []
    assert plan["allowed_actions"] == ["change", "add_goal", "activate", "discard", "record_contact"]

    # Reading is not changing: a grant lets health read the plan, not rewrite it.
    change = await plan_stack.plans.patch(
        url, json={"next_review_due": "2025-05-01"}, headers={**health.headers, "If-Match": granted.headers["ETag"]}
    )
    assert change.status_code == 403
    assert change.json()["type"].endswith(":not-on-the-team")

    withdrawn = await plan_stack.consent.post(f"/consents/{grant['id']}/withdraw", json={}, headers=council.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    withdrawn_at = time.monotonic()

    async def refused_again() -> bool:
        read = await plan_stack.plans.get(url, headers=health.headers)
        if read.status_code == 200:
            return False
        assert read.json()["type"].endswith(":access-refused"), read.text
        return True

    await eventually(refused_again, within=1.0)
    assert time.monotonic() - withdrawn_at < 1.0

    async def audited() -> bool:
        return ("org-health", "read", "grant") in await _audited(plan_stack, plan["id"])

    await eventually(audited)
    reads = {entry for entry in await _audited(plan_stack, plan["id"]) if entry[0] == "org-health"}
    # Granted reads are logged on the grant, and every refusal too, on no basis.
    assert reads == {("org-health", "read", "grant"), ("org-health", "read", "refused")}


async def test_the_team_reads_and_changes_the_plan_without_a_grant(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    school = plan_stack.organisation("org-school", "school")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.opened_plan(council, family_id)

    before = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=school.headers)
    assert before.status_code == 403

    team = [{"organisation_id": "org-school", "role": "attendance lead"}]
    plan = await plan_stack.change(council, plan, "", {"team": team}, method="PATCH")
    as_team = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=school.headers)
    assert as_team.status_code == 200, as_team.text
    assert as_team.json()["allowed_actions"] == ["change", "add_goal", "activate", "discard", "record_contact"]
    # A member of the team whose role reads plans but writes none is offered nothing either.
    reader = plan_stack.organisation("org-school", "school", scopes="plans:read")
    as_reader = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=reader.headers)
    assert as_reader.status_code == 200, as_reader.text
    assert as_reader.json()["allowed_actions"] == []
    listed = await plan_stack.plans.get("/plans", params={"family_id": family_id}, headers=school.headers)
    assert [summary["id"] for summary in listed.json()] == [plan["id"]]
    changed = await plan_stack.change(school, plan, "", {"next_review_due": "2025-05-01"}, method="PATCH")
    assert changed["next_review_due"] == "2025-05-01"

    async def audited() -> bool:
        return ("org-school", "update", "team") in await _audited(plan_stack, plan["id"])

    await eventually(audited)
    assert ("org-school", "read", "team") in await _audited(plan_stack, plan["id"])

    # Off the team again, the school is refused on the next read.
    await plan_stack.change(council, changed, "", {"team": []}, method="PATCH")
    after = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=school.headers)
    assert after.status_code == 403


async def test_a_plan_from_an_assessment_the_caller_may_not_read_is_refused(plan_stack: PlanStack) -> None:
    school = plan_stack.organisation("org-school", "school")
    police = plan_stack.organisation("org-police", "police")
    family_id = await plan_stack.family(school)
    assessment_id = await plan_stack.submit(school, family_id)
    plan = await plan_stack.opened_plan(school, family_id)

    response = await plan_stack.plans.post("/plans", json={"assessment_id": assessment_id}, headers=police.headers)

    assert response.status_code == 403
    assert response.json()["type"].endswith(":access-refused")
    assert "Location" not in response.headers  # the plan's existence is not given away
    assert plan["id"] not in response.text

"""Only what the subscriber may see: decided by consent at the moment of delivery."""

from typing import Any

from tests.support.notifications import NotificationsStack
from tests.support.plan import grant
from tests.support.waiting import eventually


async def _plan_for(stack: NotificationsStack, nhs: str = "9434765919") -> tuple[str, dict[str, Any]]:
    council = stack.plans.organisation("org-council")
    family_id = await stack.plans.family(council, nhs)
    await stack.plans.submit(council, family_id)
    return family_id, await stack.plans.opened_plan(council, family_id)


async def _patch(stack: NotificationsStack, plan: dict[str, Any], day: int) -> dict[str, Any]:
    council = stack.plans.organisation("org-council")
    return await stack.plans.change(council, plan, "", {"next_review_due": f"2027-02-{day:02d}"}, method="PATCH")


async def test_a_subscriber_that_loses_its_grant_stops_hearing_of_the_family_at_once(
    notifications: NotificationsStack,
) -> None:
    council = notifications.plans.organisation("org-council")
    health = notifications.organisation("org-health", "health")
    health_receiver = await notifications.receiver()
    council_receiver = await notifications.receiver()
    health_subscription = await notifications.subscribe(health, health_receiver, ["plan.updated"])
    await notifications.subscribe(notifications.organisation("org-council"), council_receiver, ["plan.updated"])

    family_id, plan = await _plan_for(notifications)
    plan = await _patch(notifications, plan, 1)  # before any grant: not for health

    await notifications.attempts(health, health_subscription["id"], 1)  # withheld
    given = await grant(
        notifications.plans, council, family_id, categories=["plan"], recipient_organisations=["org-health"]
    )
    plan = await _patch(notifications, plan, 2)  # under the grant
    await health_receiver.arrived(1)
    await council_receiver.arrived(2)

    withdrawn = await notifications.plans.consent.post(
        f"/consents/{given['id']}/withdraw", json={}, headers=council.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    plan = await _patch(notifications, plan, 3)  # the very next change, straight after the withdrawal
    await council_receiver.arrived(3)

    # Health's delivery of the last change is decided on its own.
    attempts = await notifications.attempts(health, health_subscription["id"], 3)
    assert [d.event["data"]["version"] for d in health_receiver.received] == [3]
    assert [d.event["data"]["version"] for d in council_receiver.received] == [2, 3, 4]
    assert [(a["outcome"], a["status_code"]) for a in reversed(attempts)] == [
        ("withheld", None),
        ("delivered", 204),
        ("withheld", None),
    ]
    assert attempts[0]["error"] == "the subscriber may not see this family's data now"


async def test_a_team_member_hears_of_the_plan_without_a_grant(notifications: NotificationsStack) -> None:
    school = notifications.organisation("org-school", "school")
    receiver = await notifications.receiver()
    await notifications.subscribe(school, receiver, ["plan.updated"])
    _, plan = await _plan_for(notifications)
    council = notifications.plans.organisation("org-council")
    team = {"team": [{"organisation_id": "org-school", "role": "attendance"}]}
    plan = await notifications.plans.change(council, plan, "", team, method="PATCH")
    await receiver.arrived(1)
    assert receiver.received[0].event["data"]["changed"] == ["team"]


async def test_grants_and_overrides_are_told_only_to_an_organisation_that_may_read_them(
    notifications: NotificationsStack,
) -> None:
    council = notifications.plans.organisation("org-council", roles=("coordinator",))
    officer = notifications.organisation("org-council", scopes="subscriptions:manage consent:read")
    school = notifications.organisation("org-school", "school")
    officer_receiver, school_receiver = await notifications.receiver(), await notifications.receiver()
    await notifications.subscribe(officer, officer_receiver, ["consent.*", "override.*"])
    await notifications.subscribe(school, school_receiver, ["consent.*", "override.*", "plan.*"])

    family_id = await notifications.plans.family(council)
    await grant(notifications.plans, council, family_id, categories=["plan"], recipient_types=["school"])
    await officer_receiver.arrived(1)

    async def nothing_for_the_school() -> bool:
        return school_receiver.hits == 0

    await eventually(nothing_for_the_school)
    assert officer_receiver.received[0].event["type"] == "consent.granted"
    assert school_receiver.received == []

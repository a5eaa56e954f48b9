"""Delivery never loses an event: receivers down, failing or slow; retries, order, dead letters, replay."""

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.notifications import NotificationsStack
from tests.support.receiver import Receiver
from tests.support.samples import nhs_numbers
from tests.support.waiting import eventually


async def _plans_with_changes(stack: NotificationsStack, families: int, changes: int) -> list[dict[str, Any]]:
    """`families` plans, each PATCHed `changes` times: every plan's events in a known order."""
    council = stack.plans.organisation("org-council")
    plans = []
    for nhs in nhs_numbers(families):
        family_id = await stack.plans.family(council, nhs)
        await stack.plans.submit(council, family_id)
        plans.append(await stack.plans.opened_plan(council, family_id))
    for version in range(changes):
        for index, plan in enumerate(plans):
            plans[index] = await stack.plans.change(
                council, plan, "", {"next_review_due": f"2027-01-{version + 1:02d}"}, method="PATCH"
            )
    return plans


def _assert_each_family_in_order(receiver: Receiver) -> None:
    versions: dict[str, list[int]] = {}
    for delivered in receiver.received:
        versions.setdefault(delivered.event["familyid"], []).append(delivered.event["data"]["version"])
    for family, seen in versions.items():
        assert seen == sorted(seen), f"family {family} got its events out of order: {seen}"


@pytest.fixture
def notifications_options() -> dict[str, Any]:
    return {"delivery_timeout_seconds": 5.0}


async def test_a_failing_or_hanging_receiver_does_not_delay_a_healthy_one(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    healthy = await notifications.receiver()
    failing = await notifications.receiver(answer=500)
    hanging = await notifications.receiver(hang=True)
    for receiver in (failing, hanging, healthy):
        await notifications.subscribe(council, receiver, ["plan.updated"])

    started = datetime.now(UTC)
    await _plans_with_changes(notifications, families=3, changes=4)
    changed = datetime.now(UTC)
    await healthy.arrived(12, within=8.0)
    # The healthy receiver heard of the last change well within the 5 s that hanging deliveries take to time out.
    assert (datetime.now(UTC) - changed).total_seconds() < 4.0, (started, changed)
    _assert_each_family_in_order(healthy)
    assert failing.received == [] and failing.hits >= 3  # tried, and tried again


async def test_a_receiver_down_for_a_while_gets_every_event_once_and_in_order(
    notifications: NotificationsStack,
) -> None:
    council = notifications.organisation("org-council")
    receiver = await notifications.receiver()
    subscription = await notifications.subscribe(council, receiver, ["plan.*"])
    await receiver.stop()

    plans = await _plans_with_changes(notifications, families=2, changes=3)

    async def retried() -> bool:
        attempts = await notifications.deliveries(council, subscription["id"])
        return sum(1 for a in attempts if a["outcome"] == "failed") >= 4

    await eventually(retried)
    await receiver.start()
    expected = 2 * (1 + 3)  # plan.created and three plan.updated for each family
    await receiver.arrived(expected)
    assert len(receiver.ids()) == len(set(receiver.ids())) == expected
    assert {d.event["data"]["plan_id"] for d in receiver.received} == {plan["id"] for plan in plans}
    _assert_each_family_in_order(receiver)
    failed = [a for a in await notifications.deliveries(council, subscription["id"]) if a["outcome"] == "failed"]
    assert all(a["status_code"] is None and a["error"].startswith("could not connect") for a in failed)

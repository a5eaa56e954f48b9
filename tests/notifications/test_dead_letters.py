"""A delivery that keeps failing is given up after its time, and its subscription is marked failing."""

from datetime import datetime
from typing import Any

import pytest

from tests.support.notifications import NotificationsStack
from tests.support.streams import published
from tests.support.waiting import eventually


@pytest.fixture
def notifications_options() -> dict[str, Any]:
    return {"give_up_after_seconds": 1.0, "retry_delays_seconds": [0.1]}


async def test_a_delivery_failing_past_the_limit_is_dead_lettered_and_the_subscription_marked_failing(
    notifications: NotificationsStack,
) -> None:
    council = notifications.organisation("org-council")
    author = notifications.plans.organisation("org-council")
    broken = await notifications.receiver(answer=503)
    subscription = await notifications.subscribe(council, broken, ["plan.*"])
    family_id = await notifications.plans.family(author)
    await notifications.plans.submit(author, family_id)
    await notifications.plans.opened_plan(author, family_id)

    async def failing() -> bool:
        response = await notifications.client.get(f"/subscriptions/{subscription['id']}", headers=council.headers)
        return bool(response.json()["status"] == "failing")

    # Given up after a second; the delivery's attempts, the plan's own events and the dead-lettering take their
    # turns on a machine other test workers load, so the wait is generous rather than the give-up's own time.
    await eventually(failing, within=30)
    attempts = await notifications.deliveries(council, subscription["id"])
    assert attempts[0]["outcome"] == "dead" and attempts[0]["status_code"] == 503
    retries = attempts[1:]
    assert retries and all(a["outcome"] == "failed" for a in retries)
    # Given up only once the limit (1 s here) had passed since the first failure.
    first, last = (datetime.fromisoformat(attempts[i]["attempted_at"]) for i in (-1, 0))
    assert (last - first).total_seconds() >= 1.0

    announced = await _eventually_published(notifications, "notification.subscription_failing")
    assert announced[0]["subscription_id"] == subscription["id"]
    assert announced[0]["organisation_id"] == "org-council"
    assert announced[0]["event_id"] == attempts[0]["webhook_id"]

    # Nothing more is tried while failing; resuming sends what came since, and replay the dead one.
    broken.answer = 204
    resumed = await notifications.client.post(f"/subscriptions/{subscription['id']}/resume", headers=council.headers)
    assert (resumed.json()["status"], resumed.json()["failing_since"]) == ("active", None)
    replayed = await notifications.client.post(
        f"/subscriptions/{subscription['id']}/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=council.headers
    )
    assert replayed.status_code == 202 and replayed.json()["events"] == 1
    await broken.arrived(1)
    assert broken.ids() == [attempts[0]["webhook_id"]]


async def _eventually_published(stack: NotificationsStack, event_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def seen() -> bool:
        found[:] = await published(stack.plans, event_type)
        return bool(found)

    await eventually(seen)
    return found

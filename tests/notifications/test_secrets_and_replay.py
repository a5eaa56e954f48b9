"""Rotating a secret signs with both for a while; replay re-sends with the same webhook ids; pause holds events."""

from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from tests.support.notifications import NotificationsStack
from tests.support.waiting import eventually


async def _one_plan(stack: NotificationsStack, nhs: str = "9434765919") -> dict[str, Any]:
    council = stack.plans.organisation("org-council")
    family_id = await stack.plans.family(council, nhs)
    await stack.plans.submit(council, family_id)
    return await stack.plans.opened_plan(council, family_id)


async def test_after_a_rotation_both_secrets_sign_until_the_old_one_lapses(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    receiver = await notifications.receiver()
    subscription = await notifications.subscribe(council, receiver, ["plan.*"])
    old_secret = subscription["secret"]
    rotated = await notifications.client.post(
        f"/subscriptions/{subscription['id']}/rotate-secret", headers=council.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    shown = (await notifications.client.get(f"/subscriptions/{subscription['id']}", headers=council.headers)).json()
    assert shown["previous_secret_valid_until"] == rotated.json()["previous_secret_valid_until"]

    await _one_plan(notifications)
    await receiver.arrived(1)
    delivered = receiver.received[0]
    assert len(delivered.headers["webhook-signature"].split(" ")) == 2
    body = delivered.headers  # the receiver checked the body; here each secret on its own verifies it
    raw = receiver.bodies[0]
    Webhook(old_secret).verify(raw, body)
    Webhook(new_secret).verify(raw, body)


async def test_replay_sends_again_what_happened_since_a_moment_with_the_same_webhook_ids(
    notifications: NotificationsStack,
) -> None:
    council = notifications.organisation("org-council")
    receiver = await notifications.receiver()
    subscription = await notifications.subscribe(council, receiver, ["plan.*"])
    await _one_plan(notifications)
    await receiver.arrived(1)
    since = datetime.now(UTC)
    await _one_plan(notifications, "9999999468")
    await receiver.arrived(2)
    first, second = receiver.ids()

    replayed = await notifications.client.post(
        f"/subscriptions/{subscription['id']}/replay", json={"since": since.isoformat()}, headers=council.headers
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["events"] == 1

    async def twice() -> bool:
        return len(receiver.received) == 3

    await eventually(twice)
    assert receiver.ids() == [first, second, second]
    attempts = await notifications.attempts(council, subscription["id"], 3)
    assert [(a["webhook_id"], a["replay"]) for a in attempts] == [(second, True), (second, False), (first, False)]


async def test_a_paused_subscription_keeps_its_events_and_sends_them_in_order_on_resume(
    notifications: NotificationsStack,
) -> None:
    council = notifications.organisation("org-council")
    receiver = await notifications.receiver()
    subscription = await notifications.subscribe(council, receiver, ["plan.*"])
    path = f"/subscriptions/{subscription['id']}"
    assert (await notifications.client.post(f"{path}/pause", headers=council.headers)).json()["status"] == "paused"

    plan = await _one_plan(notifications)
    author = notifications.plans.organisation("org-council")
    await notifications.plans.change(author, plan, "", {"next_review_due": "2027-03-01"}, method="PATCH")
    assert receiver.hits == 0

    assert (await notifications.client.post(f"{path}/resume", headers=council.headers)).json()["status"] == "active"
    await receiver.arrived(2)
    assert [d.event["type"] for d in receiver.received] == ["plan.created", "plan.updated"]

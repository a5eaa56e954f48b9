"""Webhooks: signed CloudEvents, owned by one organisation, sent only where the family's data may be read."""

import re
from typing import Any

from services.notifications.destinations import Destinations
from tests.support.notifications import NotificationsStack
from tests.support.problems import assert_problem


async def test_a_subscriber_gets_each_matching_event_as_a_signed_cloudevent(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    author = notifications.plans.organisation("org-council")
    receiver = await notifications.receiver()
    subscription = await notifications.subscribe(council, receiver, ["plan.*"], description="our case system")
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{40,}", subscription["secret"])
    assert (subscription["status"], subscription["event_types"], subscription["url"]) == (
        "active",
        ["plan.*"],
        receiver.url,
    )

    family_id = await notifications.plans.family(author)
    await notifications.plans.submit(author, family_id)
    plan = await notifications.plans.opened_plan(author, family_id)
    await receiver.arrived(1)

    (delivered,) = receiver.received
    assert delivered.event["type"] == "plan.created"
    assert delivered.event["familyid"] == family_id
    assert delivered.event["data"]["plan_id"] == plan["id"]
    assert delivered.headers["content-type"].startswith("application/cloudevents+json")
    # Thin: identifiers and versions, nothing about the family.
    assert "Okafor" not in str(delivered.event) and "Amara" not in str(delivered.event)
    assert receiver.refused == []

    # The secret was shown once.
    shown = await notifications.client.get(f"/subscriptions/{subscription['id']}", headers=council.headers)
    assert shown.status_code == 200 and "secret" not in shown.json()
    listed = await notifications.client.get("/subscriptions", headers=council.headers)
    assert [s["id"] for s in listed.json()] == [subscription["id"]]

    (attempt,) = await notifications.attempts(council, subscription["id"], 1)
    assert (attempt["webhook_id"], attempt["event_type"], attempt["outcome"], attempt["status_code"]) == (
        delivered.webhook_id,
        "plan.created",
        "delivered",
        204,
    )
    assert attempt["latency_ms"] >= 0 and attempt["error"] is None


async def test_only_the_owning_organisation_sees_or_changes_a_subscription(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    other = notifications.organisation("org-other")
    subscription = await notifications.subscribe(council, await notifications.receiver(), ["plan.*"])
    path = f"/subscriptions/{subscription['id']}"
    client = notifications.client

    for method, suffix, body in [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/pause", None),
        ("POST", "/resume", None),
        ("POST", "/rotate-secret", None),
        ("GET", "/deliveries", None),
        ("POST", "/replay", {"since": "2026-01-01T00:00:00Z"}),
    ]:
        response = await client.request(method, path + suffix, json=body, headers=other.headers)
        assert_problem(response, 404, "subscription-not-found")
    assert (await client.get("/subscriptions", headers=other.headers)).json() == []

    no_scope = notifications.organisation("org-council", scopes="plans:read")
    assert (
        assert_problem(await client.get(path, headers=no_scope.headers), 403, "insufficient-scope")["missing_scope"]
        == "subscriptions:manage"
    )

    # The owner can, and a deleted subscription is gone.
    assert (await client.post(path + "/pause", headers=council.headers)).json()["status"] == "paused"
    assert (await client.post(path + "/resume", headers=council.headers)).json()["status"] == "active"
    assert (await client.delete(path, headers=council.headers)).status_code == 204
    assert_problem(await client.get(path, headers=council.headers), 404, "subscription-not-found")


async def test_a_subscription_naming_no_known_event_is_refused(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    body: dict[str, Any] = {"url": "http://127.0.0.1:9/hook", "event_types": ["plan.*", "plan.exploded"]}
    problem = assert_problem(
        await notifications.client.post("/subscriptions", json=body, headers=council.headers), 422, "unknown-event-type"
    )
    assert problem["errors"] == [{"pointer": "/event_types/1", "detail": "matches no forwarded event type"}]
    body["event_types"] = ["audit.recorded"]  # who read what is not forwarded
    assert_problem(
        await notifications.client.post("/subscriptions", json=body, headers=council.headers), 422, "unknown-event-type"
    )


async def test_addresses_inside_our_networks_are_refused_naming_the_rule(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    notifications.app.state.destinations = Destinations([])  # as in production: no private network allowed

    async def refused(url: str) -> dict[str, Any]:
        body = {"url": url, "event_types": ["plan.*"]}
        response = await notifications.client.post("/subscriptions", json=body, headers=council.headers)
        return assert_problem(response, 422, "destination-refused")

    assert (await refused("http://169.254.169.254/latest/meta-data/"))["rule"] == "metadata"
    assert (await refused("http://10.0.0.1/hook"))["rule"] == "private"
    assert (await refused("http://192.168.1.20:8080/hook"))["rule"] == "private"
    assert (await refused("http://[fe80::1]/hook"))["rule"] == "link-local"
    assert (await refused("http://[::ffff:127.0.0.1]/hook"))["rule"] == "loopback"
    localhost = await refused("http://localhost:9/hook")  # a name that resolves to 127.0.0.1
    assert localhost["rule"] == "loopback"
    assert "127.0.0.1" in str(localhost["detail"]) or "::1" in str(localhost["detail"])
    assert localhost["errors"] == [{"pointer": "/url", "detail": localhost["detail"]}]
    assert (await refused("ftp://example.org/hook"))["rule"] == "scheme"
    assert (await refused("http://user:pw@example.org/hook"))["rule"] == "credentials"


async def test_a_redirect_is_not_followed(notifications: NotificationsStack) -> None:
    author = notifications.plans.organisation("org-council")
    council = notifications.organisation("org-council")
    redirecting = await notifications.receiver(answer=307)
    subscription = await notifications.subscribe(council, redirecting, ["assessment.created"])
    family_id = await notifications.plans.family(author)
    await notifications.plans.submit(author, family_id)

    attempt = (await notifications.attempts(council, subscription["id"], 1))[-1]
    assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == (
        "failed",
        307,
        "redirects are not followed",
    )
    assert redirecting.received == []

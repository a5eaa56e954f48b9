"""Resource limits: replay in pages, subscriptions per organisation, in-flight slots shared between organisations,
and connections pinned to the address that was checked."""

import asyncio
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from services.kit.natsserver import NatsServer
from services.notifications import repository
from tests.support.notifications import NotificationsStack
from tests.support.publishing import publish_events
from tests.support.waiting import eventually

PROBLEM = "urn:graduated-pathway:problem:"


@pytest.fixture
def notifications_options() -> dict[str, Any]:
    return {
        "replay_page_size": 2,
        "max_subscriptions_per_organisation": 3,
        "in_flight_total": 4,
        "in_flight_per_subscription": 4,
        "in_flight_per_organisation": 2,
        # A hanging receiver holds its slot this long: far beyond the bound another organisation may wait.
        "delivery_timeout_seconds": 10.0,
        # Loopback is allowed at 127.0.0.1 only, so that 127.0.0.2 stands for an address the check refuses.
        "allowed_networks": ["127.0.0.1/32"],
    }


def _plan_updates(organisation_id: str, count: int) -> list[tuple[str, dict[str, object], str | None, str | None]]:
    """`plan.updated` of `count` families, each made by the organisation: it may hear of them as their author."""
    updates: list[tuple[str, dict[str, object], str | None, str | None]] = []
    for _ in range(count):
        family_id = str(uuid4())
        data = {"plan_id": str(uuid4()), "family_id": family_id, "organisation_id": organisation_id, "version": 2}
        updates.append(("plan.updated", data, family_id, organisation_id))
    return updates


async def test_replay_reads_kept_events_a_page_at_a_time(
    notifications: NotificationsStack, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    council = notifications.organisation("org-council")
    receiver = await notifications.receiver()
    subscription = await notifications.subscribe(council, receiver, ["plan.updated"])
    since = datetime.now(UTC)
    sent = await publish_events(nats_server.url, _plan_updates("org-council", 5))
    await receiver.arrived(5)

    pages: list[int] = []
    read_page = repository.events_page

    async def counted(*args: Any, **kwargs: Any) -> Any:
        page = await read_page(*args, **kwargs)
        pages.append(len(page))
        return page

    monkeypatch.setattr(repository, "events_page", counted)
    replayed = await notifications.client.post(
        f"/subscriptions/{subscription['id']}/replay", json={"since": since.isoformat()}, headers=council.headers
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["events"] == 5
    assert pages == [2, 2, 1]  # never more than a page in memory

    async def all_again() -> bool:
        return len(receiver.received) == 10

    await eventually(all_again)
    assert sorted(receiver.ids()[5:]) == sorted(sent)


async def test_an_organisation_holds_only_so_many_subscriptions(notifications: NotificationsStack) -> None:
    council = notifications.organisation("org-council")
    school = notifications.organisation("org-school", "school")
    receiver = await notifications.receiver()
    made = [await notifications.subscribe(council, receiver, ["plan.*"]) for _ in range(3)]

    over = await notifications.client.post(
        "/subscriptions", json={"url": receiver.url, "event_types": ["plan.*"]}, headers=council.headers
    )
    assert over.status_code == 409, over.text
    assert over.headers["content-type"].startswith("application/problem+json")
    problem = over.json()
    assert problem["type"] == f"{PROBLEM}subscription-limit-reached"
    assert problem["limit"] == 3
    assert "secret" not in problem

    await notifications.subscribe(school, receiver, ["plan.*"])  # another organisation's count is its own
    deleted = await notifications.client.delete(f"/subscriptions/{made[0]['id']}", headers=council.headers)
    assert deleted.status_code == 204
    await notifications.subscribe(council, receiver, ["plan.*"])
    listed = await notifications.client.get("/subscriptions", headers=council.headers)
    assert len(listed.json()) == 3


async def test_subscriptions_made_at_the_same_moment_stop_at_the_limit(notifications: NotificationsStack) -> None:
    health = notifications.organisation("org-health", "health")
    receiver = await notifications.receiver()
    body = {"url": receiver.url, "event_types": ["plan.*"]}
    answers = await asyncio.gather(
        *(notifications.client.post("/subscriptions", json=body, headers=health.headers) for _ in range(6))
    )
    assert sorted(answer.status_code for answer in answers) == [201, 201, 201, 409, 409, 409]
    listed = await notifications.client.get("/subscriptions", headers=health.headers)
    assert len(listed.json()) == 3


async def test_one_organisation_s_slow_receiver_does_not_hold_up_another_s_deliveries(
    notifications: NotificationsStack, nats_server: NatsServer
) -> None:
    slow, quick = notifications.organisation("org-slow", "voluntary"), notifications.organisation("org-quick")
    slow_receiver, quick_receiver = await notifications.receiver(hang=True), await notifications.receiver()
    await notifications.subscribe(slow, slow_receiver, ["plan.updated"])
    await notifications.subscribe(quick, quick_receiver, ["plan.updated"])

    # More of the slow organisation's families than there are slots, each its own lane, all due at once.
    await publish_events(nats_server.url, _plan_updates("org-slow", 6))

    async def slots_held() -> bool:
        return slow_receiver.hits >= 2

    await eventually(slots_held)
    started = time.monotonic()
    await publish_events(nats_server.url, _plan_updates("org-quick", 1))
    await quick_receiver.arrived(1, within=5.0)  # half the slow receiver's timeout: never behind it
    assert time.monotonic() - started < 5.0
    assert slow_receiver.hits == 2  # the organisation's share, while its receiver hangs


def _resolver(answers: Callable[[], str], real: Any) -> tuple[Any, list[str]]:
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = answers()
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    return getaddrinfo, asked


async def test_a_webhook_goes_to_the_address_that_was_checked_though_the_name_then_resolves_elsewhere(
    notifications: NotificationsStack, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    council = notifications.organisation("org-council")
    receiver = await notifications.receiver()
    url = f"http://rebind.test:{receiver.port}/hook"
    # The name answers the receiver's address once, to the check, and from then on 127.0.0.2: an address the
    # check refuses, where a connection that looked the name up again would go.
    answers = iter(["127.0.0.1", "127.0.0.1"])
    getaddrinfo, asked = _resolver(lambda: next(answers, "127.0.0.2"), socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    refused = await notifications.client.post(
        "/subscriptions", json={"url": "http://127.0.0.2:9/hook", "event_types": ["form.*"]}, headers=council.headers
    )
    assert refused.status_code == 422 and refused.json()["rule"] == "loopback"
    body = {"url": url, "event_types": ["form.*"]}
    subscribed = await notifications.client.post("/subscriptions", json=body, headers=council.headers)
    assert subscribed.status_code == 201, subscribed.text
    receiver.secrets.append(subscribed.json()["secret"])
    assert asked == ["127.0.0.1"]

    form = {"form_key": "early-help-assessment", "version": 9, "sha256": "0"}
    await publish_events(nats_server.url, [("form.version_published", form, None, None)])
    await receiver.arrived(1)
    assert asked == ["127.0.0.1", "127.0.0.1"]  # looked up once per attempt, by the check alone
    assert receiver.received[0].headers["host"] == f"rebind.test:{receiver.port}"

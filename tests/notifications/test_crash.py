"""Nothing is lost when the notifications service is killed mid-delivery or NATS restarts.

The service runs in its own process here, so that SIGKILL is real; the plan
stack it forwards from runs beside it. Delivery is at least once: a delivery
cut off by the kill is sent again with the same `webhook-id`, which is how a
receiver tells the copy. Every event arrives, each id once after that.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from deploy.supervisor import Process, uvicorn
from services.kit.natsserver import free_port
from services.kit.testing import DatabaseFactory, TokenMint, running, token_endpoint
from tests.support.notifications import MANAGES
from tests.support.plan import PlanStack
from tests.support.receiver import Receiver
from tests.support.samples import nhs_numbers
from tests.support.stack import PLATFORM_ORGANISATION, SERVICE_CLIENT
from tests.support.streams import stream_messages
from tests.support.waiting import eventually

PLAN_EVENTS = ("plan.created", "plan.updated")


@asynccontextmanager
async def notifications_process(env: dict[str, str], port: int, log: Path) -> AsyncIterator[Process]:
    """The service in a process of its own under `deploy.supervisor`, ready once it answers `/readyz`."""
    command = uvicorn("services.notifications.main:create_app", port)
    process = Process("notifications", command, env, f"http://127.0.0.1:{port}/readyz", port, log)
    process.start()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            await process.wait_healthy(client, within=30)
        yield process
    finally:
        await process.stop()


async def test_every_event_reaches_the_receiver_across_a_kill_and_a_nats_restart(
    plan_stack: PlanStack, database_factory: DatabaseFactory, tmp_path: Path, token_mint: TokenMint
) -> None:
    receiver = Receiver(delay=0.2)  # slow enough that the kill lands mid-delivery
    await receiver.start()
    port, log = free_port(), tmp_path / "notifications.log"
    council = plan_stack.organisation("org-council")
    async with running(token_endpoint(token_mint, PLATFORM_ORGANISATION, SERVICE_CLIENT.id)) as issuer:
        env = {
            "DATABASE_URL": await database_factory("notifications"),
            "NATS_URL": plan_stack.nats.url,
            "NATS_RECONNECT_WAIT_SECONDS": "0.1",
            "PATHWAY_DATA_DIR": str(tmp_path),
            "ACCESS_DECISIONS_URL": str(plan_stack.consent.base_url).rstrip("/"),
            "NOTIFICATIONS_PLAN_URL": str(plan_stack.plans.base_url).rstrip("/"),
            "SERVICE_CLIENT_ID": SERVICE_CLIENT.id,
            "SERVICE_CLIENT_SECRET": SERVICE_CLIENT.secret,
            "SERVICE_CLIENT_TOKEN_URL": f"{issuer}/oauth/token",
            "AUTH_ISSUER": token_mint.issuer,
            "AUTH_AUDIENCE": token_mint.audience,
            "AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json",
            "NOTIFICATIONS_SECRETS_KEY": Fernet.generate_key().decode(),
            "NOTIFICATIONS_DELIVERY_TIMEOUT_SECONDS": "1",
            "NOTIFICATIONS_RETRY_DELAYS_SECONDS": "[0.2, 0.5, 1.0]",
        }
        owner = token_mint.headers(MANAGES, organisation_id="org-council", organisation_type="council")
        try:
            async with notifications_process(env, port, log) as first:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                    body = {"url": receiver.url, "event_types": list(PLAN_EVENTS)}
                    created = await client.post("/subscriptions", json=body, headers=owner)
                    assert created.status_code == 201, created.text
                    receiver.secrets.append(created.json()["secret"])

                plans = await _plans(plan_stack, council, families=4)
                await _changed(plan_stack, council, plans, day=1)

                async def some_arrived() -> bool:
                    return len(receiver.received) >= 2

                await eventually(some_arrived)
                await first.kill()

            # While the service is down, the plans change on; the events wait in JetStream.
            await _changed(plan_stack, council, plans, day=2)
            async with notifications_process(env, port, log):
                await _changed(plan_stack, council, plans, day=3)
                plan_stack.nats.stop()
                await _changed(plan_stack, council, plans, day=4)  # into the plan service's outbox
                await asyncio.sleep(0.5)
                plan_stack.nats.start()
                await _changed(plan_stack, council, plans, day=5)

                expected = await _plan_event_ids(plan_stack, count=4 * 6)

                async def all_arrived() -> bool:
                    return set(receiver.ids()) >= expected

                await eventually(all_arrived, within=60)
        finally:
            await receiver.stop()

    assert set(receiver.ids()) == expected
    assert receiver.refused == []
    # Only what was in flight at the kill came twice.
    assert len(receiver.ids()) - len(expected) <= 16, log.read_text()[-3000:]
    for family in {d.event["familyid"] for d in receiver.received}:
        versions = [d.event["data"]["version"] for d in receiver.received if d.event["familyid"] == family]
        assert _without_repeats(versions) == sorted(set(versions)), f"family {family}: {versions}"


async def _plans(stack: PlanStack, council: Any, families: int) -> list[dict[str, Any]]:
    plans = []
    for nhs in nhs_numbers(families):
        family_id = await stack.family(council, nhs)
        await stack.submit(council, family_id)
        plans.append(await stack.opened_plan(council, family_id))
    return plans


async def _changed(stack: PlanStack, council: Any, plans: list[dict[str, Any]], day: int) -> None:
    for index, plan in enumerate(plans):
        plans[index] = await stack.change(council, plan, "", {"next_review_due": f"2027-04-{day:02d}"}, method="PATCH")


async def _plan_event_ids(stack: PlanStack, count: int) -> set[str]:
    ids: set[str] = set()

    async def all_published() -> bool:
        ids.clear()
        ids.update(m.event.get_id() for m in await stream_messages(stack.nats.url) if m.event.get_type() in PLAN_EVENTS)
        return len(ids) == count

    await eventually(all_published, within=30)
    return ids


def _without_repeats(versions: list[int]) -> list[int]:
    """A redelivered copy repeats an id already seen; the order of first sightings is what must hold."""
    seen: list[int] = []
    for version in versions:
        if version not in seen:
            seen.append(version)
    return seen

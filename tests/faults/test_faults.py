"""Nothing is lost, and nothing happens twice, when processes die under load.

The whole system runs as `make up` runs it, on SQLite or, when
`TEST_DATABASE_URL` names a server, on PostgreSQL. Council case systems keep
registering families, submitting assessments and changing the plans that open
from them, while a subscriber's webhook (through the notifications service) and
an integrator's JetStream consumer take every plan event. Meanwhile each
process is killed with SIGKILL and started again; NATS is stopped, a service is
stopped and started while it is away, and NATS is started again; and, in a
three-node JetStream cluster with three replicas, the node leading the stream
is killed and later restarted.

Afterwards: every request answered 2xx is in the database; every committed
plan change reached both subscribers, once by event id; each submission opened
one plan; every plan read answered is in the access log, whose chain verifies;
and the only failures were "no answer", 502, 503 or 504 while a
process the request needed was away. A 500 is never right.
"""

import asyncio
import contextlib
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from deploy.supervisor import Outage
from services.kit.testing import DatabaseFactory
from tests.faults.load import CHANGES_PER_PLAN, Load, PlanWork, Try
from tests.faults.subscriber import StreamReader
from tests.faults.system import PROCESSES, SERVICES, Nats, System
from tests.support.receiver import Receiver
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

WORKERS = 3
# A request sent within this long of a process answering its health check again may
# still meet the outage: a connection pooled before the kill, a cache not yet warm.
AFTER_AN_OUTAGE_SECONDS = 2.0
SETTLED_WITHIN_SECONDS = 90.0

StartSystem = Callable[[int], Awaitable[System]]


@pytest.fixture
async def start_system(
    tmp_path: Path, database_factory: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StartSystem]:
    started: list[System] = []

    async def start(nats_nodes: int) -> System:
        nats_server = Nats(tmp_path, nats_nodes)
        environment = {
            "NATS_URL": nats_server.url,
            "NATS_REPLICAS": str(nats_nodes),
            "NATS_RECONNECT_WAIT_SECONDS": "0.1",
            # The load is one client; the gateway's per-client rate limit is not what is tested here.
            "RATE_LIMIT_PER_SECOND": "100000",
            "NOTIFICATIONS_RETRY_DELAYS_SECONDS": "[0.2, 0.5, 1.0, 2.0]",
        }
        if os.environ.get("TEST_DATABASE_URL"):
            environment |= {f"{name.upper()}_DATABASE_URL": await database_factory(name) for name in PROCESSES}
            environment["NOTIFICATIONS_SECRETS_KEY"] = Fernet.generate_key().decode()
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        system = System(tmp_path, nats_server)
        started.append(system)
        await system.start()
        return system

    yield start
    for system in started:
        await system.stop()


class Observed:
    """The load, and the two subscribers watching its plans change: a webhook and a JetStream consumer."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.receiver = Receiver()
        self.reader = StreamReader(system.nats.url, ["pathway.plan.>", "pathway.assessment.submitted"])
        self.load: Load
        self.committed: dict[str, tuple[int, str]] = {}  # each plan's version and next review, once the load stopped

    async def start(self) -> None:
        await self.receiver.start()
        council = self.system.council
        async with httpx.AsyncClient(base_url=self.system.gateway_url, timeout=30) as http:
            body = {"url": self.receiver.url, "event_types": ["plan.*"]}
            subscribed = await http.post("/subscriptions", json=body, headers=council)
        assert subscribed.status_code == 201, subscribed.text
        self.receiver.secrets.append(subscribed.json()["secret"])
        await self.reader.start()
        self.load = Load(self.system.gateway_url, council, WORKERS, run=uuid.uuid4().hex[:8])
        self.load.start()
        await self.load.progressed(plans=3)

    def plan_events(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """Each subscriber's plan events as (event id, data), every copy that came."""
        return {
            "the webhook": [(d.webhook_id, d.event["data"]) for d in self.receiver.received],
            "the JetStream consumer": [(e.id, e.data) for e in self.reader.received if e.type.startswith("plan.")],
        }

    async def __aenter__(self) -> "Observed":
        await self.start()
        return self

    async def __aexit__(self, failure: type[BaseException] | None, *_: object) -> None:
        """Stop the load and the subscribers; without a failure, let the subscribers catch up first."""
        if failure is not None:
            await self.load.abandon()
            await self.reader.stop()
            await self.receiver.stop()
            return
        await self.stop()

    async def stop(self) -> None:
        """Stop the load, then give the subscribers time to catch up with every committed change."""
        try:
            await self.load.stop()
            self.committed = await committed_versions(self.system, self.load)
            expected = _versions_of(self.load.plans, self.committed)

            async def caught_up() -> bool:
                return all(_by_plan_version(events).keys() >= expected for events in self.plan_events().values())

            with contextlib.suppress(AssertionError):  # the checks then say what is missing
                await eventually(caught_up, within=SETTLED_WITHIN_SECONDS)
        finally:
            await self.reader.stop()
            await self.receiver.stop()


async def test_each_process_killed_and_nats_restarted_under_load(start_system: StartSystem) -> None:
    system = await start_system(1)
    async with Observed(system) as observed:
        for name in (*SERVICES, "gateway"):
            await system.kill(name)
            await asyncio.sleep(1)
            await system.restart(name)
            await observed.load.progressed(plans=3)
        await system.stop_nats_node(0, kill=False)
        # Requests need no NATS: the outbox keeps their events. Plans wait for the submissions' events.
        await observed.load.progressed(answers=30)
        # A process stopped while NATS is away (a deployment, say) still shuts down cleanly.
        stopping = await system.terminate_logged("plan")
        assert "Application shutdown complete" in stopping, stopping[-3000:]
        await system.restart("plan")
        await observed.load.progressed(answers=10)
        await system.start_nats_node(0)
        await observed.load.progressed(plans=3)
    assert [o.name for o in system.outages] == [*SERVICES, "gateway", "nats-0", "plan"]
    await assert_nothing_lost_or_doubled(observed)


async def test_a_jetstream_cluster_node_killed_under_load(start_system: StartSystem) -> None:
    system = await start_system(3)
    async with Observed(system) as observed:
        leader = await system.nats.stream_leader()  # the node that orders the stream's writes
        await system.stop_nats_node(leader, kill=True)
        await observed.load.progressed(plans=6)
        await system.start_nats_node(leader)
        await observed.load.progressed(plans=3)
    await assert_nothing_lost_or_doubled(observed)


async def assert_nothing_lost_or_doubled(observed: Observed) -> None:
    system, load = observed.system, observed.load
    async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=10) as http:
        # Every request answered 2xx is in the database.
        for family_id in load.families:
            family = await http.get(f"/families/{family_id}")
            assert family.status_code == 200, family.text
        for assessment_id, family_id in load.assessments.items():
            assessment = (await http.get(f"/assessments/{assessment_id}")).json()
            assert (assessment["family_id"], assessment["status"]) == (family_id, "submitted"), assessment
        # The plan service applied each submission once: one plan per family.
        for family_id in load.assessments.values():
            plans = (await http.get("/plans", params={"family_id": family_id})).json()
            assert len(plans) == 1, f"family {family_id} has {len(plans)} plans"
    # Each change took effect once: as many versions as changes acknowledged, the last one showing.
    committed = observed.committed
    for work in load.plans:
        assert committed[work.id] == (work.first_version + CHANGES_PER_PLAN, work.next_review_due[-1]), work

    # Every committed plan version reached each subscriber, under one event id; both saw the same ids.
    expected = _versions_of(load.plans, committed)
    ids_seen = []
    for subscriber, events in observed.plan_events().items():
        by_version = _by_plan_version(events)
        assert by_version.keys() >= expected, f"{subscriber} missed {sorted(expected - by_version.keys())[:10]}"
        doubled = {version: ids for version, ids in by_version.items() if len(ids) > 1}
        assert not doubled, f"{subscriber} had one change under several ids: {doubled}"
        ids_seen.append({next(iter(ids)) for version, ids in by_version.items() if version in expected})
    assert ids_seen[0] == ids_seen[1]
    assert observed.receiver.refused == []
    submitted = defaultdict(set)
    for event in observed.reader.received:
        if event.type == "assessment.submitted":
            submitted[event.data["assessment_id"]].add(event.id)
    assert {a: len(submitted[a]) for a in load.assessments} == dict.fromkeys(load.assessments, 1)

    await assert_every_plan_read_is_in_the_access_log(system, load)

    # Failures only while a process the request needed was away, and never a 500.
    failed = [t for t in load.tries if t.status is None or t.status >= 500]
    assert [t for t in failed if t.status == 500] == []
    unexplained = [t for t in failed if not any(_during(t, o) for o in system.outages if o.name in t.needs)]
    assert unexplained == [], f"outages {system.outages}"


async def assert_every_plan_read_is_in_the_access_log(system: System, load: Load) -> None:
    """Each plan read answered 200 is an entry of the access log, however the kills fell; the chain holds."""
    answered = Counter(
        t.path.removeprefix("/plans/")
        for t in load.tries
        if (t.method, t.status) == ("GET", 200) and "/plans/" in t.path
    )
    async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=30) as http:

        async def every_read_logged() -> bool:
            for work in load.plans:
                entries = (await http.get("/audit", params={"family_id": work.family_id})).json()
                logged = [e for e in entries if (e["action"], e["resource_id"]) == ("read", work.id)]
                if len(logged) < answered[work.id]:
                    return False
            return True

        await eventually(every_read_logged, within=SETTLED_WITHIN_SECONDS)
        verified = await http.get("/audit/verify")
    assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text


async def committed_versions(system: System, load: Load) -> dict[str, tuple[int, str]]:
    """Each plan of the load's version and next review, as the plan service holds them now."""
    found = {}
    async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=10) as http:
        for work in load.plans:
            plan = await http.get(f"/plans/{work.id}")
            assert plan.status_code == 200, plan.text
            found[work.id] = (plan.json()["version"], plan.json()["next_review_due"])
    return found


def _versions_of(plans: list[PlanWork], committed: dict[str, tuple[int, str]]) -> set[tuple[str, int]]:
    return {(work.id, version) for work in plans for version in range(1, committed[work.id][0] + 1)}


def _by_plan_version(events: list[tuple[str, dict[str, Any]]]) -> dict[tuple[str, int], set[str]]:
    """The ids each (plan, version) came under; reminders, which have no version, left out."""
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for event_id, data in events:
        if "version" in data:
            ids[(data["plan_id"], data["version"])].add(event_id)
    return ids


def _during(attempt: Try, outage: Outage) -> bool:
    return attempt.ended >= outage.began and attempt.began <= outage.ended + AFTER_AN_OUTAGE_SECONDS

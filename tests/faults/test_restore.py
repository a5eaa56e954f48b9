"""A service's database restored from a backup taken mid-load: what comes back, what is lost, and nothing twice.

The restore drill of `docs/operations.md`, on PostgreSQL: on the suite's PostgreSQL run the server
`TEST_DATABASE_URL` names, otherwise the local one every machine of the project runs (as
`tests/security/test_database_roles.py` does), so it runs in both of CI's passes and is never skipped.

The whole system runs as `make up` runs it. Council case systems register families and submit
assessments that open plans while a webhook subscriber (through the notifications service) and an
integrator's JetStream consumer watch. NATS is stopped for a moment, so that the assessment service's
outbox holds events not yet published, and `pg_dump` takes its database then; NATS comes back, the
load goes on, and the council records a grant. Then the assessment service is stopped, its database
dropped and restored from the dump with `pg_restore`, its durable consumer deleted (so that it is made
again and reads the stream from the start), and the service started again.

JetStream's duplicate window is one second here: a real restore comes hours after the events, long
past the two-minute default, so the copies the restored outbox publishes again reach the stream and
it is the consumers' inboxes, not JetStream, that must apply them once.

What is asserted is what docs/operations.md promises, "After restoring a database to an earlier point":
everything answered before the backup began is back; what came after is gone from the restored
service, and each lost assessment is named by its `assessment.submitted` event in the stream from the
backup's time on; the events the backup's outbox held are published again, and the plan service and
the notifications service skip them as already applied; downstream keeps what it made (one plan per
submission, the lost ones' included); the restored service's copy of grants catches up; the access
log verifies; and new work goes on.
"""

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from cloudevents.core.formats.json import JSONFormat
from cryptography.fernet import Fernet
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import make_url

from deploy import demo
from services.access.projection import ACCESS_REVISION_KEY
from services.kit.events.keyvalue import read_counter
from services.kit.settings import NatsSettings
from services.kit.testing import DatabaseFactory, DatabaseTemplates
from tests.faults.load import Load
from tests.faults.subscriber import StreamReader
from tests.faults.system import PROCESSES, STREAM, Nats, System
from tests.support.receiver import Receiver
from tests.support.samples import submitted_sample
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults

LOCAL_POSTGRESQL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESTORED = "assessment"
WORKERS = 3
DUPLICATE_WINDOW_SECONDS = 1.0
SETTLED_WITHIN_SECONDS = 90.0
# The backup point is read from the stream with this margin before the dump began: an event committed
# just before it and published just after is found too, and is then seen to be in the restored database.
BACKUP_POINT_MARGIN = timedelta(seconds=5)


@pytest.fixture
async def databases(tmp_path: Path) -> AsyncIterator[DatabaseFactory]:
    server = os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRESQL
    factory = DatabaseFactory(tmp_path, DatabaseTemplates(tmp_path, server))
    yield factory
    await factory.drop()


@pytest.fixture
async def system(tmp_path: Path, databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[System]:
    nats_server = Nats(tmp_path)
    environment = {
        "NATS_URL": nats_server.url,
        "NATS_RECONNECT_WAIT_SECONDS": "0.1",
        "NATS_DUPLICATE_WINDOW_SECONDS": str(DUPLICATE_WINDOW_SECONDS),
        "RATE_LIMIT_PER_SECOND": "100000",
        "NOTIFICATIONS_RETRY_DELAYS_SECONDS": "[0.2, 0.5, 1.0, 2.0]",
        "NOTIFICATIONS_SECRETS_KEY": Fernet.generate_key().decode(),
    }
    environment |= {f"{name.upper()}_DATABASE_URL": await databases(name) for name in PROCESSES}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    started = System(tmp_path, nats_server)
    try:
        await started.start()
        yield started
    finally:
        await started.stop()


async def test_a_database_restored_from_a_mid_load_backup_loses_only_what_came_after_and_nothing_happens_twice(
    system: System, tmp_path: Path
) -> None:
    database = os.environ[f"{RESTORED.upper()}_DATABASE_URL"]
    receiver = Receiver()
    await receiver.start()
    async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=10) as council:
        subscribed = await council.post(
            "/subscriptions", json={"url": receiver.url, "event_types": ["assessment.*", "plan.*"]}
        )
        assert subscribed.status_code == 201, subscribed.text
        receiver.secrets.append(subscribed.json()["secret"])
    integrator = StreamReader(system.nats.url, ["pathway.>"], durable="restore-integrator")
    await integrator.start()
    load = Load(system.gateway_url, system.council, WORKERS, run=uuid.uuid4().hex[:8])
    load.start()
    try:
        await load.progressed(plans=WORKERS, within=SETTLED_WITHIN_SECONDS)
        # NATS away: requests are still answered, and their events wait in the outbox. The load's
        # workers wait for their plans meanwhile; a case system submits what it has.
        await system.stop_nats_node(0, kill=False)
        async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=10) as council:
            while_nats_was_away = [await submitted(council) for _ in range(WORKERS)]
        answered_before_the_backup = set(load.assessments) | {a for a, _ in while_nats_was_away}
        submissions = load.assessments | dict(while_nats_was_away)
        backup_began = datetime.now(UTC)
        backup = await pg_dump(database, tmp_path / f"{RESTORED}.dump")
        await system.start_nats_node(0)
        # The plans of the submissions made before the backup open, and a family comes after it.
        await load.progressed(plans=WORKERS + 1, within=SETTLED_WITHIN_SECONDS)
        family = submissions[next(iter(answered_before_the_backup))]
        async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=10) as council:
            granted = await council.post(
                "/consents",
                json={
                    "family_id": family,
                    "given_by_role": "parent_or_carer",
                    "evidence": "written",
                    "categories": ["assessment"],
                    "recipient_types": ["school"],
                },
            )
        assert granted.status_code == 201, granted.text
        await load.stop()
        submissions |= load.assessments
    except BaseException:
        await load.abandon()
        await integrator.stop()
        await receiver.stop()
        raise

    try:

        async def every_submission_heard() -> bool:
            heard = {d.event["data"].get("assessment_id") for d in receiver.of_type("assessment.submitted")}
            return heard >= submissions.keys()

        await eventually(every_submission_heard, within=SETTLED_WITHIN_SECONDS)

        await system.terminate(RESTORED)
        await pg_restore(database, backup)
        republished = await outbox_of(database)
        assert republished, "taken while NATS was away, the backup's outbox holds events not yet published"
        # Deleted, the durable consumer of the restored copy of grants is made again and reads from the start.
        await delete_consumer(system.nats.url, f"{RESTORED}-access-copy")
        await system.restart(RESTORED)

        # The backup's outbox, each of its events published since the backup, is published again: the
        # copies reach the stream beside the first ones (the duplicate window has passed) ...
        async def republished_and_copied() -> bool:
            copies = Counter(event.id for event in integrator.received)
            return not await outbox_of(database) and all(copies[event_id] >= 2 for event_id in republished)

        await eventually(republished_and_copied, within=SETTLED_WITHIN_SECONDS)

        # ... and the consumers' inboxes skip them as already applied.
        def skipped_by(process: str, event_ids: list[str]) -> bool:
            skips = [line for line in system.log(process).splitlines() if "duplicate skipped" in line]
            return all(any(event_id in line for line in skips) for event_id in event_ids)

        opening_a_plan = [i for i, subject in republished.items() if subject.startswith("pathway.assessment.")]
        assert opening_a_plan, "the submissions made while NATS was away are among them"

        async def skipped_as_applied() -> bool:
            return skipped_by("plan", opening_a_plan) and skipped_by("notifications", opening_a_plan)

        await eventually(skipped_as_applied, within=SETTLED_WITHIN_SECONDS)

        async with httpx.AsyncClient(base_url=system.gateway_url, headers=system.council, timeout=10) as council:
            found = {a: (await council.get(f"/assessments/{a}")) for a in submissions}
            # Everything answered before the backup began is back.
            for assessment_id in answered_before_the_backup:
                answer = found[assessment_id]
                assert answer.status_code == 200, answer.text
                assert (answer.json()["family_id"], answer.json()["status"]) == (
                    submissions[assessment_id],
                    "submitted",
                )
            # What came after is gone from the restored service, and the stream names each of it.
            lost = {a for a, answer in found.items() if answer.status_code == 404}
            assert {answer.status_code for answer in found.values()} <= {200, 404}
            assert lost, "the load went on after the backup"
            listed = {
                assessment_id
                for assessment_id in await submitted_since(system.nats.url, backup_began - BACKUP_POINT_MARGIN)
                if (await council.get(f"/assessments/{assessment_id}")).status_code == 404
            }
            assert listed == lost
            # Downstream keeps what it made: each submission opened one plan, the lost ones' included.
            for family_id in submissions.values():
                plans = (await council.get("/plans", params={"family_id": family_id})).json()
                assert len(plans) == 1, f"family {family_id} has {len(plans)} plans"
            verified = await council.get("/audit/verify")
            assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text

        # The republished events reached the webhook once each. (Any delivery may come twice should an
        # answer be lost, under the same webhook-id; what is shown here is that a copy owes none.)
        async def each_delivered() -> bool:
            return set(opening_a_plan) <= set(receiver.ids())

        await eventually(each_delivered, within=SETTLED_WITHIN_SECONDS)
        delivered = Counter(receiver.ids())
        assert {event_id: delivered[event_id] for event_id in opening_a_plan} == dict.fromkeys(opening_a_plan, 1)
        assert receiver.refused == []

        # The restored copy of grants has caught up with the consent service, the grant made after the backup
        # included, and the school reads what it was granted.
        consent_revision = await access_revision(system)

        async def copy_caught_up() -> bool:
            return await applied_revision(database) >= consent_revision

        await eventually(copy_caught_up, within=SETTLED_WITHIN_SECONDS)
        school = await bearer_of(system, "school")
        shared = next(a for a in answered_before_the_backup if submissions[a] == family)
        async with httpx.AsyncClient(base_url=system.gateway_url, headers=school, timeout=10) as http:
            read = await http.get(f"/assessments/{shared}")
        assert read.status_code == 200, read.text

        # New work goes on: new events, new ids, no clash with what the stream already holds.
        after = Load(system.gateway_url, system.council, 1, run=uuid.uuid4().hex[:8])
        after.start()
        try:
            await after.progressed(plans=1, within=SETTLED_WITHIN_SECONDS)
        except BaseException:
            await after.abandon()
            raise
        await after.stop()
    finally:
        await integrator.stop()
        await receiver.stop()


async def submitted(council: httpx.AsyncClient) -> tuple[str, str]:
    """A family registered and its early help assessment submitted, as the load's case systems do: ids."""
    family = await council.post(
        "/families", json={"members": [{"role": "child", "given_name": "Child", "family_name": "Restored"}]}
    )
    assert family.status_code == 201, family.text
    assessment = await council.post("/assessments", json=submitted_sample(family.json()["id"], "early-help-assessment"))
    assert assessment.status_code == 201, assessment.text
    return assessment.json()["id"], family.json()["id"]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _run(*command: str) -> None:
    """A client program, awaited without blocking the load's event loop."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")


async def pg_dump(url: str, path: Path) -> Path:
    """A logical backup in pg_dump's custom format, as docs/operations.md takes it."""
    await _run("pg_dump", "--format=custom", f"--file={path}", f"--dbname={_libpq(url)}")
    return path


async def pg_restore(url: str, backup: Path) -> None:
    """The database dropped, made again empty, and restored from the backup."""
    database = make_url(url).database
    admin = await asyncpg.connect(_libpq(str(make_url(url).set(database="postgres"))))
    try:
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    await _run("pg_restore", "--exit-on-error", "--no-owner", f"--dbname={_libpq(url)}", str(backup))


async def outbox_of(url: str) -> dict[str, str]:
    """The events a service's outbox holds, unpublished: event id → subject."""
    connection = await asyncpg.connect(_libpq(url))
    try:
        rows = await connection.fetch("SELECT event_id, subject FROM outbox_event ORDER BY position")
    finally:
        await connection.close()
    return {row["event_id"]: row["subject"] for row in rows}


async def applied_revision(url: str) -> int:
    """The highest access revision a service's copy of grants holds every change up to."""
    connection = await asyncpg.connect(_libpq(url))
    try:
        value = await connection.fetchval("SELECT value FROM access_revision_applied WHERE id = 1")
    finally:
        await connection.close()
    return int(value or 0)


async def delete_consumer(nats_url: str, name: str) -> None:
    connection = await nats.connect(servers=nats_url.split(","))
    try:
        await connection.jetstream().delete_consumer(STREAM, name)
    finally:
        await connection.close()


async def submitted_since(nats_url: str, since: datetime) -> list[str]:
    """The assessments named by `assessment.submitted` events the stream holds from `since` on."""
    connection = await nats.connect(servers=nats_url.split(","))
    named: list[str] = []
    try:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since, ack_policy=AckPolicy.EXPLICIT
        )
        subscription = await connection.jetstream().pull_subscribe(
            "pathway.assessment.submitted", stream=STREAM, config=config
        )
        while True:
            try:
                messages = await subscription.fetch(100, timeout=1)
            except (NatsTimeoutError, TimeoutError):
                break
            for message in messages:
                data: Any = JSONFormat().read(None, message.data).get_data()
                named.append(data["assessment_id"])
                await message.ack()
        await subscription.unsubscribe()
    finally:
        await connection.close()
    return named


async def bearer_of(system: System, organisation: str) -> dict[str, str]:
    client = demo.demo_clients(system.data_dir)[organisation]
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as http:
        return await demo.bearer(http, client["client_id"], client["client_secret"])


async def access_revision(system: System) -> int:
    """The consent service's access revision, as the services learn it: the key it raises in the NATS bucket."""
    connection = await nats.connect(servers=system.nats.url.split(","))
    try:
        kv = await connection.jetstream().key_value(NatsSettings().bucket)
        held = await read_counter(kv, ACCESS_REVISION_KEY)
    finally:
        await connection.close()
    assert held is not None, "the consent service never wrote its access revision"
    return held.value

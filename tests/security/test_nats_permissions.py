"""NATS lets in only the system's own processes, each as a user that publishes its own subjects and reads
only its own durable consumers; access events are taken only from the consent service.

Every test runs a real nats-server on the configuration `deploy.nats_users` generates, as `make up` does.
"""

import asyncio
import json
import logging
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.errors import Error as NatsError
from nats.js.api import ConsumerConfig
from sqlalchemy import select
from sqlmodel import col

from deploy.nats_users import SERVICES, STREAMS_USER, generate, users
from services.access.events import family_event
from services.access.projection import ACCESS_REVISION_KEY, FRESH_FOR, HEARTBEAT_SECONDS, GrantCopy
from services.kit.events.broker import Broker
from services.kit.events.consumer import InboxEvent
from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.keyvalue import CounterWatch, alive_subject_of, raise_counter, read_counter
from services.kit.natsserver import nats_server_binary
from services.kit.revocation import CredentialsRevoked, RevocationListener, Revocations
from services.kit.testing import TokenMint
from services.plan.events import EVENT_PAYLOADS as PLAN_EVENTS
from tests.support.consent import ConsentStack
from tests.support.nats_users import AuthenticatedNats, authenticated_nats
from tests.support.stack import MigratedDatabase, started
from tests.support.streams import stream_messages
from tests.support.waiting import eventually

DENIED_WITHIN = 2.0  # seconds a refused request waits before its timeout: the server never answers it
DEPLOYED_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf"


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[AuthenticatedNats]:
    async with authenticated_nats(tmp_path) as running:
        yield running


def an_event(event_type: str) -> tuple[str, bytes]:
    """The subject of an event of this type, and the event."""
    event = family_event(source="/tests", type=event_type, subject="test", data={}, family_id=None)
    return nats_subject(event_type), to_json(event)


async def subjects_in_stream(secured: AuthenticatedNats) -> list[str]:
    return [
        message.subject
        for message in await stream_messages(secured.server.url, signed_in_as=secured.settings(STREAMS_USER))
    ]


def test_the_generated_configuration_is_accepted_by_nats_server_alone_and_in_the_cluster_configuration(
    tmp_path: Path,
) -> None:
    credentials = generate(tmp_path / "users")
    alone = subprocess.run([nats_server_binary(), "-t", "-c", str(credentials.accounts_config)], capture_output=True)
    assert alone.returncode == 0, alone.stderr.decode()
    # The deployed configuration includes it from `auth/accounts.conf` beside itself, where a secret is mounted.
    (tmp_path / "deployed" / "auth").mkdir(parents=True)
    (tmp_path / "deployed" / "nats.conf").write_text(DEPLOYED_CONFIG.read_text())
    (tmp_path / "deployed" / "auth" / "accounts.conf").write_text(credentials.accounts_config.read_text())
    cluster = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(tmp_path / "deployed" / "nats.conf")],
        capture_output=True,
        env={"SERVER_NAME": "nats-1"},
    )
    assert cluster.returncode == 0, cluster.stderr.decode()
    # Public keys only: no seed is in the configuration the servers read.
    seeds = [credentials.seed_file(user.name).read_text().strip() for user in users()]
    assert all(seed.startswith("SU") for seed in seeds)
    assert not any(seed in credentials.accounts_config.read_text() for seed in seeds)
    assert oct(credentials.folder.stat().st_mode & 0o777) == "0o700"  # the seeds' only guard on the host
    assert all(credentials.seed_file(user.name).parent == credentials.folder for user in users())


async def test_a_connection_without_a_user_is_refused(secured: AuthenticatedNats) -> None:
    with pytest.raises(NatsError):
        await secured.connect(None)
    assert any("authorization violation" in str(error).lower() for error in secured.errors), secured.errors

    # The same server lets a user in.
    plan = await secured.connect("plan")
    assert plan.is_connected
    await plan.close()


async def test_the_plan_service_cannot_publish_consent_granted_and_nothing_reaches_the_stream(
    secured: AuthenticatedNats,
) -> None:
    plan = await secured.connect("plan")
    try:
        js = plan.jetstream(timeout=DENIED_WITHIN)
        # Its own subjects it may publish: the stream keeps them.
        await js.publish(*an_event("plan.created"))
        with pytest.raises((NatsError, TimeoutError)):
            await js.publish(*an_event("consent.granted"))
        with pytest.raises((NatsError, TimeoutError)):
            await js.publish(*an_event("audit.checkpoint"))
    finally:
        await plan.close()
    assert any('"pathway.consent.granted"' in violation for violation in secured.violations()), secured.errors
    assert await subjects_in_stream(secured) == [nats_subject("plan.created")]


async def test_a_service_cannot_read_subjects_it_does_not_consume(secured: AuthenticatedNats) -> None:
    consent = await secured.connect("consent")
    await consent.jetstream().publish(*an_event("consent.granted"))
    await consent.close()
    assessment = await secured.connect("assessment")
    await assessment.jetstream().publish(*an_event("assessment.submitted"))
    await assessment.close()

    plan = await secured.connect("plan")
    try:
        js = plan.jetstream(timeout=DENIED_WITHIN)
        # Its own durable consumer gives it what it consumes, and only that.
        own = await js.pull_subscribe_bind("plan-assessments", stream="PATHWAY")
        (message,) = await own.fetch(10, timeout=DENIED_WITHIN)
        assert message.subject == nats_subject("assessment.submitted")
        await message.ack()

        # Not by a plain subscription, nor by a consumer of its own making, another's, or reading the stream.
        await plan.subscribe("pathway.>")
        await plan.flush()
        with pytest.raises((NatsError, TimeoutError)):
            await js.add_consumer("PATHWAY", ConsumerConfig(durable_name="plan-everything", filter_subject="pathway.>"))
        with pytest.raises((NatsError, TimeoutError)):
            await js.consumer_info("PATHWAY", "notifications-intake")
        with pytest.raises((NatsError, TimeoutError)):
            await js.get_msg("PATHWAY", seq=1)
        for durable in ("notifications-intake", "assessment-access-copy"):
            response = plan.request(f"$JS.API.CONSUMER.MSG.NEXT.PATHWAY.{durable}", b"1", timeout=DENIED_WITHIN)
            with pytest.raises((NatsError, TimeoutError)):
                await response
        # Nor change or empty the stream: only the user that manages the streams may.
        with pytest.raises((NatsError, TimeoutError)):
            await js.purge_stream("PATHWAY")
        with pytest.raises((NatsError, TimeoutError)):
            await js.delete_stream("PATHWAY")
    finally:
        await plan.close()
    violations = secured.violations()
    assert any('subscription to "pathway.>"' in violation for violation in violations), violations
    assert any("$js.api.stream.purge.pathway" in violation for violation in violations), violations
    assert sorted(await subjects_in_stream(secured)) == [
        nats_subject("assessment.submitted"),
        nats_subject("consent.granted"),
    ]


async def test_the_plan_service_publishes_every_event_its_catalogue_declares_contact_recorded_among_them(
    secured: AuthenticatedNats,
) -> None:
    """Its user is made from the aggregates of its catalogue, so a new plan event needs no permission of its own."""
    plan = await secured.connect("plan")
    try:
        js = plan.jetstream(timeout=DENIED_WITHIN)
        for event_type in PLAN_EVENTS:
            await js.publish(*an_event(event_type))
    finally:
        await plan.close()
    assert "plan.contact_recorded" in PLAN_EVENTS
    assert await subjects_in_stream(secured) == [nats_subject(event_type) for event_type in PLAN_EVENTS]
    assert not secured.violations()


def test_only_the_consent_service_publishes_what_changes_access_or_speaks_for_the_access_log() -> None:
    by_name = {user.name: user for user in users()}
    assert by_name["consent"].publishes == [
        "pathway.access.>", "pathway.audit.>", "pathway.consent.>", "pathway.override.>",
    ]  # fmt: skip
    assert by_name["assessment"].publishes == [
        "pathway.assessment.>", "pathway.audit.recorded", "pathway.form.>", "pathway.request.>",
    ]  # fmt: skip
    assert by_name["plan"].publishes == [
        "pathway.audit.recorded", "pathway.plan.>", "pathway.social_care.>", "pathway.supporting_families.>",
    ]  # fmt: skip
    assert by_name["notifications"].publishes == ["pathway.notification.>"]
    assert by_name["gateway"].publishes == ["pathway.credentials.>"] and not by_name["gateway"].consumers
    assert by_name[STREAMS_USER].manages_streams
    assert [user.name for user in users() if user.manages_streams] == [STREAMS_USER]


async def test_every_process_runs_signed_in_as_its_own_user_with_the_consumers_the_table_gives_it(
    secured: AuthenticatedNats, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> None:
    names = ("consent", "assessment", "plan", "notifications", "gateway")
    async with started(
        *names,
        nats=secured.server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        nats_users=secured.credentials,
    ) as stack:
        for name in names:
            ready = await stack.clients[name].get("/readyz")
            assert ready.status_code == 200, (name, ready.text)
            consumers = stack.apps[name].state.consumers
            declared = {spec.name: list(spec.subjects) for spec in SERVICES[name].consumes}
            assert {c.spec.name: list(c.spec.subjects) for c in consumers.values()} == declared, name

            async def bound() -> bool:
                return all(consumer._subscription is not None for consumer in consumers.values())  # noqa: B023

            await eventually(bound)

        # The consent service writes the access revision; each service keeping a copy of grants watches it.
        async def watched() -> bool:
            return all(
                stack.apps[name].state.access_policy.revision.current(within=FRESH_FOR) is not None
                for name in ("assessment", "plan", "notifications")
            )

        await eventually(watched)
        assert not secured.violations(), secured.violations()


@pytest.fixture
async def signed_in_stack(
    secured: AuthenticatedNats, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[ConsentStack]:
    """The consent and assessment services, each signed in to NATS as its own user."""
    async with started(
        "consent",
        "assessment",
        nats=secured.server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        nats_users=secured.credentials,
    ) as running:
        yield ConsentStack.of(running)


async def test_the_access_copy_ignores_a_grant_without_a_revision_and_logs_no_personal_data(
    secured: AuthenticatedNats, signed_in_stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = signed_in_stack
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    refused = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
    assert refused.status_code == 403, refused.text

    # A grant for the school as the consent service would announce it, but with no revision.
    forged: dict[str, object] = {
        "grant_id": str(uuid.uuid4()),
        "family_id": family_id,
        "categories": ["assessment"],
        "recipient_organisations": [school.id],
        "recipient_types": [],
        "purpose": "early-help",
        "basis": "consent",
        "starts_at": "2020-01-01T00:00:00+00:00",
        "ends_at": None,
    }
    event = family_event(
        source="/services/consent", type="consent.granted", subject="consent/forged", data=forged, family_id=family_id
    )
    caplog.set_level(logging.WARNING, logger="services.access.projection")
    consent = await secured.connect("consent")
    await consent.jetstream().publish(nats_subject("consent.granted"), to_json(event))
    await consent.close()

    async def consumed() -> bool:
        async with stack.assessment_app.state.database.sessionmaker() as session:
            ids = await session.scalars(select(col(InboxEvent.event_id)))
            return event.get_id() in set(ids)

    await eventually(consumed)
    async with stack.assessment_app.state.database.sessionmaker() as session:
        assert (await session.get(GrantCopy, forged["grant_id"])) is None
    # The copy is current (no revision has been told), so a grant in it would have opened this read.
    await asyncio.sleep(0.3)
    still_refused = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
    assert still_refused.status_code == 403, still_refused.text
    assert still_refused.json()["type"].endswith("access-refused")

    (warning,) = [record for record in caplog.records if "without a revision" in record.getMessage()]
    assert warning.levelno == logging.WARNING
    assert vars(warning)["event_type"] == "consent.granted" and vars(warning)["event_id"] == event.get_id()
    assert family_id not in json.dumps({key: str(value) for key, value in vars(warning).items()})


async def test_only_the_consent_service_writes_the_access_revision_and_a_watcher_reads_that_key_alone(
    secured: AuthenticatedNats,
) -> None:
    bucket = secured.settings("consent").bucket
    consent = await secured.connect("consent")
    try:
        kv = await consent.jetstream().key_value(bucket)
        await raise_counter(kv, ACCESS_REVISION_KEY, 7)
        await raise_counter(kv, ACCESS_REVISION_KEY, 5)  # never lowered
        held = await read_counter(kv, ACCESS_REVISION_KEY)
        assert held is not None and held.value == 7
    except BaseException:
        await consent.close()
        raise

    plan_broker = Broker(secured.settings("plan"), "plan")
    plan_broker.start()
    watch = CounterWatch(plan_broker, ACCESS_REVISION_KEY, heartbeat=HEARTBEAT_SECONDS)
    watch.start()
    try:

        async def heard() -> bool:
            await consent.publish(alive_subject_of(bucket, ACCESS_REVISION_KEY), b"7")  # the owner's sign of life
            await consent.flush()
            return watch.current(within=FRESH_FOR) == 7

        await eventually(heard)
        await consent.close()  # the owner falls silent
        # A watcher may not write the key (a lower revision would make a stale copy look current),
        # nor read the bucket through a consumer of another subject, nor read or change the stream itself.
        js = plan_broker.nc.jetstream(timeout=DENIED_WITHIN)
        with pytest.raises((NatsError, TimeoutError)):
            await js.publish(f"$KV.{bucket}.{ACCESS_REVISION_KEY}", b"1")
        with pytest.raises((NatsError, TimeoutError)):
            await js.add_consumer(
                f"KV_{bucket}",
                ConsumerConfig(name="watch-all", filter_subject=f"$KV.{bucket}.>", deliver_subject="_INBOX.plan.x"),
            )
        with pytest.raises((NatsError, TimeoutError)):
            await js.get_msg(f"KV_{bucket}", subject=f"$KV.{bucket}.{ACCESS_REVISION_KEY}", direct=True)
        with pytest.raises((NatsError, TimeoutError)):
            await js.purge_stream(f"KV_{bucket}")
        # Nor say the owner is alive (a stale copy would be trusted after the consent service stopped), nor lower
        # or raise the value the watches hold through that sign of life.
        forger = await secured.connect("plan")
        try:
            await forger.publish(alive_subject_of(bucket, ACCESS_REVISION_KEY), b"1000")
            await forger.flush()
            await asyncio.sleep(HEARTBEAT_SECONDS)
        finally:
            await forger.close()
        # Nothing the watcher tried reached the key or the watch: the last value is still the owner's. (Whether it
        # is still current is another matter: no owner says it is alive here, so it is not.)
        assert watch.current(within=float("inf")) == 7
        assert watch.current(within=FRESH_FOR) is None
    finally:
        await consent.close()
        await watch.stop()
        await plan_broker.close()

    # The gateway keeps no copy of grants: it may not watch the key either.
    gateway = await secured.connect("gateway")
    try:
        with pytest.raises((NatsError, TimeoutError)):
            await gateway.jetstream(timeout=DENIED_WITHIN).add_consumer(
                f"KV_{bucket}",
                ConsumerConfig(
                    name="watch-x",
                    filter_subject=f"$KV.{bucket}.{ACCESS_REVISION_KEY}",
                    deliver_subject="_INBOX.gateway.x",
                ),
            )
    finally:
        await gateway.close()
    violations = secured.violations()
    assert any(f"$kv.{bucket.lower()}.{ACCESS_REVISION_KEY}" in v.lower() for v in violations), violations
    assert any(alive_subject_of(bucket, ACCESS_REVISION_KEY).lower() in v.lower() for v in violations), violations


async def test_every_process_hears_of_revoked_credentials_through_a_consumer_of_that_subject_alone(
    secured: AuthenticatedNats,
) -> None:
    broker = Broker(secured.settings("plan"), "plan")
    broker.start()
    revocations = Revocations()
    listener = RevocationListener(broker, revocations)
    listener.start()
    gateway = await secured.connect("gateway")
    try:

        async def listening() -> bool:
            return listener.listening

        await eventually(listening)
        revoked = family_event(
            source="/gateway",
            type="credentials.revoked",
            subject="client/c-1",
            data=CredentialsRevoked(subject="c-1", organisation_id="org-x", revoked_at=datetime.now(UTC)).model_dump(
                mode="json"
            ),
            family_id=None,
        )
        await gateway.jetstream().publish(nats_subject("credentials.revoked"), to_json(revoked))

        async def refused() -> bool:
            return revocations.refuses("c-1", "org-y", issued_at=time.time() - 60)

        await eventually(refused)

        # The same API lets a process make no consumer of any other subject.
        js = broker.nc.jetstream(timeout=DENIED_WITHIN)
        with pytest.raises((NatsError, TimeoutError)):
            await js.add_consumer(
                "PATHWAY",
                ConsumerConfig(name="revocations-x", filter_subject="pathway.>", deliver_subject="_INBOX.plan.x"),
            )
    finally:
        await gateway.close()
        await listener.stop()
        await broker.close()
    assert not any("credentials.revoked" in violation for violation in secured.violations()), secured.violations()


async def test_the_plan_service_reads_its_own_openings_and_assessments_started_for_the_reports_profile(
    secured: AuthenticatedNats,
) -> None:
    assessment = await secured.connect("assessment")
    await assessment.jetstream().publish(*an_event("assessment.created"))
    await assessment.close()
    plan = await secured.connect("plan")
    try:
        js = plan.jetstream(timeout=DENIED_WITHIN)
        for event_type in ("plan.activated", "plan.created", "plan.reopened"):
            await js.publish(*an_event(event_type))
        profiles = await js.pull_subscribe_bind("plan-reporting-profiles", stream="PATHWAY")
        messages = await profiles.fetch(10, timeout=DENIED_WITHIN)
        for message in messages:
            await message.ack()
    finally:
        await plan.close()
    # What opens a plan, or starts an assessment, and nothing else of the stream (`plan.activated` stays out).
    assert [message.subject for message in messages] == [
        nats_subject("assessment.created"),
        nats_subject("plan.created"),
        nats_subject("plan.reopened"),
    ]

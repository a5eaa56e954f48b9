"""Consumers apply each event once, and set aside what they cannot apply."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import nats
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.kit.db import Database
from services.kit.events.broker import Broker
from services.kit.events.consumer import DurableConsumer
from services.kit.events.envelope import BaseCloudEvent, new_event, to_json
from services.kit.events.outbox import OutboxEvent, OutboxRelay, record_event
from services.kit.migrations import upgrade_database
from services.kit.natsserver import NatsServer
from services.kit.settings import ServiceSettings
from tests.kit import note_service
from tests.kit.note_service import NOTE_EFFECTS
from tests.support.notes import RunningNotes, effects_by_event, note_settings
from tests.support.streams import stream_messages
from tests.support.waiting import eventually

MIGRATIONS = Path(note_service.__file__).parent / "note_migrations" / "versions"


async def consumer_caught_up(nats_url: str, consumer: str = "note-effects") -> bool:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info("PATHWAY", consumer)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)
    finally:
        await nc.close()


async def test_redelivered_event_is_applied_once(notes: RunningNotes) -> None:
    response = await notes.client.post("/notes", json={"aggregate": "family-1", "text": "hello"})
    event_id = response.json()["event_id"]

    async def applied() -> bool:
        return event_id in await effects_by_event(notes.app)

    await eventually(applied)
    # The same event again under another message id: what a redelivery after
    # JetStream's duplicate window, or a second relay, would look like.
    (original,) = await stream_messages(notes.nats.url)
    nc = await nats.connect(notes.nats.url)
    await nc.jetstream().publish("pathway.note.written", to_json(original.event), headers={"Nats-Msg-Id": "again"})
    await nc.close()

    assert len(await stream_messages(notes.nats.url)) == 2
    await eventually(lambda: consumer_caught_up(notes.nats.url))
    assert await effects_by_event(notes.app) == {event_id: 1}


async def test_failing_event_is_dead_lettered_and_the_events_behind_it_still_apply(notes: RunningNotes) -> None:
    note_service.FAILING_AGGREGATES.add("poisoned")
    poisoned = (await notes.client.post("/notes", json={"aggregate": "poisoned", "text": "x"})).json()["event_id"]
    behind = [
        (await notes.client.post("/notes", json={"aggregate": "healthy", "text": str(n)})).json()["event_id"]
        for n in range(3)
    ]

    async def behind_applied() -> bool:
        return set(behind) <= set(await effects_by_event(notes.app))

    await eventually(behind_applied)

    async def dead_lettered() -> bool:
        return len((await notes.client.get("/internal/dead-letters", headers=notes.admin)).json()) == 1

    await eventually(dead_lettered)
    (letter,) = (await notes.client.get("/internal/dead-letters", headers=notes.admin)).json()
    assert letter["event_id"] == poisoned
    assert letter["consumer"] == "note-effects"
    assert letter["subject"] == "pathway.note.written"
    assert letter["error"] == "RuntimeError"
    assert letter["attempts"] == 3
    assert poisoned not in await effects_by_event(notes.app)
    await eventually(lambda: consumer_caught_up(notes.nats.url))

    still_failing = await notes.client.post(
        "/internal/dead-letters/replay", json={"sequences": [letter["sequence"]]}, headers=notes.admin
    )
    assert still_failing.json() == [
        {"sequence": letter["sequence"], "outcome": "failed", "event_id": poisoned, "error": "RuntimeError"}
    ]
    assert len((await notes.client.get("/internal/dead-letters", headers=notes.admin)).json()) == 1

    note_service.FAILING_AGGREGATES.clear()  # the cause is mended
    replayed = await notes.client.post(
        "/internal/dead-letters/replay", json={"sequences": [letter["sequence"], 999]}, headers=notes.admin
    )
    assert replayed.json() == [
        {"sequence": letter["sequence"], "outcome": "applied", "event_id": poisoned, "error": None},
        {"sequence": 999, "outcome": "not-found", "event_id": None, "error": None},
    ]
    assert (await effects_by_event(notes.app))[poisoned] == 1
    assert (await notes.client.get("/internal/dead-letters", headers=notes.admin)).json() == []


@dataclass
class NoteParts:
    settings: ServiceSettings
    database: Database
    broker: Broker


@pytest.fixture
async def parts(nats_server: NatsServer, database_url: str, tmp_path: Path) -> AsyncIterator[NoteParts]:
    """The notes service's database, migrated, and a broker connected to NATS, without the app around them."""
    settings = note_settings(nats_server.url, database_url, tmp_path)
    database = Database(settings.database)
    await upgrade_database(database, [MIGRATIONS])
    broker = Broker(settings.nats, "consumer-test")
    broker.start()
    await broker.ready.wait()
    yield NoteParts(settings, database, broker)
    await broker.close()
    await database.dispose()


class RelayKilledBeforeMarking(OutboxRelay):
    """Dies after JetStream acknowledged the batch, before the rows are deleted."""

    async def mark_published(self, session: object) -> None:
        raise asyncio.CancelledError


async def test_an_event_held_up_by_another_part_being_away_is_tried_until_it_answers_never_dead_lettered(
    notes: RunningNotes,
) -> None:
    note_service.AWAY_AGGREGATES.add("waiting")
    try:
        held_up = (await notes.client.post("/notes", json={"aggregate": "waiting", "text": "x"})).json()["event_id"]

        async def tried_past_the_dead_letter_limit() -> bool:
            return note_service.TRIES.get(held_up, 0) > 3  # max_attempts is 3 in these tests

        await eventually(tried_past_the_dead_letter_limit)
        assert (await notes.client.get("/internal/dead-letters", headers=notes.admin)).json() == []
        assert held_up not in await effects_by_event(notes.app)
    finally:
        note_service.AWAY_AGGREGATES.clear()  # the part is back

    async def applied() -> bool:
        return (await effects_by_event(notes.app)).get(held_up) == 1

    await eventually(applied)
    assert (await notes.client.get("/internal/dead-letters", headers=notes.admin)).json() == []


async def test_relay_killed_between_publishing_and_marking_duplicates_nothing(
    parts: NoteParts, nats_server: NatsServer
) -> None:
    settings, database, broker = parts.settings, parts.database, parts.broker
    async with database.sessionmaker() as session, session.begin():
        events = [
            new_event(source="/notes", type="note.written", subject=str(n), data={"note_id": str(n), "aggregate": "a"})
            for n in range(5)
        ]
        for event in events:
            record_event(session, event)

    with pytest.raises(asyncio.CancelledError):
        await RelayKilledBeforeMarking(database, broker, settings.outbox).publish_pending()
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 5

    published, _ = await OutboxRelay(database, broker, settings.outbox).publish_pending()
    assert published == 5
    messages = await stream_messages(nats_server.url)
    assert [m.event.get_id() for m in messages] == [e.get_id() for e in events]

    consumer = DurableConsumer(NOTE_EFFECTS, database, broker, settings.consumer)
    consumer.start()
    await eventually(lambda: consumer_caught_up(nats_server.url))
    await consumer.stop()
    async with database.sessionmaker() as session:
        rows = await session.execute(select(col(note_service.NoteEffect.event_id)))
        assert sorted(rows.scalars()) == sorted(e.get_id() for e in events)


async def test_a_batched_consumer_applies_a_batch_in_one_transaction_and_a_failing_event_alone(
    parts: NoteParts, nats_server: NatsServer
) -> None:
    settings, database, broker = parts.settings, parts.database, parts.broker
    transactions: list[AsyncSession] = []

    async def apply(session: AsyncSession, event: BaseCloudEvent) -> None:
        transactions.append(session)
        await note_service.apply_note_written(session, event)

    batched = replace(NOTE_EFFECTS, handler=apply, batched=True)
    note_service.FAILING_AGGREGATES.add("poisoned")
    published = 0

    async def publish(*events: BaseCloudEvent) -> None:
        nonlocal published
        for event in events:  # each under its own message id: a copy is what a late redelivery looks like
            published += 1
            await broker.js.publish("pathway.note.written", to_json(event), headers={"Nats-Msg-Id": str(published)})

    # Published before the consumer starts, so that its first fetch takes them as one batch.
    healthy = [_note_written(str(n), "healthy") for n in range(6)]
    await publish(*healthy, healthy[2])
    consumer = DurableConsumer(batched, database, broker, settings.consumer)
    consumer.start()
    await eventually(lambda: consumer_caught_up(nats_server.url))
    assert len(transactions) == 6 and len(set(map(id, transactions))) == 1
    assert await _effects(database) == sorted(e.get_id() for e in healthy)

    poisoned, behind = _note_written("p", "poisoned"), [_note_written(f"b{n}", "healthy") for n in range(3)]
    await publish(poisoned, *behind)
    await eventually(lambda: consumer_caught_up(nats_server.url))
    await consumer.stop()
    assert await _effects(database) == sorted(e.get_id() for e in [*healthy, *behind])
    connection = await nats.connect(nats_server.url)
    try:
        letters = await connection.jetstream().stream_info(settings.nats.dead_letter_stream)
        assert letters.state.messages == 1
    finally:
        await connection.close()


async def _effects(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return sorted((await session.execute(select(col(note_service.NoteEffect.event_id)))).scalars())


def test_a_batched_consumer_takes_a_plain_handler_in_any_order() -> None:
    with pytest.raises(ValueError, match="plain handler"):
        replace(NOTE_EFFECTS, batched=True, in_order=True)


def _note_written(note_id: str, aggregate: str) -> BaseCloudEvent:
    data = {"note_id": note_id, "aggregate": aggregate}
    return new_event(source="/notes", type="note.written", subject=note_id, data=data)


async def test_an_idle_consumer_takes_an_event_promptly_after_nats_restarted_and_lost_its_held_request(
    parts: NoteParts, nats_server: NatsServer
) -> None:
    """An idle consumer's one pull request is held by the server; a restarted server has forgotten it."""
    settings, database, broker = parts.settings, parts.database, parts.broker
    consumer = DurableConsumer(NOTE_EFFECTS, database, broker, settings.consumer)
    consumer.start()
    try:
        before = _note_written("before", "a")
        await broker.js.publish("pathway.note.written", to_json(before), headers={"Nats-Msg-Id": "before"})
        await eventually(lambda: consumer_caught_up(nats_server.url))
        await asyncio.sleep(0.5)  # idle: waiting on a held request

        nats_server.stop()
        nats_server.start()
        after = _note_written("after", "a")

        async def published() -> bool:  # once JetStream has recovered its streams
            try:
                await broker.js.publish("pathway.note.written", to_json(after), headers={"Nats-Msg-Id": "after"})
            except (nats.errors.Error, TimeoutError):
                return False
            return True

        await eventually(published)
        published_at = asyncio.get_running_loop().time()

        async def applied() -> bool:
            return after.get_id() in await _effects(database)

        # Well within the lost request's own expiry (30 s) and its heartbeats' (6 s): made again on reconnecting.
        await eventually(applied, within=10.0)
        assert asyncio.get_running_loop().time() - published_at < 3.0
        assert await _effects(database) == sorted(e.get_id() for e in [before, after])
    finally:
        await consumer.stop()

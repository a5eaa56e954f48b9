"""Events written with a change reach JetStream once, in order, whatever happens to NATS."""

import asyncio

from sqlalchemy import func, select

from services.kit.events.envelope import new_event
from services.kit.events.outbox import OutboxEvent, record_event
from tests.support.notes import RunningNotes
from tests.support.streams import stream_messages
from tests.support.waiting import eventually


async def outbox_rows(notes: RunningNotes) -> int:
    async with notes.app.state.database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def test_event_written_with_a_change_is_published_exactly_once(notes: RunningNotes) -> None:
    written = []
    for n in range(3):
        response = await notes.client.post("/notes", json={"aggregate": "family-1", "text": f"note {n}"})
        assert response.status_code == 201
        written.append(response.json()["event_id"])

    async def all_published() -> bool:
        return len(await stream_messages(notes.nats.url)) >= 3

    await eventually(all_published)
    await asyncio.sleep(0.5)  # time for a duplicate to show, if the relay made one
    messages = await stream_messages(notes.nats.url)
    assert [message.event.get_id() for message in messages] == written
    assert [message.msg_id for message in messages] == written
    assert {message.subject for message in messages} == {"pathway.note.written"}
    assert messages[0].event.get_type() == "note.written"
    assert await outbox_rows(notes) == 0


async def test_rolled_back_change_publishes_nothing(notes: RunningNotes) -> None:
    refused = await notes.client.post("/notes", json={"aggregate": "a", "text": "x", "roll_back": True})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    kept = await notes.client.post("/notes", json={"aggregate": "a", "text": "y"})
    kept_id = kept.json()["event_id"]

    async def kept_published() -> bool:
        return any(m.event.get_id() == kept_id for m in await stream_messages(notes.nats.url))

    await eventually(kept_published)
    await asyncio.sleep(0.3)
    assert [m.event.get_id() for m in await stream_messages(notes.nats.url)] == [kept_id]
    assert await outbox_rows(notes) == 0


async def test_changes_commit_while_nats_is_down_and_their_events_follow_in_order(notes: RunningNotes) -> None:
    notes.nats.stop()
    written: dict[str, list[str]] = {"family-a": [], "family-b": []}
    for n in range(10):
        aggregate = "family-a" if n % 2 else "family-b"
        response = await notes.client.post("/notes", json={"aggregate": aggregate, "text": str(n)})
        assert response.status_code == 201, response.text
        written[aggregate].append(response.json()["event_id"])
    assert await outbox_rows(notes) == 10

    notes.nats.start()

    async def all_arrived() -> bool:
        return len(await stream_messages(notes.nats.url)) >= 10

    await eventually(all_arrived, within=20)
    messages = await stream_messages(notes.nats.url)
    assert len(messages) == 10
    for aggregate, event_ids in written.items():
        data = [
            m.event
            for m in messages
            if m.event.get_data() == {"note_id": m.event.get_subject(), "aggregate": aggregate}
        ]
        assert [event.get_id() for event in data] == event_ids
    await eventually(lambda: _empty_outbox(notes))


async def _empty_outbox(notes: RunningNotes) -> bool:
    return await outbox_rows(notes) == 0


async def test_an_event_written_in_a_savepoint_wakes_the_relay_at_the_real_commit(notes: RunningNotes) -> None:
    """Releasing a savepoint fires SQLAlchemy's after_commit too; the relay must still wake at the real commit."""
    database = notes.app.state.database
    event = new_event(source="/notes", type="note.written", subject="n-1", data={"note_id": "n-1", "aggregate": "a"})
    async with database.sessionmaker() as session, session.begin():
        async with session.begin_nested():
            record_event(session, event)
        await asyncio.sleep(0.1)  # the relay, woken too early, looks and finds nothing yet
    committed_at = asyncio.get_running_loop().time()

    async def published() -> bool:
        return any(m.event.get_id() == event.get_id() for m in await stream_messages(notes.nats.url))

    await eventually(published)
    assert asyncio.get_running_loop().time() - committed_at < 0.5  # not the relay's 1 s poll

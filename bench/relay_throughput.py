"""Relay throughput from a backlog of 50,000 events; the aim is at least 10,000 events/s.

Each round fills the outbox first, untimed, in a few big transactions. The
clock then runs from starting the relay until the outbox is empty and the
stream holds every event. The baseline publishes the same subjects, bodies and
message ids with `js.publish_async` to a fresh stream of the same configuration
and awaits every acknowledgement. Rounds alternate the two paths, and the
figures are the median and the range over rounds, since one run on a shared
machine varies by a quarter either way.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import NamedTuple

import nats
from nats.js import JetStreamContext
from sqlalchemy import func, insert, select

from bench.common import (
    add_loop_argument,
    backend_name,
    kit_outbox_parts,
    print_table,
    run,
    running_nats,
    sample_event,
    scratch_database,
    scratch_folder,
)
from services.kit.db import Database
from services.kit.events.broker import ensure_streams
from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.outbox import MSG_ID_HEADER, OutboxEvent, OutboxRelay
from services.kit.settings import NatsSettings, OutboxSettings

TARGET_EVENTS_PER_SECOND = 10_000
FILL_CHUNK = 10_000
POLL_SECONDS = 0.01
DRAIN_TIMEOUT_SECONDS = 300.0
# Deleting a stream of 50,000 messages keeps nats-server's disk busy for a moment.
SETTLE_SECONDS = 1.0


class Message(NamedTuple):
    subject: str
    body: bytes
    event_id: str


async def fill_outbox(database: Database, count: int) -> list[Message]:
    """Commit `count` new events to the outbox, as `record_event` would store them; return them in order."""
    messages = []
    for n in range(count):
        event = sample_event(n)
        messages.append(Message(nats_subject(event.get_type()), to_json(event), event.get_id()))
    for start in range(0, count, FILL_CHUNK):
        rows = [
            {
                "event_id": message.event_id,
                "subject": message.subject,
                "body": message.body,
                "created_at": datetime.now(UTC),
            }
            for message in messages[start : start + FILL_CHUNK]
        ]
        async with database.sessionmaker() as session, session.begin():
            await session.execute(insert(OutboxEvent), rows)
    return messages


async def outbox_rows(database: Database) -> int:
    async with database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def stream_messages(js: JetStreamContext, stream: str) -> int:
    info = await js.stream_info(stream)
    return int(info.state.messages)


async def wait_until(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {DRAIN_TIMEOUT_SECONDS:g} s")
        await asyncio.sleep(POLL_SECONDS)


async def drain_outbox(relay: OutboxRelay, probe: JetStreamContext, stream: str, count: int) -> float:
    """Seconds from starting the relay to an empty outbox and `count` messages in the stream."""

    async def stream_full() -> bool:
        return await stream_messages(probe, stream) >= count

    async def outbox_empty() -> bool:
        return await outbox_rows(relay.database) == 0

    started = time.perf_counter()
    relay.start()
    try:
        # The stream first: counting rows on SQLite would take the relay's only connection.
        await wait_until(stream_full)
        await wait_until(outbox_empty)
        return time.perf_counter() - started
    finally:
        await relay.stop()


async def publish_all(js: JetStreamContext, messages: Sequence[Message]) -> float:
    """Seconds to publish every message asynchronously and have every acknowledgement back."""
    started = time.perf_counter()
    acks = [
        await js.publish_async(message.subject, message.body, headers={MSG_ID_HEADER: message.event_id})
        for message in messages
    ]
    await asyncio.gather(*acks)
    return time.perf_counter() - started


async def fresh_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    """Replace the stream with an empty one of the same configuration and no de-duplication history."""
    await js.delete_stream(settings.stream)
    await ensure_streams(js, settings)
    await asyncio.sleep(SETTLE_SECONDS)


def figures(name: str, events: int, rates: list[float]) -> list[object]:
    return [name, events, len(rates), round(statistics.median(rates)), round(min(rates)), round(max(rates))]


async def main(events: int, batch_size: int, rounds: int) -> None:
    relay_rates: list[float] = []
    baseline_rates: list[float] = []
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with scratch_database(folder, "relay") as database_url, AsyncExitStack() as stack:
            database, broker = await kit_outbox_parts(stack, database_url, server.url)
            nats_settings = broker.settings
            bare = await nats.connect(server.url)
            stack.push_async_callback(bare.close)
            js = bare.jetstream()
            relay = OutboxRelay(database, broker, OutboxSettings(batch_size=batch_size))

            for _ in range(rounds):
                messages = await fill_outbox(database, events)
                relay_rates.append(events / await drain_outbox(relay, js, nats_settings.stream, events))
                await fresh_stream(js, nats_settings)
                baseline_rates.append(events / await publish_all(js, messages))
                stored = await stream_messages(js, nats_settings.stream)
                if stored != events:
                    raise RuntimeError(f"the baseline stream holds {stored} messages, not {events}")
                await fresh_stream(js, nats_settings)

    print(f"Relay throughput from a backlog ({backend_name(database_url)}; relay batch size {batch_size})")
    print_table(
        ["path", "events", "rounds", "median events/s", "min", "max"],
        [
            figures("outbox relay (backlog → stream)", events, relay_rates),
            figures("baseline: js.publish_async", events, baseline_rates),
        ],
    )
    rate = statistics.median(relay_rates)
    verdict = "met" if rate >= TARGET_EVENTS_PER_SECOND else "missed"
    print(f"aim: relay at least {TARGET_EVENTS_PER_SECOND:,} events/s: {verdict} (median {rate:,.0f} events/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="size of the backlog (default: %(default)s)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=OutboxSettings().batch_size,
        help="rows the relay publishes per batch (default: the kit's, %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="backlogs drained on each path (default: %(default)s)")
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(arguments.events, arguments.batch_size, arguments.rounds), arguments.loop)

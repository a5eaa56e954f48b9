"""Commit to message in JetStream: p50 and p99 over 5,000 events; the aim is p99 under 20 ms.

Each event is committed with `record_event`, and its latency runs from the
moment the commit returns to the moment an ordered JetStream consumer on a
connection of its own receives it. Events go one at a time, the next once the
last has arrived, so the figures are latency and not a backlog. The baseline
publishes the same kind of event with `js.publish` and no database, timed from
the call to arrival at the same consumer.
"""

import argparse
import asyncio
import time
from contextlib import AsyncExitStack

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from bench.common import (
    add_loop_argument,
    backend_name,
    kit_outbox_parts,
    percentile,
    print_table,
    run,
    running_nats,
    sample_event,
    scratch_database,
    scratch_folder,
)
from services.kit.db import Database
from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.outbox import MSG_ID_HEADER, OutboxRelay, record_event
from services.kit.settings import OutboxSettings

TARGET_P99_MS = 20.0
ARRIVAL_TIMEOUT_SECONDS = 10.0


class Arrivals:
    """When each expected message reached the consumer, by event id."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, event_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[event_id] = future
        return future

    async def on_message(self, msg: Msg) -> None:
        arrived = time.perf_counter()
        future = self._waiting.pop((msg.headers or {}).get(MSG_ID_HEADER, ""), None)
        if future is not None and not future.done():
            future.set_result(arrived)


async def outbox_latencies(database: Database, arrivals: Arrivals, count: int) -> list[float]:
    """Seconds from each commit returning to its event reaching the consumer."""
    latencies = []
    for n in range(count):
        event = sample_event(n)
        arrived = arrivals.expect(event.get_id())
        async with database.sessionmaker() as session:
            async with session.begin():
                record_event(session, event)
            committed = time.perf_counter()
        latencies.append(await asyncio.wait_for(arrived, ARRIVAL_TIMEOUT_SECONDS) - committed)
    return latencies


async def publish_latencies(js: JetStreamContext, arrivals: Arrivals, count: int) -> list[float]:
    """Seconds from each `js.publish` call to its message reaching the consumer."""
    latencies = []
    for n in range(count):
        event = sample_event(n)
        subject, body, event_id = nats_subject(event.get_type()), to_json(event), event.get_id()
        arrived = arrivals.expect(event_id)
        started = time.perf_counter()
        await js.publish(subject, body, headers={MSG_ID_HEADER: event_id})
        latencies.append(await asyncio.wait_for(arrived, ARRIVAL_TIMEOUT_SECONDS) - started)
    return latencies


def figures(name: str, latencies: list[float]) -> list[object]:
    ordered = sorted(seconds * 1000 for seconds in latencies)
    return [name, len(ordered), percentile(ordered, 50), percentile(ordered, 99), ordered[-1]]


async def main(events: int, warmup: int) -> None:
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with scratch_database(folder, "commit") as database_url, AsyncExitStack() as stack:
            database, broker = await kit_outbox_parts(stack, database_url, server.url)
            relay = OutboxRelay(database, broker, OutboxSettings())
            relay.start()
            stack.push_async_callback(relay.stop)

            arrivals = Arrivals()
            listener = await nats.connect(server.url)
            stack.push_async_callback(listener.close)
            await listener.jetstream().subscribe(
                "pathway.>",
                cb=arrivals.on_message,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
            )
            publisher = await nats.connect(server.url)
            stack.push_async_callback(publisher.close)

            await publish_latencies(publisher.jetstream(), arrivals, warmup)
            baseline = await publish_latencies(publisher.jetstream(), arrivals, events)
            await outbox_latencies(database, arrivals, warmup)
            outbox = await outbox_latencies(database, arrivals, events)

    print(
        f"Commit to message in JetStream ({backend_name(database_url)}; one event at a time, "
        f"after {warmup:,} warm-up events; arrival at an ordered JetStream consumer)"
    )
    print_table(
        ["path", "events", "p50 ms", "p99 ms", "max ms"],
        [figures("outbox (commit → stream)", outbox), figures("baseline: direct js.publish", baseline)],
    )
    p99 = percentile(sorted(outbox), 99) * 1000
    verdict = "met" if p99 < TARGET_P99_MS else "missed"
    print(f"aim: outbox p99 under {TARGET_P99_MS:g} ms: {verdict} ({p99:.2f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events timed on each path (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed events first (default: %(default)s)")
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(arguments.events, arguments.warmup), arguments.loop)

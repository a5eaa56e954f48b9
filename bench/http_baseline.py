"""HTTP `POST /notes`: the kit's note service next to a bare FastAPI app, each in its own uvicorn.

Both run one uvicorn worker on a free 127.0.0.1 port, one after the other, and
are driven from this process by one httpx client per request in flight (a
shared client's pool slows down beyond a few connections). The note service
writes a row and an event in one transaction, its relay publishes the event to
a nats-server of its own and its consumer applies it, so its figures include
that work; the bare app only validates and answers.
"""

import argparse
import asyncio
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack

import httpx

from bench.common import (
    add_loop_argument,
    backend_name,
    percentile,
    print_table,
    run,
    running_nats,
    scratch_database,
    scratch_folder,
    serving,
    wait_healthy,
)
from services.kit.natsserver import free_port

NOTE = {"aggregate": "family-1", "text": "Met the family at home; agreed the next review."}


async def drive(clients: Sequence[httpx.AsyncClient], requests: int) -> tuple[float, list[float]]:
    """Seconds for `requests` POSTs, one in flight per client, and each one's latency in seconds."""
    latencies: list[float] = []
    tickets = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in tickets:
            started = time.perf_counter()
            response = await client.post("/notes", json=NOTE)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                raise RuntimeError(f"POST /notes answered {response.status_code}: {response.text[:500]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    return time.perf_counter() - started, latencies


async def measure(name: str, base_url: str, requests: int, warmup: int, concurrency: int) -> list[object]:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=30.0))
            for _ in range(concurrency)
        ]
        await wait_healthy(clients[0])
        await drive(clients, warmup)
        seconds, latencies = await drive(clients, requests)
    ordered = sorted(latency * 1000 for latency in latencies)
    return [name, requests, round(requests / seconds), percentile(ordered, 50), percentile(ordered, 99)]


async def main(requests: int, warmup: int, concurrency: int) -> None:
    with scratch_folder() as folder:
        with serving("bench.apps:create_bare_app", free_port(), {}, folder / "bare.log") as url:
            bare = await measure("baseline: bare FastAPI", url, requests, warmup, concurrency)
        with running_nats(folder / "nats") as server:
            async with scratch_database(folder, "notes") as database_url:
                env = {"DATABASE_URL": database_url, "NATS_URL": server.url, "PATHWAY_DATA_DIR": str(folder)}
                with serving("bench.apps:create_notes_app", free_port(), env, folder / "notes.log") as url:
                    notes = await measure("note service (kit)", url, requests, warmup, concurrency)

    print(
        f"HTTP POST /notes ({backend_name(database_url)}; one uvicorn worker each; concurrency {concurrency}, "
        f"after {warmup:,} warm-up requests)"
    )
    print_table(["app", "requests", "requests/s", "p50 ms", "p99 ms"], [notes, bare])
    print("the client shares the machine's cores with the server, so the bare app's figures are a floor for it")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3_000, help="requests timed on each app (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests first (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: %(default)s)")
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(arguments.requests, arguments.warmup, arguments.concurrency), arguments.loop)

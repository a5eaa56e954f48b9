"""The same read through the gateway and straight to the service: added latency and the throughput ratio.

The aims are under 2 ms added at p50 and at least 0.6 of direct throughput. A
stand-in for the plan service (`GET /plans/{id}`: about 1 KB of JSON and an
ETag, nothing behind it) and the real gateway in front of it each run one
uvicorn worker on a free 127.0.0.1 port; the gateway has a nats-server and a
database of its own, an admin client whose token every request carries, and a
rate limit too high to bite. Requests come from this process, one httpx client
per request in flight, the same on both paths (the stand-in ignores the token).
Each round times both paths one request at a time, which gives the added
latency without queueing, then at the chosen concurrency, which gives the
throughput ratio; the order of the paths alternates from round to round, and
the figures are the median and the range over rounds.
"""

import argparse
import statistics
from contextlib import AsyncExitStack

import httpx

from bench.common import (
    Load,
    add_loop_argument,
    drive,
    http_clients,
    load_headers,
    load_row,
    median_and_range,
    print_table,
    run,
    running_gateway,
    running_nats,
    scratch_database,
    scratch_folder,
    serving,
    verdict,
    wait_healthy,
)
from services.kit.natsserver import free_port

TARGET_ADDED_P50_MS = 2.0
TARGET_THROUGHPUT_RATIO = 0.6
PLAN_PATH = "/plans/6b0f8c1e-3d7a-4f51-9a0e-2c4d8e1f7a90"
PATHS = ("direct", "gateway")


async def read_plan(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get(PLAN_PATH)


async def same_answer(direct: httpx.AsyncClient, gateway: httpx.AsyncClient) -> None:
    """The gateway passes the body and the ETag through unchanged."""
    expected, answered = await direct.get(PLAN_PATH), await gateway.get(PLAN_PATH)
    if answered.status_code != 200 or (answered.content, answered.headers.get("etag")) != (
        expected.content,
        expected.headers.get("etag"),
    ):
        raise RuntimeError(f"the gateway answered {answered.status_code}: {answered.text[:500]}")


async def main(requests: int, sequential: int, warmup: int, concurrency: int, rounds: int) -> None:
    one_at_a_time: dict[str, list[Load]] = {path: [] for path in PATHS}
    concurrent: dict[str, list[Load]] = {path: [] for path in PATHS}
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with scratch_database(folder, "gateway") as database_url, AsyncExitStack() as stack:
            stub_url = stack.enter_context(
                serving("bench.apps:create_plan_stub_app", free_port(), {}, folder / "stub.log")
            )
            gateway = stack.enter_context(running_gateway(folder, server.url, database_url, stub_url))
            clients: dict[str, list[httpx.AsyncClient]] = {}
            for path, url in zip(PATHS, (stub_url, gateway.url), strict=True):
                clients[path] = await http_clients(stack, url, concurrency)
                await wait_healthy(clients[path][0])
            issued = await clients["gateway"][0].post(
                "/oauth/token", data={"grant_type": "client_credentials"}, headers=gateway.basic_auth
            )
            issued.raise_for_status()
            bearer = f"Bearer {issued.json()['access_token']}"
            for group in clients.values():
                for client in group:
                    client.headers["Authorization"] = bearer
            await same_answer(clients["direct"][0], clients["gateway"][0])
            for path in PATHS:
                await drive(clients[path], warmup, read_plan)

            for round_number in range(rounds):
                order = PATHS if round_number % 2 == 0 else PATHS[::-1]
                for path in order:
                    one_at_a_time[path].append(await drive(clients[path][:1], sequential, read_plan))
                for path in order:
                    concurrent[path].append(await drive(clients[path], requests, read_plan))

    print("GET /plans/{id}, about 1 KB of JSON: straight to a stand-in service and through the gateway to it")
    print("(one uvicorn worker each; the client runs in this process on the same cores)")
    print_table(
        load_headers("path, concurrency"),
        [
            load_row("direct, 1", sequential, one_at_a_time["direct"]),
            load_row("through the gateway, 1", sequential, one_at_a_time["gateway"]),
            load_row(f"direct, {concurrency}", requests, concurrent["direct"]),
            load_row(f"through the gateway, {concurrency}", requests, concurrent["gateway"]),
        ],
    )
    pairs = list(zip(one_at_a_time["gateway"], one_at_a_time["direct"], strict=True))
    added_p50 = [through.p50 - direct.p50 for through, direct in pairs]
    added_p99 = [through.p99 - direct.p99 for through, direct in pairs]
    ratios = [
        through.rate / direct.rate for through, direct in zip(concurrent["gateway"], concurrent["direct"], strict=True)
    ]
    print(f"added latency, one request at a time: p50 {median_and_range(added_p50, ' ms')}")
    print(f"                                      p99 {median_and_range(added_p99, ' ms')}")
    print(f"throughput through the gateway / direct, concurrency {concurrency}: {median_and_range(ratios)}")
    added = statistics.median(added_p50)
    print(f"aim: under {TARGET_ADDED_P50_MS:g} ms added at p50: {verdict(added < TARGET_ADDED_P50_MS)}")
    print(
        f"aim: at least {TARGET_THROUGHPUT_RATIO:g} of direct throughput: "
        f"{verdict(statistics.median(ratios) >= TARGET_THROUGHPUT_RATIO)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=3_000,
        help="requests timed per path and round, concurrently (default: %(default)s)",
    )
    parser.add_argument(
        "--sequential",
        type=int,
        default=1_000,
        help="requests timed per path and round, one at a time (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup", type=int, default=100, help="untimed requests per path first (default: %(default)s)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on each path (default: %(default)s)")
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(
        main(arguments.requests, arguments.sequential, arguments.warmup, arguments.concurrency, arguments.rounds),
        arguments.loop,
    )

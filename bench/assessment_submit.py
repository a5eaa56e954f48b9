"""A submitted early-help assessment posted straight to the assessment service, next to a bare FastAPI endpoint.

The aims, on PostgreSQL, are at least 0.4 of the bare endpoint's requests/s and
p99 under 100 ms. The assessment service (`services.assessment.main:create_app`)
runs one uvicorn worker on a free 127.0.0.1 port with a nats-server and a
scratch database of its own, on SQLite and then on PostgreSQL; the real gateway,
with a database of its own, only issues the token of its admin client, which
the service verifies against the gateway's JWKS. One family is registered, then
every timed request is `POST /assessments` of `early-help-assessment` v1 with
`status: submitted` and the answers in `tests/assessment/samples/
early-help-assessment-1.json`, so the service checks every answer against the
form, writes the assessment, its revision and its events in one transaction and
answers 201 with the whole assessment. The baseline, `create_bare_assessment_app`
in `apps.py`, runs in its own uvicorn and takes the same bytes into a pydantic
model of the same shape, answering 201 with an id and the status. Requests come
from this process, one httpx client per request in flight, the same token on
both; each round times the service and the baseline in turn, the order
alternating from round to round, and the figures are the median and the range
over rounds.
"""

import argparse
import json
import statistics
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    BACKEND_TITLES,
    Gateway,
    Load,
    add_databases_argument,
    add_loop_argument,
    chosen_backends,
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
    serving_service,
    verdict,
    wait_healthy,
)
from services.kit.natsserver import free_port
from tools.synthetic.bodies import one_child, sample_answers, submitted_assessment

TARGET_RATIO = 0.4
TARGET_P99_MS = 100.0
APPS = ("service", "baseline")
# The benchmark's own fictional family; 9434765919 is a made-up NHS number with a valid check digit.
FAMILY = one_child(nhs_number="9434765919")
JSON_HEADERS = {"Content-Type": "application/json"}


async def drive_posts(clients: Sequence[httpx.AsyncClient], requests: int, body: bytes) -> Load:
    """`requests` POSTs of `body` to /assessments, one in flight per client; each must answer 201."""

    async def post(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/assessments", content=body, headers=JSON_HEADERS)

    return await drive(clients, requests, post, expected_status=201)


async def authorise(gateway: Gateway, token_client: httpx.AsyncClient, *groups: Sequence[httpx.AsyncClient]) -> None:
    """A fresh token of the gateway's admin client on every client (a token lives 15 minutes)."""
    issued = await token_client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=gateway.basic_auth
    )
    issued.raise_for_status()
    bearer = f"Bearer {issued.json()['access_token']}"
    for group in groups:
        for client in group:
            client.headers["Authorization"] = bearer


async def register_family(client: httpx.AsyncClient) -> str:
    registered = await client.post("/families", json=FAMILY)
    if registered.status_code != 201:
        raise RuntimeError(f"POST /families answered {registered.status_code}: {registered.text[:500]}")
    family_id: str = registered.json()["id"]
    return family_id


async def check_submitted(client: httpx.AsyncClient, body: bytes) -> None:
    """The sample is a complete answer: the service takes it as submitted."""
    created = await client.post("/assessments", content=body, headers=JSON_HEADERS)
    if created.status_code != 201 or created.json().get("status") != "submitted":
        raise RuntimeError(f"POST /assessments answered {created.status_code}: {created.text[:500]}")


async def measure_backend(
    backend: str,
    server_url: str | None,
    folder: Path,
    nats_url: str,
    gateway: Gateway,
    token_client: httpx.AsyncClient,
    baseline: Sequence[httpx.AsyncClient],
    answers: dict[str, Any],
    arguments: argparse.Namespace,
) -> tuple[dict[str, list[Load]], int]:
    """Each round's load on the service and on the baseline, and the size of the body posted."""
    loads: dict[str, list[Load]] = {app: [] for app in APPS}
    async with AsyncExitStack() as stack:
        service_url, _database_url = await serving_service(
            stack, "assessment", backend, server_url, folder, nats_url, gateway.url
        )
        clients = {"service": await http_clients(stack, service_url, arguments.concurrency), "baseline": baseline}
        await wait_healthy(clients["service"][0])
        await authorise(gateway, token_client, *clients.values())
        family_id = await register_family(clients["service"][0])
        body = json.dumps(submitted_assessment(family_id, answers)).encode()
        await check_submitted(clients["service"][0], body)
        for app in APPS:
            await drive_posts(clients[app], arguments.warmup, body)

        for round_number in range(arguments.rounds):
            await authorise(gateway, token_client, *clients.values())
            for app in APPS if round_number % 2 == 0 else APPS[::-1]:
                loads[app].append(await drive_posts(clients[app], arguments.requests, body))
    return loads, len(body)


def report(backend: str, loads: dict[str, list[Load]], body_bytes: int, arguments: argparse.Namespace) -> None:
    print(
        f"POST /assessments on {BACKEND_TITLES[backend]}: a submitted early-help-assessment v1 ({body_bytes:,}-byte "
        "body), straight to the assessment service and to a bare FastAPI endpoint"
    )
    print(
        f"(one uvicorn worker each; concurrency {arguments.concurrency}, after {arguments.warmup:,} warm-up requests "
        "each; the client runs in this process on the same cores)"
    )
    print_table(
        load_headers("app"),
        [
            load_row("assessment service", arguments.requests, loads["service"]),
            load_row("baseline: bare FastAPI", arguments.requests, loads["baseline"]),
        ],
    )
    ratios = [
        service.rate / baseline.rate for service, baseline in zip(loads["service"], loads["baseline"], strict=True)
    ]
    p99 = statistics.median(load.p99 for load in loads["service"])
    print(f"requests/s, service / baseline: {median_and_range(ratios)}")
    aims = (
        f"at least {TARGET_RATIO:g} of the baseline's rate: {verdict(statistics.median(ratios) >= TARGET_RATIO)}; "
        f"p99 under {TARGET_P99_MS:g} ms: {verdict(p99 < TARGET_P99_MS)}"
    )
    print(f"aims: {aims}" if backend == "postgresql" else f"aims (set for PostgreSQL, shown for comparison): {aims}")


async def main(backends: Sequence[tuple[str, str | None]], arguments: argparse.Namespace) -> None:
    answers = sample_answers()
    results: list[tuple[str, dict[str, list[Load]], int]] = []
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with AsyncExitStack() as stack:
            gateway_database = await stack.enter_async_context(scratch_database(folder, "gateway"))
            baseline_url = stack.enter_context(
                serving("bench.apps:create_bare_assessment_app", free_port(), {}, folder / "baseline.log")
            )
            gateway = stack.enter_context(running_gateway(folder, server.url, gateway_database, baseline_url))
            token_client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=30.0))
            baseline = await http_clients(stack, baseline_url, arguments.concurrency)
            await wait_healthy(token_client)
            await wait_healthy(baseline[0])
            for backend, server_url in backends:
                loads, body_bytes = await measure_backend(
                    backend, server_url, folder, server.url, gateway, token_client, baseline, answers, arguments
                )
                results.append((backend, loads, body_bytes))

    for number, (backend, loads, body_bytes) in enumerate(results):
        if number:
            print()
        report(backend, loads, body_bytes, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_databases_argument(parser)
    parser.add_argument(
        "--requests", type=int, default=2_000, help="requests timed per app and round (default: %(default)s)"
    )
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per app first (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on each app (default: %(default)s)")
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(chosen_backends(arguments.databases), arguments), arguments.loop)

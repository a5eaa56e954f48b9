"""Token issuance per second at the gateway, and what verifying a token costs each request.

Issuance: the real gateway, with a nats-server and a database of its own, and
the bare FastAPI app each run one uvicorn worker on a free 127.0.0.1 port and
answer `POST /oauth/token` (client credentials by HTTP Basic) from this
process at concurrency 8; the bare app reads the form and returns a static
answer of the same shape. The gateway's first request pays the argon2 check of
the client's secret and is timed on its own; later ones compare a remembered
SHA-256 of it (`gateway/credentials.py`). Verification: in this process, after
the servers have stopped, `TokenVerifier.verify` of an ES256 token next to
reading the same token's claims unchecked (base64 and `json.loads`), each
awaited in a loop. Rounds alternate, and the figures are the median and the
range over rounds.
"""

import argparse
import base64
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import httpx

from bench.common import (
    Load,
    add_loop_argument,
    drive,
    http_clients,
    load_headers,
    load_row,
    print_table,
    run,
    running_gateway,
    running_nats,
    scratch_database,
    scratch_folder,
    serving,
    wait_healthy,
)
from gateway.credentials import hash_secret, new_secret, verify_secret
from services.kit.auth import TokenVerifier
from services.kit.natsserver import free_port
from services.kit.settings import AuthSettings
from services.kit.testing import TokenMint

FORM = {"grant_type": "client_credentials"}
VERIFIED_SCOPES = "plans:read plans:write assessments:read"
SECRET_CHECKS = 5  # first checks of fresh secrets, each a fraction of a second
REMEMBERED_CHECKS = 10_000


def microseconds_row(name: str, calls: int, per_call: list[float]) -> list[object]:
    return [name, calls, len(per_call), statistics.median(per_call), min(per_call), max(per_call)]


async def issuance(requests: int, warmup: int, concurrency: int, rounds: int) -> tuple[float, list[Load], list[Load]]:
    """The gateway's first token request in ms, then each round's load on the gateway and on the bare app."""
    gateway_loads: list[Load] = []
    bare_loads: list[Load] = []
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with scratch_database(folder, "gateway") as database_url, AsyncExitStack() as stack:
            bare_url = stack.enter_context(serving("bench.apps:create_bare_app", free_port(), {}, folder / "bare.log"))
            gateway = stack.enter_context(running_gateway(folder, server.url, database_url, bare_url))
            clients = {
                "gateway": await http_clients(stack, gateway.url, concurrency),
                "bare": await http_clients(stack, bare_url, concurrency),
            }
            for group in clients.values():
                await wait_healthy(group[0])
                for client in group:
                    client.headers.update(gateway.basic_auth)

            async def token(client: httpx.AsyncClient) -> httpx.Response:
                return await client.post("/oauth/token", data=FORM)

            started = time.perf_counter()
            first = await token(clients["gateway"][0])
            first_ms = (time.perf_counter() - started) * 1000
            first.raise_for_status()
            for group in clients.values():
                await drive(group, warmup, token)
            for round_number in range(rounds):
                runs = [(clients["gateway"], gateway_loads), (clients["bare"], bare_loads)]
                for group, loads in runs if round_number % 2 == 0 else runs[::-1]:
                    loads.append(await drive(group, requests, token))
    return first_ms, gateway_loads, bare_loads


async def per_call_microseconds(call: Callable[[], Awaitable[object]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls * 1_000_000


async def verification(calls: int, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Each round's µs per `TokenVerifier.verify` of a token not seen before and of one
    remembered (a partner reuses its token until it expires), and per unchecked read of the claims."""
    mint = TokenMint()
    settings = AuthSettings(issuer=mint.issuer, audience=mint.audience)
    token = mint.token(VERIFIED_SCOPES)
    payload = token.split(".")[1]
    remembering = TokenVerifier(settings, mint)

    async def verify_again() -> object:
        return await remembering.verify(token)

    async def read_claims() -> object:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    fresh: list[float] = []
    remembered: list[float] = []
    read: list[float] = []
    for _ in range(rounds):
        unseen = iter([mint.token(VERIFIED_SCOPES) for _ in range(calls)])
        verifier = TokenVerifier(settings, mint)

        async def verify_fresh(verifier: TokenVerifier = verifier, unseen: Iterator[str] = unseen) -> object:
            return await verifier.verify(next(unseen))

        fresh.append(await per_call_microseconds(verify_fresh, calls))
        remembered.append(await per_call_microseconds(verify_again, calls))
        read.append(await per_call_microseconds(read_claims, calls))
    return fresh, remembered, read


def secret_checks() -> tuple[list[float], float]:
    """ms per first (argon2) check of a fresh client secret, and µs per later check (a remembered digest)."""
    first: list[float] = []
    for _ in range(SECRET_CHECKS):
        secret = new_secret()
        secret_hash = hash_secret(secret)
        started = time.perf_counter()
        if not verify_secret(secret_hash, secret):
            raise RuntimeError("a client secret did not match its own hash")
        first.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    for _ in range(REMEMBERED_CHECKS):
        verify_secret(secret_hash, secret)
    return first, (time.perf_counter() - started) / REMEMBERED_CHECKS * 1_000_000


async def main(requests: int, warmup: int, concurrency: int, rounds: int, verifications: int) -> None:
    first_ms, gateway_loads, bare_loads = await issuance(requests, warmup, concurrency, rounds)
    fresh, remembered, read = await verification(verifications, rounds)
    argon2_ms, remembered_us = secret_checks()

    print(f"POST /oauth/token, client credentials by HTTP Basic (one uvicorn worker each; concurrency {concurrency})")
    print_table(
        load_headers("app", "tokens/s"),
        [
            load_row("gateway: token issued", requests, gateway_loads),
            load_row("baseline: bare FastAPI, static answer", requests, bare_loads),
        ],
    )
    print(f"the gateway's first token request, with the argon2 check of the secret: {first_ms:.1f} ms")
    print(
        f"client secret check in this process: argon2 {statistics.median(argon2_ms):.1f} ms "
        f"(median of {SECRET_CHECKS}), then the remembered SHA-256 {remembered_us:.1f} µs"
    )
    print()
    print("Token verification in this process (ES256, joserfc), awaited in a loop")
    print_table(
        ["call", "calls", "rounds", "median µs", "min", "max"],
        [
            microseconds_row("TokenVerifier.verify, a token not seen before", verifications, fresh),
            microseconds_row("TokenVerifier.verify, a token it remembers", verifications, remembered),
            microseconds_row("baseline: claims read unchecked", verifications, read),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=2_000, help="token requests timed per app and round (default: %(default)s)"
    )
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests per app first (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement (default: %(default)s)")
    parser.add_argument(
        "--verifications", type=int, default=20_000, help="verifications timed per round (default: %(default)s)"
    )
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(
        main(arguments.requests, arguments.warmup, arguments.concurrency, arguments.rounds, arguments.verifications),
        arguments.loop,
    )

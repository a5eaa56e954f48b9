"""What every service and the gateway promise before any domain endpoint exists."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.kit.natsserver import NatsServer
from services.kit.settings import HttpSettings
from services.kit.testing import TokenMint
from tests.support.problems import assert_problem
from tests.support.stack import NAMES, MigratedDatabase, started

MAX_BODY = 4096


@pytest.fixture(params=sorted(NAMES))
async def service(
    request: pytest.FixtureRequest,
    nats_server: NatsServer,
    migrated_database: MigratedDatabase,
    tmp_path: Path,
    token_mint: TokenMint,
) -> AsyncIterator[httpx.AsyncClient]:
    name: str = request.param
    async with started(
        name,
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        transport="asgi",
        settings={name: {"http": HttpSettings(max_body_bytes=MAX_BODY)}},
    ) as stack:
        client = stack.clients[name]
        client.headers.update(token_mint.headers("admin"))
        yield client


async def test_malformed_json_is_a_400_problem(service: httpx.AsyncClient) -> None:
    response = await service.post(
        "/internal/dead-letters/replay", content=b'{"sequences": [1,', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


async def test_wrong_types_are_a_422_problem_with_json_pointers(service: httpx.AsyncClient) -> None:
    response = await service.post("/internal/dead-letters/replay", json={"sequences": ["one", 2]})
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"] == [
        {"detail": "Input should be a valid integer, unable to parse string as an integer", "pointer": "/sequences/0"}
    ]


async def test_wrong_content_type_is_a_415_problem(service: httpx.AsyncClient) -> None:
    response = await service.post(
        "/internal/dead-letters/replay", content=b"sequences=1", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_unknown_path_is_a_404_problem(service: httpx.AsyncClient) -> None:
    body = assert_problem(await service.get("/no/such/thing"), 404, "not-found")
    assert body["instance"] == "/no/such/thing"


async def test_wrong_method_is_a_405_problem(service: httpx.AsyncClient) -> None:
    assert_problem(await service.delete("/healthz"), 405, "method-not-allowed")


async def test_body_over_the_limit_is_a_413_problem(service: httpx.AsyncClient) -> None:
    oversized = b'{"sequences": [' + b"1," * MAX_BODY + b"1]}"
    declared = await service.post(
        "/internal/dead-letters/replay", content=oversized, headers={"content-type": "application/json"}
    )
    assert_problem(declared, 413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(oversized), 1024):
            yield oversized[start : start + 1024]

    streamed = await service.post(
        "/internal/dead-letters/replay", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "payload-too-large")


async def test_request_id_is_kept_or_made(service: httpx.AsyncClient) -> None:
    kept = await service.get("/healthz", headers={"X-Request-ID": "partner-req-42"})
    assert kept.headers["x-request-id"] == "partner-req-42"
    made = await service.get("/no/such/thing", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert made.json()["request_id"] == made.headers["x-request-id"]


async def test_healthz_answers_while_alive(service: httpx.AsyncClient) -> None:
    response = await service.get("/healthz")
    assert response.json() == {"status": "ok"}

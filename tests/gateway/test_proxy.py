"""The gateway routes public paths to their services and answers for them when they fail."""

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.config import CorsSettings, RateLimitSettings
from gateway.main import create_app
from services.kit.natsserver import NatsServer, free_port
from services.kit.testing import DatabaseFactory, TokenMint, running
from tests.support.gateway import Gateway, gateway_settings
from tests.support.stack import MigratedDatabase, started


async def test_a_request_reaches_its_service_with_the_headers_that_matter(
    gateway: Gateway, echo: tuple[str, FastAPI]
) -> None:
    headers = await gateway.bearer() | {
        "If-Match": '"v6"',
        "Idempotency-Key": "7f1c9a",
        "X-Request-ID": "mis-req-1",
        "Connection": "keep-alive",
    }
    response = await gateway.http.get("/plans/42", params={"include": "goals"}, headers=headers)
    assert response.status_code == 200
    seen = response.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/plans/42", "include=goals")
    assert seen["headers"]["if-match"] == '"v6"'
    assert seen["headers"]["idempotency-key"] == "7f1c9a"
    assert seen["headers"]["x-request-id"] == "mis-req-1"
    assert seen["headers"]["authorization"] == headers["Authorization"], "services verify the token themselves"
    assert response.headers["etag"] == '"v7"'
    assert response.headers["location"] == "/plans/42/1"
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-request-id"] == "mis-req-1"


async def test_a_large_body_streams_through(gateway: Gateway) -> None:
    body = b'{"answers": "' + b"x" * 600_000 + b'"}'
    response = await gateway.http.post(
        "/assessments", content=body, headers=await gateway.bearer() | {"Content-Type": "application/json"}
    )
    assert response.status_code == 201
    assert response.json()["body_length"] == len(body)


async def test_every_public_prefix_is_routed(gateway: Gateway) -> None:
    bearer = await gateway.bearer()
    paths = ["/forms", "/families/1", "/assessments/1/revisions", "/consents", "/access-decisions"]
    paths += ["/safeguarding-overrides", "/audit", "/plans/1/goals", "/reports/re-referrals", "/subscriptions/1"]
    for path in paths:
        response = await gateway.http.get(path, headers=bearer)
        assert (response.status_code, response.json()["path"]) == (200, path)


async def test_without_a_token_nothing_is_forwarded(gateway: Gateway, echo: tuple[str, FastAPI]) -> None:
    response = await gateway.http.get("/plans/42")
    assert response.status_code == 401
    assert echo[1].state.calls == []


async def test_a_slow_service_is_a_504_after_one_retry_of_a_read(gateway: Gateway, echo: tuple[str, FastAPI]) -> None:
    bearer = await gateway.bearer()
    started = time.monotonic()
    response = await gateway.http.get("/plans/slow", headers=bearer)
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The plan service did not answer in time."
    assert time.monotonic() - started < 4, "well before the service itself would answer"
    assert echo[1].state.calls == ["GET", "GET"]

    echo[1].state.calls.clear()
    write = await gateway.http.post("/plans/slow", json={}, headers=bearer)
    assert write.status_code == 504
    assert echo[1].state.calls == ["POST"], "a write is never sent twice"


async def test_a_service_that_is_down_is_a_502(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    port = free_port()
    nothing_there = f"http://127.0.0.1:{free_port()}"
    app = create_app(gateway_settings(nats_server.url, await database_factory("gw"), tmp_path, nothing_there, port))
    async with running(app, port) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        gateway = Gateway(url, app, http)
        response = await http.get("/consents", headers=await gateway.bearer())
        assert response.status_code == 502
        assert response.json()["type"] == "urn:graduated-pathway:problem:bad-gateway"
        assert response.json()["detail"] == "The consent service is not answering."


@pytest.fixture
async def strict_gateway(
    nats_server: NatsServer,
    migrated_database: MigratedDatabase,
    tmp_path: Path,
    token_mint: TokenMint,
    echo: tuple[str, FastAPI],
) -> AsyncIterator[Gateway]:
    strict = {
        "rate_limit": RateLimitSettings(per_second=0.5, burst=3),
        "cors": CorsSettings(allow_origins=["https://staff.example.gov.uk"]),
    }
    async with started(
        "gateway",
        nats=nats_server,
        database=migrated_database,
        data_dir=tmp_path,
        mint=token_mint,
        upstream_url=echo[0],
        settings={"gateway": strict},
    ) as stack:
        assert stack.gateway is not None
        yield stack.gateway


async def test_a_client_over_its_rate_gets_429_with_retry_after(strict_gateway: Gateway) -> None:
    bearer = await strict_gateway.bearer()  # the token request has a bucket of its own
    answers = [await strict_gateway.http.get("/plans/1", headers=bearer) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["retry-after"] == "2"
    assert answers[3].json()["type"] == "urn:graduated-pathway:problem:too-many-requests"


async def test_answers_carry_security_headers_and_cors_follows_settings(strict_gateway: Gateway) -> None:
    response = await strict_gateway.http.get("/.well-known/oauth-authorization-server")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")

    preflight = await strict_gateway.http.options(
        "/plans/1",
        headers={"Origin": "https://staff.example.gov.uk", "Access-Control-Request-Method": "PATCH"},
    )
    assert preflight.headers["access-control-allow-origin"] == "https://staff.example.gov.uk"
    stranger = await strict_gateway.http.options(
        "/plans/1", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"}
    )
    assert "access-control-allow-origin" not in stranger.headers

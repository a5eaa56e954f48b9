"""What every service and the gateway promise before any domain endpoint exists."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from services.assessment.config import AssessmentSettings
from services.assessment.main import create_app as create_assessment
from services.consent.config import ConsentSettings
from services.consent.main import create_app as create_consent
from services.kit.natsserver import NatsServer
from services.kit.settings import DatabaseSettings, HttpSettings, NatsSettings, ServiceSettings
from services.kit.testing import DatabaseFactory, TokenMint, serve
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as create_notifications
from services.plan.config import PlanSettings
from services.plan.main import create_app as create_plan
from tests.kit.conftest import eventually

PROBLEM = "application/problem+json"
MAX_BODY = 4096

SERVICES: dict[str, tuple[type[ServiceSettings], Callable[..., FastAPI]]] = {
    "assessment": (AssessmentSettings, create_assessment),
    "consent": (ConsentSettings, create_consent),
    "plan": (PlanSettings, create_plan),
    "notifications": (NotificationsSettings, create_notifications),
    "gateway": (GatewaySettings, create_gateway),
}


@pytest.fixture(params=sorted(SERVICES))
async def service(
    request: pytest.FixtureRequest,
    nats_server: NatsServer,
    database_factory: DatabaseFactory,
    tmp_path: Path,
    token_mint: TokenMint,
) -> AsyncIterator[httpx.AsyncClient]:
    settings_class, create_app = SERVICES[request.param]
    settings = settings_class(
        data_dir=tmp_path,
        database=DatabaseSettings(url=await database_factory(request.param)),
        nats=NatsSettings(url=nats_server.url),
        http=HttpSettings(max_body_bytes=MAX_BODY),
    )
    if isinstance(settings, NotificationsSettings):  # on PostgreSQL it keeps no key of its own
        settings.secrets_key = Fernet.generate_key().decode()
    app = create_app(settings)
    async with serve(app) as client:
        token_mint.trust(app)
        client.headers.update(token_mint.headers("admin"))
        await eventually(lambda: nats_connected(app))
        yield client


async def nats_connected(app: FastAPI) -> bool:
    return bool(app.state.broker.is_connected)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:graduated-pathway:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    return body


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

"""The notifications service beside the plan stack, with real webhook receivers on loopback ports.

A receiver is a real HTTP server that checks every signature with the
`standardwebhooks` package and parses every body with the `cloudevents`
package, as an integrator's would; it can be told to fail, to hang, or be
stopped and started again on the same port.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.formats.json import JSONFormat
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from services.kit.natsserver import free_port
from services.kit.settings import ConsumerSettings, DatabaseSettings, NatsSettings
from services.kit.testing import DatabaseFactory, TokenMint, running, token_endpoint
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as create_notifications_app
from tests.assessment.conftest import Organisation
from tests.assessment.test_identifiers import nhs_check_digit
from tests.kit.conftest import eventually
from tests.plan.conftest import PLATFORM_ORGANISATION, SERVICE_CLIENT, PlanStack, plan_stack  # noqa: F401 (a fixture)

MANAGES = "subscriptions:manage"


@dataclass
class Delivered:
    webhook_id: str
    event: dict[str, Any]  # the CloudEvent's attributes and data, as parsed
    headers: dict[str, str]


@dataclass
class Receiver:
    """An integrator's endpoint. `answer` is what it replies; `hang` makes it never reply in time."""

    port: int = field(default_factory=free_port)
    secrets: list[str] = field(default_factory=list)
    answer: int = 204
    hang: bool = False
    delay: float = 0.0  # seconds before each answer
    received: list[Delivered] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # as they came, beside `received`
    refused: list[str] = field(default_factory=list)  # what failed verification, and why
    hits: int = 0
    _stop: Callable[[], Any] | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        return [d.webhook_id for d in self.received]

    async def arrived(self, count: int, within: float = 15.0) -> None:
        """Wait until `count` different webhooks have been verified."""

        async def enough() -> bool:
            return len(set(self.ids())) >= count

        await eventually(enough, within)

    def of_type(self, event_type: str) -> list[Delivered]:
        return [d for d in self.received if d.event["type"] == event_type]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.hits += 1
            if self.hang:
                await self._released.wait()
            await asyncio.sleep(self.delay)
            if self.answer >= 300:
                return Response(status_code=self.answer, headers={"Location": "http://127.0.0.1:9/elsewhere"})
            body = await request.body()
            headers = dict(request.headers)
            if not headers.get("content-type", "").startswith("application/cloudevents+json"):
                self.refused.append(f"content type {headers.get('content-type')}")
                return Response(status_code=415)
            try:
                verified = [_verifies(secret, body, headers) for secret in self.secrets]
            except WebhookVerificationError as error:
                self.refused.append(str(error))
                return Response(status_code=400)
            if not any(verified):
                self.refused.append("no secret verifies the signature")
                return Response(status_code=400)
            event = JSONFormat().read(None, body)
            self.bodies.append(body)
            self.received.append(
                Delivered(headers["webhook-id"], {**event.get_attributes(), "data": event.get_data()}, headers)
            )
            assert headers["webhook-id"] == event.get_id()
            return Response(status_code=204)

        return app

    async def start(self) -> None:
        self._released = asyncio.Event()
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(running(self.app(), self.port))
        self._stop = stack.aclose

    async def stop(self) -> None:
        self._released.set()  # a hanging request ends, or the server would wait for it
        if self._stop is not None:
            await self._stop()
            self._stop = None


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError as error:
        if str(error) != "No matching signature found":
            raise
        return False
    return True


@dataclass
class NotificationsStack:
    plans: PlanStack
    app: FastAPI
    client: httpx.AsyncClient
    receivers: list[Receiver] = field(default_factory=list)

    def organisation(self, org_id: str, org_type: str = "council", scopes: str = MANAGES) -> Organisation:
        return self.plans.organisation(org_id, org_type, scopes)

    async def receiver(self, **options: Any) -> Receiver:
        receiver = Receiver(**options)
        await receiver.start()
        self.receivers.append(receiver)
        return receiver

    async def subscribe(
        self, owner: Organisation, receiver: Receiver, event_types: list[str], **more: Any
    ) -> dict[str, Any]:
        body = {"url": receiver.url, "event_types": event_types, **more}
        response = await self.client.post("/subscriptions", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        subscription: dict[str, Any] = response.json()
        receiver.secrets.append(subscription["secret"])
        return subscription

    async def deliveries(self, owner: Organisation, subscription_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/subscriptions/{subscription_id}/deliveries", params={"limit": 500}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def attempts(self, owner: Organisation, subscription_id: str, count: int) -> list[dict[str, Any]]:
        """The delivery log once it holds `count` attempts: an outcome is written just after the receiver answers."""
        found: list[dict[str, Any]] = []

        async def written() -> bool:
            found[:] = await self.deliveries(owner, subscription_id)
            return len(found) >= count

        await eventually(written)
        return found


def nhs_numbers(count: int, start: int = 943476000) -> list[str]:
    """`count` valid NHS numbers, one per family."""
    numbers: list[str] = []
    stem = start
    while len(numbers) < count:
        check = nhs_check_digit(str(stem))
        if check != 10:
            numbers.append(f"{stem}{check}")
        stem += 1
    return numbers


def notifications_settings(
    nats_url: str, database_url: str, data_dir: Path, consent_url: str, plan_url: str, token_url: str, **overrides: Any
) -> NotificationsSettings:
    settings = NotificationsSettings(
        data_dir=data_dir,
        database=DatabaseSettings(url=database_url),
        nats=NatsSettings(url=nats_url, reconnect_wait_seconds=0.1),
        consumer=ConsumerSettings(max_attempts=3, retry_delay_seconds=0.05),
        access_decisions_url=consent_url,
        plan_url=plan_url,
        service_client=SERVICE_CLIENT.model_copy(update={"token_url": token_url}),
        secrets_key=Fernet.generate_key().decode(),
        retry_delays_seconds=[0.2, 0.4, 0.8],
        delivery_timeout_seconds=2.0,
        poll_seconds=0.1,
    )
    return settings.model_copy(update=overrides)


@pytest.fixture
def notifications_options() -> dict[str, Any]:
    """Settings a test module overrides."""
    return {}


@pytest.fixture
async def notifications(
    plan_stack: PlanStack,  # noqa: F811 (the fixture imported above)
    database_factory: DatabaseFactory,
    tmp_path: Path,
    token_mint: TokenMint,
    notifications_options: dict[str, Any],
) -> AsyncIterator[NotificationsStack]:
    async with running(token_endpoint(token_mint, PLATFORM_ORGANISATION, SERVICE_CLIENT.id)) as issuer_url:
        settings = notifications_settings(
            plan_stack.nats.url,
            await database_factory("notifications"),
            tmp_path,
            str(plan_stack.consent.base_url).rstrip("/"),
            str(plan_stack.plans.base_url).rstrip("/"),
            f"{issuer_url}/oauth/token",
            **notifications_options,
        )
        app = create_notifications_app(settings)
        async with running(app) as url, httpx.AsyncClient(base_url=url) as client:
            token_mint.trust(app)
            await eventually(lambda: _connected(app))
            stack = NotificationsStack(plan_stack, app, client)
            try:
                yield stack
            finally:
                for receiver in stack.receivers:
                    await receiver.stop()


async def _connected(app: FastAPI) -> bool:
    return bool(app.state.broker.is_connected)

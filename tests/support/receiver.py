"""An integrator's webhook endpoint: a real HTTP server on a loopback port.

It checks every signature with the `standardwebhooks` package and parses every
body with the `cloudevents` package, as an integrator's would; it can be told
to fail, to hang, or be stopped and started again on the same port.
"""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from services.kit.natsserver import free_port
from services.kit.testing import running
from tests.support.waiting import eventually


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

"""The integrator's end of a webhook, in a uvicorn of its own, and the benchmark's copy of what it verified.

The receiver verifies each signature with `standardwebhooks.Webhook(secret).verify`,
reads the body as a CloudEvent with the `cloudevents` package, notes
`time.perf_counter()` against the `webhook-id` and answers 204. It is a process of
its own so that its work is not done on, nor delayed by, the event loop of the
script that makes the load. `perf_counter` is `CLOCK_MONOTONIC` on Linux, one clock
for every process on the machine, so its times and the script's compare.
"""

import asyncio
import os
import time
from collections.abc import Collection

import httpx
from cloudevents.core.formats.json import JSONFormat
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

POLL_SECONDS = 0.2
RECEIVER_SECRET_ENV = "BENCH_WEBHOOK_SECRET"  # noqa: S105 (the name of a variable, not a secret)


class Receiver:
    """The integrator's end: verifies each webhook, reads its CloudEvent, answers 204 and notes when."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.format = JSONFormat()
        self.arrived: list[tuple[str, float]] = []
        self.seen: set[str] = set()
        self.refused = 0
        self.copies = 0

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            self.webhook.verify(body, dict(request.headers), json_parse=False)
            event = self.format.read(None, body)
        except Exception:  # noqa: BLE001 (a bad signature or an unreadable event are both refusals)
            self.refused += 1
            return Response(status_code=400)
        verified = time.perf_counter()
        webhook_id = request.headers["webhook-id"]
        if event.get_id() != webhook_id:
            self.refused += 1
            return Response(status_code=400)
        if webhook_id in self.seen:  # delivery is at least once: a copy is told by its webhook-id
            self.copies += 1
        else:
            self.seen.add(webhook_id)
            self.arrived.append((webhook_id, verified))
        return Response(status_code=204)

    async def arrivals(self, request: Request) -> JSONResponse:
        """Webhook ids and when they were verified, from the `since`-th on, with the refusals and copies so far."""
        since = int(request.query_params.get("since", "0"))
        return JSONResponse({"arrived": self.arrived[since:], "refused": self.refused, "copies": self.copies})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_receiver_app() -> Starlette:
    """For `uvicorn --factory`: the receiver, verifying with the secret in `BENCH_WEBHOOK_SECRET`."""
    receiver = Receiver(os.environ[RECEIVER_SECRET_ENV])
    return Starlette(
        routes=[
            Route("/webhooks", receiver.receive, methods=["POST"]),
            Route("/arrivals", receiver.arrivals),
            Route("/healthz", healthz),
        ]
    )


class Receipts:
    """This script's copy of what the receiver has verified: when each webhook id first arrived."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.at: dict[str, float] = {}
        self.refused = 0
        self.copies = 0
        self._fetched = 0

    async def collect(self) -> None:
        response = await self.client.get("/arrivals", params={"since": self._fetched})
        response.raise_for_status()
        answer = response.json()
        for webhook_id, verified in answer["arrived"]:
            self.at[webhook_id] = verified
        self._fetched += len(answer["arrived"])
        self.refused, self.copies = answer["refused"], answer["copies"]

    async def wait_for(self, webhook_ids: Collection[str], deadline: float) -> None:
        """Until every one of `webhook_ids` has been verified, or `deadline` (a `perf_counter` time) passes."""
        while True:
            await self.collect()
            if all(webhook_id in self.at for webhook_id in webhook_ids) or time.perf_counter() > deadline:
                return
            await asyncio.sleep(POLL_SECONDS)

"""Prometheus metrics at `/metrics`, for the cluster's scraper.

Each app keeps its own registry (`app.state.metrics`), so that apps started
together in one process (the tests' stacks) each report their own. Labels are
bounded and name no one: a route template (never the raw path, which holds
ids), a status class, a consumer's durable name, an outcome. `/metrics` needs
no token: it is answered on the process's own port, which only the cluster
reaches; the gateway routes no service's `/metrics` from outside.

Code that has no handle on its app (the access gate in `services.access`)
counts through `current_metrics()`, set for each request and each event handled.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware

UNMATCHED_ROUTE = "unmatched"  # a path no route answers: its raw form would make a label per caller's typo
# A method outside these is counted as "other": a caller may send any token as a method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The instruments of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "pathway_http_request_duration_seconds",
            "HTTP requests answered, by route template and status class, and how long each took.",
            ["method", "route", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_errors = Counter(
            "pathway_http_request_errors",
            "HTTP requests answered with a 5xx status (a fault of ours or of a part we depend on).",
            ["method", "route"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "pathway_outbox_backlog",
            "Events committed to the outbox and not yet acknowledged by JetStream, as last seen by the relay.",
            registry=self.registry,
        )
        self.events_published = Counter(
            "pathway_events_published", "Events the outbox relay published to JetStream.", registry=self.registry
        )
        self.events_consumed = Counter(
            "pathway_events_consumed",
            "Events a durable consumer took, by outcome: applied, duplicate, retried or dead_lettered.",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.consumer_pending = Gauge(
            "pathway_consumer_pending",
            "Messages waiting in the stream for a durable consumer (its lag), as of its last fetch.",
            ["consumer"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "pathway_dead_letters",
            "Events set aside on the dead-letter subject after their handler kept failing.",
            ["consumer"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "pathway_webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered, failed (tried again later), withheld, dead (given up).",
            ["outcome"],
            registry=self.registry,
        )
        self.access_decisions = Counter(
            "pathway_access_decisions",
            "Reads and changes of records let through or refused at the access gate, by outcome and basis.",
            ["outcome", "basis"],
            registry=self.registry,
        )


_current: ContextVar[Metrics | None] = ContextVar("metrics", default=None)


def current_metrics() -> Metrics | None:
    """The metrics of the app whose request or event is being handled, if any."""
    return _current.get()


@contextmanager
def metrics_scope(metrics: Metrics) -> Iterator[None]:
    token = _current.set(metrics)
    try:
        yield
    finally:
        _current.reset(token)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/notes/{note_id}`), set on the scope by the router."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware(HttpMiddleware):
    """Times each request and counts it by route template and status class."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        super().__init__(app)
        self.metrics = metrics
        # The labelled histogram of each (method, route, status class), found once: prometheus-client's
        # own look-up takes a lock and costs several times the observation itself.
        self._timers: dict[tuple[str, str, str], Histogram] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = _current.set(self.metrics)
        try:
            await self.app(scope, receive, recording_send)
        finally:
            _current.reset(token)
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_template(scope)
            key = (method, route, status_class(status))
            timer = self._timers.get(key)
            if timer is None:
                timer = self._timers[key] = self.metrics.request_seconds.labels(*key)
            timer.observe(time.perf_counter() - started)
            if status >= 500:
                self.metrics.request_errors.labels(method, route).inc()


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """This process's counters in Prometheus's text format, for the cluster's scraper."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

"""Builds a service's FastAPI app: middleware, problems, health, and a lifespan
that owns the database, the NATS connection, the outbox relay and the consumers.
"""

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI

from services.kit import health, metrics
from services.kit.auth import JwksCache, KeySource, TokenVerifier
from services.kit.db import Database
from services.kit.events import deadletters
from services.kit.events.broker import Broker
from services.kit.events.consumer import ConsumerSpec, DurableConsumer
from services.kit.events.outbox import OutboxRelay
from services.kit.guards import JSON_MEDIA_TYPES, BodyGuardMiddleware
from services.kit.health import ReadinessCheck
from services.kit.logs import AccessLogMiddleware, configure_logging
from services.kit.metrics import Metrics, MetricsMiddleware
from services.kit.migrations import upgrade_database
from services.kit.openapi import declare_problems, install_problem_schema
from services.kit.problems import UnhandledErrorMiddleware, install_problem_handlers
from services.kit.requestid import RequestIdMiddleware, propagate_request_id
from services.kit.revocation import RevocationListener, Revocations
from services.kit.settings import ServiceSettings
from services.kit.tracing import Tracing, TracingMiddleware, propagate_trace_context

# Work of the service's own to start after the kit's and stop before it.
ExtraLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _nothing(_app: FastAPI) -> AsyncIterator[None]:
    yield


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    consumers: Sequence[ConsumerSpec] = (),
    readiness_checks: dict[str, ReadinessCheck] | None = None,
    migrations_dirs: Sequence[Path] = (),
    accepted_media_types: Collection[str] = JSON_MEDIA_TYPES,
    lifespan: ExtraLifespan = _nothing,
    token_keys: KeySource | None = None,
    serve_openapi: bool = True,
    trust_trace_context: bool = True,
) -> FastAPI:
    """The app of one service.

    Everything that holds a connection is made in the lifespan and kept on
    `app.state`: `database`, `http`, `verifier`, `broker`, `relay`, `consumers`,
    `revocations`. Tokens are verified against the issuer's JWKS unless
    `token_keys` says otherwise, and refused once their credentials are revoked.
    `metrics` and `tracing` are made with the app; `trust_trace_context` continues
    a caller's trace (the gateway, facing the outside, starts its own).
    """
    app_metrics = Metrics()
    tracing = Tracing(settings.tracing, settings.name)

    @asynccontextmanager
    async def kit_lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.name, settings.log_level)
        tracing.start()
        database = Database(settings.database)
        await upgrade_database(database, migrations_dirs)
        # One client for the app's life: its connection pool is what makes calls between services cheap.
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http.client_timeout_seconds, connect=settings.http.connect_timeout_seconds),
            event_hooks={"request": [propagate_request_id, propagate_trace_context]},
        )
        app.state.http = http
        revocations = Revocations(settings.auth.revocations_kept_seconds)
        app.state.revocations = revocations
        app.state.verifier = TokenVerifier(settings.auth, token_keys or JwksCache(settings.auth, http), revocations)
        broker = Broker(settings.nats, settings.name)
        revocation_listener = RevocationListener(broker, revocations)
        relay = OutboxRelay(database, broker, settings.outbox, metrics=app_metrics, tracing=tracing)
        running = {
            spec.name: DurableConsumer(spec, database, broker, settings.consumer, metrics=app_metrics, tracing=tracing)
            for spec in consumers
        }
        app.state.database, app.state.broker, app.state.relay = database, broker, relay
        app.state.consumers = running
        broker.start()
        relay.start()
        revocation_listener.start()
        try:
            # Consumers start once the service's own start-up is done, since their handlers may need it.
            async with lifespan(app):
                for consumer in running.values():
                    consumer.start()
                try:
                    yield
                finally:
                    for consumer in running.values():
                        await consumer.stop()
        finally:
            await revocation_listener.stop()
            await relay.stop()
            await broker.close()
            await http.aclose()
            await database.dispose()
            tracing.shutdown()

    app = FastAPI(
        title=title,
        lifespan=kit_lifespan,
        openapi_url="/openapi.json" if serve_openapi else None,
        docs_url="/docs" if serve_openapi else None,
        redoc_url=None,
    )
    app.state.readiness_checks = dict(readiness_checks or {})
    app.state.metrics, app.state.tracing = app_metrics, tracing
    install_problem_handlers(app)
    # Added innermost first: the request id is set before anything logs.
    app.add_middleware(
        BodyGuardMiddleware,
        max_body_bytes=settings.http.max_body_bytes,
        accepted_media_types=accepted_media_types,
        max_json_depth=settings.http.max_json_depth,
    )
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app_metrics)
    app.add_middleware(TracingMiddleware, tracing=tracing, trust_incoming=trust_trace_context)
    app.add_middleware(RequestIdMiddleware)
    for router in (health.router, metrics.router, deadletters.router, *routers):
        declare_problems(router)
        app.include_router(router)
    install_problem_schema(app)
    return app

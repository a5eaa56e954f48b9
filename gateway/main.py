"""Entry point: `uvicorn --factory gateway.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway import oauth, openapi, proxy, routes, service
from gateway.config import GatewaySettings
from gateway.credentials import HashingPool
from gateway.frontend import (
    access_pages,
    assessment_pages,
    dashboard_pages,
    front_door_pages,
    home_pages,
    pages,
    plan_pages,
    referral_pages,
    site,
)
from gateway.headers import SecurityHeadersMiddleware
from gateway.keys import SigningKeys
from gateway.openapi import MergedOpenApi
from gateway.ratelimit import RateLimiter
from services.access.projection import MIGRATIONS as ACCESS_MIGRATIONS
from services.kit.app import create_service_app
from services.kit.auth import TokenVerifier
from services.kit.db import Database
from services.kit.guards import JSON_MEDIA_TYPES
from services.kit.health import ReadinessCheck

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"  # the OAuth token request


def upstream_alive(base_url: str) -> ReadinessCheck:
    async def check(app: FastAPI) -> bool:
        client: httpx.AsyncClient = app.state.http
        try:
            response = await client.get(f"{base_url}/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return check


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def identity(app: FastAPI) -> AsyncIterator[None]:
        database: Database = app.state.database
        keys = SigningKeys(
            database, settings.identity, settings.auth.leeway_seconds, settings.auth.jwks_min_refresh_seconds
        )
        app.state.settings = settings
        app.state.signing_keys = keys
        # The gateway verifies its own tokens against its key ring, not over HTTP.
        app.state.verifier = TokenVerifier(settings.auth, keys, app.state.revocations)
        app.state.rate_limiter = RateLimiter(settings.rate_limit.per_second, settings.rate_limit.burst)
        hashing = settings.hashing
        app.state.hashing = HashingPool(hashing.workers, hashing.waiting, hashing.wait_seconds)
        app.state.openapi = MergedOpenApi(app, settings)
        clients = settings.identity
        async with database.sessionmaker() as session, session.begin():
            if clients.bootstrap_client_id and clients.bootstrap_client_secret:
                await service.ensure_bootstrap_client(
                    session, clients.bootstrap_client_id, clients.bootstrap_client_secret
                )
            if clients.service_client_id and clients.service_client_secret:
                await service.ensure_service_client(session, clients.service_client_id, clients.service_client_secret)
        await keys.start()
        app.state.upstream = proxy.upstream_session(settings.http)
        try:
            yield
        finally:
            await app.state.upstream.close()
            await keys.stop()
            app.state.hashing.close()

    app = create_service_app(
        settings,
        title="Graduated Pathway",
        # The proxy first: most requests are proxied, and routes are matched in order.
        routers=[
            proxy.router,
            oauth.router,
            routes.router,
            openapi.router,
            pages.router,
            assessment_pages.router,
            plan_pages.router,
            home_pages.router,
            front_door_pages.router,
            access_pages.router,
            referral_pages.router,
            dashboard_pages.router,
        ],
        # The gateway's databases were made when the access copy's tables were the kit's, and keep their history.
        migrations_dirs=[ACCESS_MIGRATIONS, MIGRATIONS],
        accepted_media_types=JSON_MEDIA_TYPES | {FORM_MEDIA_TYPE},
        lifespan=identity,
        readiness_checks={name: upstream_alive(url) for name, url in settings.upstream.by_name().items()},
        serve_openapi=False,
        # Callers from outside do not choose the trace their request joins.
        trust_trace_context=False,
    )
    site.install(app, settings.front_end)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors.allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors.allow_origins,
            allow_methods=proxy.METHODS,
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID"],
        )
    return app

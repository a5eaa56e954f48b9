import base64
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from gateway.config import FrontEndSettings, GatewaySettings, IdentitySettings, RateLimitSettings, UpstreamSettings
from gateway.main import create_app
from services.assessment.config import AssessmentSettings
from services.assessment.main import create_app as create_assessment
from services.consent.config import ConsentSettings
from services.consent.main import create_app as create_consent
from services.kit.natsserver import NatsServer, free_port
from services.kit.settings import (
    AuthSettings,
    DatabaseSettings,
    HttpSettings,
    NatsSettings,
    ServiceClientSettings,
    ServiceSettings,
)
from services.kit.testing import DatabaseFactory, running
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as create_notifications
from services.plan.config import PlanSettings
from services.plan.main import create_app as create_plan
from tests.gateway.upstream import create_echo_app

# In the order they start: the others ask the consent service about access, and notifications ask the plan service.
SERVICES: dict[str, tuple[type[ServiceSettings], Callable[[Any], FastAPI]]] = {
    "consent": (ConsentSettings, create_consent),
    "assessment": (AssessmentSettings, create_assessment),
    "plan": (PlanSettings, create_plan),
    "notifications": (NotificationsSettings, create_notifications),
}

BOOTSTRAP_ID = "pw_bootstrap"
BOOTSTRAP_SECRET = "bootstrap-secret-for-tests-only-0123456789"
SERVICE_CLIENT_ID = "pw_services_test"
SERVICE_CLIENT_SECRET = "services-secret-for-tests-only-0123456789"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@dataclass
class Gateway:
    url: str
    app: FastAPI
    http: httpx.AsyncClient

    async def token(self, client_id: str = BOOTSTRAP_ID, secret: str = BOOTSTRAP_SECRET, scope: str = "") -> str:
        form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        response = await self.http.post("/oauth/token", data=form, headers=basic(client_id, secret))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def bearer(self, **kwargs: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(**kwargs)}"}


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, FastAPI]]:
    app = create_echo_app()
    async with running(app) as url:
        yield url, app


def gateway_settings(nats_url: str, database_url: str, data_dir: Path, upstream_url: str, port: int) -> GatewaySettings:
    return GatewaySettings(
        data_dir=data_dir,
        database=DatabaseSettings(url=database_url),
        nats=NatsSettings(url=nats_url),
        auth=AuthSettings(issuer=f"http://127.0.0.1:{port}", jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json"),
        identity=IdentitySettings(bootstrap_client_id=BOOTSTRAP_ID, bootstrap_client_secret=BOOTSTRAP_SECRET),
        upstream=UpstreamSettings(
            assessment_url=upstream_url, consent_url=upstream_url, plan_url=upstream_url, notifications_url=upstream_url
        ),
        http=HttpSettings(client_timeout_seconds=1.0, connect_timeout_seconds=0.5),
        rate_limit=RateLimitSettings(per_second=1000, burst=1000),
        front_end=FrontEndSettings(secure_cookies=False),  # the tests reach it over plain HTTP
    )


@pytest.fixture
async def gateway(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path, echo: tuple[str, FastAPI]
) -> AsyncIterator[Gateway]:
    port = free_port()
    settings = gateway_settings(nats_server.url, await database_factory("gateway"), tmp_path, echo[0], port=port)
    app = create_app(settings)
    async with running(app, port) as url, httpx.AsyncClient(base_url=url) as http:
        yield Gateway(url, app, http)


@dataclass
class Stack:
    gateway: Gateway
    services: dict[str, FastAPI]


@pytest.fixture
async def stack(nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path) -> AsyncIterator[Stack]:
    """Every service and the gateway, each on its own port, as `make up` runs them."""
    gateway_port = free_port()
    auth = AuthSettings(
        issuer=f"http://127.0.0.1:{gateway_port}", jwks_url=f"http://127.0.0.1:{gateway_port}/.well-known/jwks.json"
    )
    services: dict[str, FastAPI] = {}
    urls: dict[str, str] = {}
    async with AsyncExitStack() as running_services:
        as_itself = ServiceClientSettings(
            id=SERVICE_CLIENT_ID, secret=SERVICE_CLIENT_SECRET, token_url=f"http://127.0.0.1:{gateway_port}/oauth/token"
        )
        for name, (settings_class, create) in SERVICES.items():
            service_settings = settings_class(
                data_dir=tmp_path,
                database=DatabaseSettings(url=await database_factory(name)),
                nats=NatsSettings(url=nats_server.url),
                auth=auth,
                service_client=as_itself,
            )
            if name != "consent":
                service_settings.access_decisions_url = urls["consent"]
            if isinstance(service_settings, PlanSettings):
                service_settings.assessment_url = urls["assessment"]
            if isinstance(service_settings, NotificationsSettings):  # on PostgreSQL it keeps no key of its own
                service_settings.secrets_key = Fernet.generate_key().decode()
                service_settings.plan_url = urls["plan"]
            services[name] = create(service_settings)
            urls[name] = await running_services.enter_async_context(running(services[name]))
        settings = gateway_settings(nats_server.url, await database_factory("gateway"), tmp_path, "", gateway_port)
        settings.identity.service_client_id, settings.identity.service_client_secret = as_itself.id, as_itself.secret
        settings.upstream = UpstreamSettings(
            assessment_url=urls["assessment"],
            consent_url=urls["consent"],
            plan_url=urls["plan"],
            notifications_url=urls["notifications"],
        )
        app = create_app(settings)
        async with running(app, gateway_port) as url, httpx.AsyncClient(base_url=url) as http:
            yield Stack(Gateway(url, app, http), services)

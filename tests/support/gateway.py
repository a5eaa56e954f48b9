"""The gateway as a partner system meets it: its settings for tests, and a client that gets tokens."""

import base64
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from gateway.config import (
    FrontEndSettings,
    GatewaySettings,
    HashingSettings,
    IdentitySettings,
    RateLimitSettings,
    UpstreamSettings,
)
from services.kit.settings import AuthSettings, DatabaseSettings, HttpSettings, NatsSettings

BOOTSTRAP_ID = "pw_bootstrap"
BOOTSTRAP_SECRET = "bootstrap-secret-for-tests-only-0123456789"
SERVICE_CLIENT_ID = "pw_services_test"
SERVICE_CLIENT_SECRET = "services-secret-for-tests-only-0123456789"
COUNCIL_NAME = "Testshire Council"
BRAND_COLOUR = "#00703c"


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
        # Argon2 checks wait their turn rather than being turned away: on a loaded machine each takes seconds.
        hashing=HashingSettings(waiting=1000, wait_seconds=60),
        # The tests reach it over plain HTTP; the council is one of the tests' own, so that its pages show settings.
        front_end=FrontEndSettings(
            secure_cookies=False,
            council_name=COUNCIL_NAME,
            brand_colour=BRAND_COLOUR,
            footer_links={"Privacy": "https://testshire.example/privacy"},
        ),
    )


@dataclass
class GatewayStack:
    """Every service and the gateway in front of them."""

    gateway: Gateway
    services: dict[str, FastAPI]

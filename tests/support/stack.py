"""One builder for every stack the tests run: any set of services, and the gateway, by name.

`started("consent", "assessment", ...)` makes each service's settings from one
place (a database copied from a migrated template, the session's NATS, quick
retries), starts the services in the order their calls need, and
points each at the others it calls. Without the gateway, services trust a
`TokenMint` and act as themselves with tokens from a small token endpoint; with
it, the gateway is the issuer for them all, as in `make up`.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI

from deploy.nats_users import Credentials
from gateway.config import UpstreamSettings
from gateway.main import create_app as create_gateway
from services.access.config import AccessSettings
from services.assessment.config import AssessmentSettings
from services.assessment.main import create_app as create_assessment
from services.consent.config import ConsentSettings
from services.consent.main import create_app as create_consent
from services.consent.signing import EMBEDDED_KEY_FILE, ensure_key_file
from services.kit.natsserver import NatsServer, free_port
from services.kit.settings import (
    AuthSettings,
    ConsumerSettings,
    DatabaseSettings,
    HttpSettings,
    NatsSettings,
    ServiceClientSettings,
    ServiceSettings,
)
from services.kit.testing import PATIENT, LoopbackServers, TokenMint, loopback_client, serve, token_endpoint
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as create_notifications
from services.plan.config import PlanSettings
from services.plan.main import create_app as create_plan
from tests.support.gateway import SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, Gateway, gateway_settings
from tests.support.waiting import connected, eventually

# In the order they start: the others ask the consent service about access, and notifications ask the plan service.
SERVICES: dict[str, tuple[type[ServiceSettings], Callable[[Any], FastAPI]]] = {
    "consent": (ConsentSettings, create_consent),
    "assessment": (AssessmentSettings, create_assessment),
    "plan": (PlanSettings, create_plan),
    "notifications": (NotificationsSettings, create_notifications),
}
NAMES = (*SERVICES, "gateway")

# Services tested without the gateway act as themselves with tokens from `token_endpoint`.
SERVICE_CLIENT = ServiceClientSettings(id="service-test", secret="service-test-secret")
PLATFORM_ORGANISATION = "org-platform"

MigratedDatabase = Callable[[str], Awaitable[str]]


@dataclass
class Started:
    """The running apps of one stack, by name, with their addresses and a client for each."""

    nats: NatsServer
    mint: TokenMint
    apps: dict[str, FastAPI] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    gateway: Gateway | None = None


def service_settings(
    name: str, nats_url: str, database_url: str, data_dir: Path, overrides: Mapping[str, Any] | None = None
) -> ServiceSettings:
    """A service's settings for tests: its own database, quick retries, and `overrides` on top."""
    settings_class, _ = SERVICES[name]
    fields: dict[str, Any] = {
        "data_dir": data_dir,
        "database": DatabaseSettings(url=database_url),
        "nats": NatsSettings(url=nats_url, reconnect_wait_seconds=0.1),
        "consumer": ConsumerSettings(max_attempts=3, retry_delay_seconds=0.05),
        # The services of a test stack share one event loop, on a machine other test workers load: a call between
        # them (its service token's Argon2 check included) may wait longer than production's 10 s for its turn.
        # A test that means a time limit asserts it itself, as `PATIENT` says for the tests' own clients.
        "http": HttpSettings(client_timeout_seconds=PATIENT.read or 30.0, connect_timeout_seconds=10.0),
    }
    if name == "notifications":  # on PostgreSQL it keeps no key of its own
        fields["secrets_key"] = Fernet.generate_key().decode()
    if name == "consent":  # likewise the key that signs the access log's checkpoints
        fields["audit_signing_key_file"] = ensure_key_file(data_dir / EMBEDDED_KEY_FILE)
    return settings_class(**fields).model_copy(update=dict(overrides or {}))


def signed_in(nats_users: Credentials, user: str, url: str) -> NatsSettings:
    return nats_users.nats_settings(user, url).model_copy(update={"reconnect_wait_seconds": 0.1})


@contextlib.asynccontextmanager
async def started(
    *names: str,
    nats: NatsServer,
    database: MigratedDatabase,
    data_dir: Path,
    mint: TokenMint,
    transport: Literal["http", "asgi"] = "http",
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    upstream_url: str = "",
    nats_users: Credentials | None = None,
) -> AsyncIterator[Started]:
    """Start the named services (and `gateway`), each wired to the others named.

    `transport="asgi"` runs one app in this process without a port (it calls no
    other service, and trusts the mint's tokens, the gateway too); `"http"` serves
    each on a loopback port, as in production.
    `settings` overrides fields of a service's settings, by service name.
    `upstream_url` stands in for every service the gateway routes to that is not named.
    `nats_users` signs each process in to `nats` as its own user, as `make up` does.
    """
    unknown = set(names) - set(NAMES)
    assert not unknown, f"no such service: {unknown}"
    assert transport == "http" or len(names) == 1, "only one app runs without a port"
    overrides = settings or {}
    stack = Started(nats, mint)
    with_gateway = "gateway" in names
    servers = LoopbackServers()
    async with contextlib.AsyncExitStack() as exits:
        # Exits run last to first: the clients close, then every server stops at once.
        exits.push_async_callback(servers.stop)
        gateway_port = free_port()
        if with_gateway:  # the issuer of every token, and the services' own client, as in `make up`
            issuer = f"http://127.0.0.1:{gateway_port}"
            auth: AuthSettings | None = AuthSettings(issuer=issuer, jwks_url=f"{issuer}/.well-known/jwks.json")
            as_itself = ServiceClientSettings(
                id=SERVICE_CLIENT_ID, secret=SERVICE_CLIENT_SECRET, token_url=f"{issuer}/oauth/token"
            )
        else:
            auth = None
            issuer_url = ""
            if transport == "http":
                endpoint = token_endpoint(mint, PLATFORM_ORGANISATION, SERVICE_CLIENT.id)
                issuer_url = await servers.start(endpoint)
            as_itself = SERVICE_CLIENT.model_copy(update={"token_url": f"{issuer_url}/oauth/token"})

        # Each service's port is chosen before any starts: the consent and assessment services call each other.
        ports = {name: free_port() for name in SERVICES if name in names and transport == "http"}
        planned = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for name in (name for name in SERVICES if name in names):
            wiring: dict[str, Any] = {"service_client": as_itself}
            if nats_users is not None:
                wiring["nats"] = signed_in(nats_users, name, nats.url)
            if auth is not None:
                wiring["auth"] = auth
            if "consent" in planned and name != "consent":
                wiring["access_decisions_url"] = planned["consent"]
            if name in ("plan", "consent") and "assessment" in planned:
                wiring["assessment_url"] = planned["assessment"]
            if name == "notifications" and "plan" in stack.urls:
                wiring["plan_url"] = stack.urls["plan"]
            service = service_settings(
                name, nats.url, await database(name), data_dir, {**wiring, **overrides.get(name, {})}
            )
            assert "access_decisions_url" not in wiring or isinstance(service, AccessSettings)
            app = SERVICES[name][1](service)
            stack.apps[name] = app
            if transport == "asgi":
                stack.clients[name] = await exits.enter_async_context(serve(app))
                stack.urls[name] = str(stack.clients[name].base_url).rstrip("/")
            else:
                stack.urls[name] = await servers.start(app, ports[name])
                stack.clients[name] = await exits.enter_async_context(loopback_client(stack.urls[name]))
            if not with_gateway:
                mint.trust(app)

        if with_gateway:
            gateway = gateway_settings(nats.url, await database("gateway"), data_dir, upstream_url, gateway_port)
            if len(names) > 1:
                gateway.identity.service_client_id = as_itself.id
                gateway.identity.service_client_secret = as_itself.secret
                # The short timeouts are for tests of the gateway alone against a stand-in that hangs; real
                # services on a loaded machine may take longer than a second to answer, as they may in production.
                gateway.http = HttpSettings()
            gateway.upstream = UpstreamSettings(
                assessment_url=stack.urls.get("assessment", upstream_url),
                consent_url=stack.urls.get("consent", upstream_url),
                plan_url=stack.urls.get("plan", upstream_url),
                notifications_url=stack.urls.get("notifications", upstream_url),
            )
            if nats_users is not None:
                gateway.nats = signed_in(nats_users, "gateway", nats.url)
            gateway = gateway.model_copy(update=dict(overrides.get("gateway", {})))
            app = create_gateway(gateway)
            stack.apps["gateway"] = app
            if transport == "asgi":  # tested alone, trusting the mint's tokens rather than issuing its own
                stack.clients["gateway"] = await exits.enter_async_context(serve(app))
                stack.urls["gateway"] = str(stack.clients["gateway"].base_url).rstrip("/")
                mint.trust(app)
            else:
                url = await servers.start(app, gateway_port)
                stack.urls["gateway"] = url
                stack.clients["gateway"] = await exits.enter_async_context(loopback_client(url))
            stack.gateway = Gateway(stack.urls["gateway"], app, stack.clients["gateway"])

        apps = list(stack.apps.values())
        await eventually(lambda: connected(*apps))
        yield stack

"""pytest fixtures for testing services against the real things.

Load with `pytest_plugins = ["services.kit.testing"]`. Each test gets its own
nats-server on a free port and its own database: an SQLite file, or a fresh
PostgreSQL database when `TEST_DATABASE_URL` names a server.
"""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Form
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.engine import make_url

from services.kit.auth import TokenVerifier
from services.kit.natsserver import NatsServer, free_port

DatabaseFactory = Callable[[str], Awaitable[str]]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def database_factory(tmp_path: Path) -> AsyncIterator[DatabaseFactory]:
    """Makes empty databases by name for one test, and drops them afterwards."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    created: list[str] = []

    async def create(name: str) -> str:
        if not server_url:
            return f"sqlite+aiosqlite:///{tmp_path / name}.db"
        database = f"test_{name}_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(_libpq_dsn(server_url))
        try:
            await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()
        created.append(database)
        return make_url(server_url).set(database=database).render_as_string(hide_password=False)

    yield create
    if created and server_url:
        connection = await asyncpg.connect(_libpq_dsn(server_url))
        try:
            for database in created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture
async def database_url(database_factory: DatabaseFactory) -> str:
    return await database_factory("service")


def _libpq_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def running(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """An app served by uvicorn on a loopback port, in this event loop: for services that call each other over HTTP."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it over HTTP in the same process."""
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        # A client sees the 500 problem, not the exception behind it.
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            yield client


class TokenMint:
    """Signs tokens the way an issuer would, and makes an app trust its key.

    For tests of a service on its own; tests of the whole system take their
    tokens from the gateway's token endpoint instead.
    """

    def __init__(self, issuer: str = "http://127.0.0.1:8000", audience: str = "graduated-pathway") -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = ECKey.generate_key("P-256", parameters={"kid": f"test-{uuid.uuid4().hex[:8]}", "alg": "ES256"})

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        return KeySet([self.key])

    def trust(self, app: FastAPI) -> None:
        """Verify the app's incoming tokens against this mint's key (after its start)."""
        verifier: TokenVerifier = app.state.verifier
        app.state.verifier = TokenVerifier(
            verifier.settings.model_copy(update={"issuer": self.issuer, "audience": self.audience}), self
        )

    def token(
        self,
        scopes: str = "",
        *,
        organisation_id: str = "org-test",
        organisation_type: str = "council",
        expires_in: int = 300,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A signed token; `claims` replaces or adds any claim."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "client-test",
            "org": organisation_id,
            "org_type": organisation_type,
            "scope": scopes,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims or {})
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, payload, self.key)

    def headers(self, scopes: str = "", **options: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(scopes, **options)}"}


@pytest.fixture
def token_mint() -> TokenMint:
    return TokenMint()


def token_endpoint(mint: TokenMint, organisation_id: str, client_id: str) -> FastAPI:
    """A client-credentials grant for one service client, signed by `mint`, and the mint's JWKS.

    The issuer for a service acting as itself, and for a service run in its own
    process, which cannot be told to trust `mint` directly. Tests of the whole
    system get their tokens from the gateway instead.
    """
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return {"keys": [mint.key.as_dict(private=False)]}

    @app.post("/oauth/token")
    async def token(grant_type: Annotated[str, Form()], scope: Annotated[str, Form()] = "") -> dict[str, Any]:
        assert grant_type == "client_credentials"
        issued = mint.token(scope, organisation_id=organisation_id, claims={"sub": client_id})
        return {"access_token": issued, "token_type": "Bearer", "expires_in": 300, "scope": scope}

    return app

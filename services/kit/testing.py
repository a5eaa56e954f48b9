"""pytest fixtures for testing services against the real things.

Load with `pytest_plugins = ["services.kit.testing"]`. What is slow to make is
made once per test session and isolated per test: one nats-server, whose
streams (and so their consumers) are deleted before each test, and databases
migrated once by name and copied for each test (an SQLite file copied, or a
PostgreSQL database cloned with `CREATE DATABASE ... TEMPLATE` when
`TEST_DATABASE_URL` names a server).
"""

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import nats
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Form
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.engine import make_url

from services.kit.auth import TokenVerifier
from services.kit.natsserver import NatsServer, free_port, port_open

Migrate = Callable[[str], Awaitable[None]]


@pytest.fixture(scope="session")
def session_nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nats_server(session_nats_server: NatsServer) -> NatsServer:
    """The session's nats-server, with no stream left by an earlier test (nor so any consumer).

    A test may stop it and start it again; it is started again for the next test if it was left stopped.
    """
    if not port_open(session_nats_server.port):
        session_nats_server.start()
    await delete_streams(session_nats_server.url)
    return session_nats_server


async def delete_streams(url: str) -> None:
    """Delete every JetStream stream, and with them their consumers and messages."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            assert info.config.name is not None
            await js.delete_stream(info.config.name)
    finally:
        await nc.close()


class DatabaseTemplates:
    """Databases migrated once per session, by name, for tests to copy."""

    def __init__(self, folder: Path, server_url: str | None) -> None:
        self.folder = folder
        self.server_url = server_url
        self.suffix = uuid.uuid4().hex[:12]  # parallel sessions on one PostgreSQL server keep apart
        self._made: dict[str, str] = {}

    async def template(self, name: str, migrate: Migrate) -> str:
        """The migrated template of `name`: a file path (SQLite) or a database name (PostgreSQL)."""
        if name not in self._made:
            if self.server_url:
                database = f"test_template_{name}_{self.suffix}"
                await _execute(self.server_url, f'CREATE DATABASE "{database}"')
                await migrate(_database_url(self.server_url, database))
                self._made[name] = database
            else:
                path = self.folder / f"{name}.db"
                await migrate(f"sqlite+aiosqlite:///{path}")
                self._made[name] = str(path)
        return self._made[name]

    def drop(self) -> None:
        if self.server_url and self._made:
            statements = [f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)' for database in self._made.values()]
            asyncio.run(_execute(self.server_url, *statements))


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplates]:
    templates = DatabaseTemplates(tmp_path_factory.mktemp("database-templates"), os.environ.get("TEST_DATABASE_URL"))
    yield templates
    templates.drop()


class DatabaseFactory:
    """Databases by name for one test, dropped afterwards: empty, or copies of a template migrated once per session."""

    def __init__(self, folder: Path, templates: DatabaseTemplates) -> None:
        self.folder = folder
        self.templates = templates
        self.server_url = templates.server_url
        self.created: list[str] = []

    async def __call__(self, name: str) -> str:
        """An empty database."""
        return await self._create(name, template=None)

    async def migrated(self, name: str, migrate: Migrate) -> str:
        """A copy of the database `migrate` makes from empty, which runs once per session for each name."""
        return await self._create(name, template=await self.templates.template(name, migrate))

    async def _create(self, name: str, template: str | None) -> str:
        if not self.server_url:
            path = self.folder / f"{name}.db"
            if template is not None:
                shutil.copyfile(template, path)
            return f"sqlite+aiosqlite:///{path}"
        database = f"test_{name}_{uuid.uuid4().hex[:12]}"
        copied = f' TEMPLATE "{template}"' if template is not None else ""
        for attempt in range(50):
            try:
                await _execute(self.server_url, f'CREATE DATABASE "{database}"{copied}')
                break
            except asyncpg.exceptions.ObjectInUseError:
                # The template's last connection may still be closing on the server side.
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        self.created.append(database)
        return _database_url(self.server_url, database)

    async def drop(self) -> None:
        if self.created and self.server_url:
            await _execute(
                self.server_url, *(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)' for database in self.created)
            )


@pytest.fixture
async def database_factory(tmp_path: Path, database_templates: DatabaseTemplates) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path, database_templates)
    yield factory
    await factory.drop()


@pytest.fixture
async def database_url(database_factory: DatabaseFactory) -> str:
    return await database_factory("service")


async def _execute(server_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_libpq_dsn(server_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _database_url(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _libpq_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


BIND_ATTEMPTS = 5


class LoopbackServers:
    """Apps served by uvicorn on loopback ports, in this event loop, and stopped together.

    A uvicorn server notices it should exit on its next tick and then waits for its
    connections to close, a fifth of a second or so; stopped together, a stack of
    apps pays that once rather than once for each.
    """

    def __init__(self) -> None:
        self._running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(self, app: FastAPI, port: int | None = None) -> str:
        port = port or free_port()
        for attempt in range(BIND_ATTEMPTS):
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    break
                await asyncio.sleep(0.02)
            if server.started:
                self._running.append((server, task))
                return f"http://127.0.0.1:{port}"
            # uvicorn exits (SystemExit) when it cannot bind: a port chosen free a moment ago may have been taken
            # meanwhile by another test worker's socket. It is tried again shortly; a SystemExit let through
            # would stop the test worker's event loop for every test after it, not fail this one alone.
            with contextlib.suppress(SystemExit):
                task.result()
            await asyncio.sleep(0.5 * (attempt + 1))
        raise RuntimeError(f"no server could listen on 127.0.0.1:{port}")

    async def stop(self) -> None:
        for server, _ in self._running:
            server.should_exit = True
        results = await asyncio.gather(*(task for _, task in self._running), return_exceptions=True)
        self._running.clear()
        for result in results:
            if isinstance(result, BaseException):
                raise result


@asynccontextmanager
async def running(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """An app served by uvicorn on a loopback port, in this event loop: for services that call each other over HTTP."""
    servers = LoopbackServers()
    try:
        yield await servers.start(app, port)
    finally:
        await servers.stop()


# Building an SSL context loads the CA bundle, tens of milliseconds each time: the clients of tests share one.
_TLS = httpx.create_ssl_context()
# httpx waits five seconds for an answer by default. Two test workers, each running whole stacks, on two shared
# cores sometimes take longer than that to answer a write that is correct: a test that means a time limit asserts
# it itself, so its clients only give up on a service that has stopped answering.
PATIENT = httpx.Timeout(30.0)


def loopback_client(base_url: str) -> httpx.AsyncClient:
    """A client of an app that `running` or `LoopbackServers` serves."""
    return httpx.AsyncClient(base_url=base_url, verify=_TLS, timeout=PATIENT)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it over HTTP in the same process."""
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        # A client sees the 500 problem, not the exception behind it.
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service.test", verify=_TLS, timeout=PATIENT
        ) as client:
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
            verifier.settings.model_copy(update={"issuer": self.issuer, "audience": self.audience}),
            self,
            verifier.revocations,
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
    """The client-credentials token endpoint for one service client, signed by `mint`, and the mint's JWKS.

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

"""Pieces the benchmarks share: a scratch nats-server and database, the gateway, HTTP load, sample events, figures."""

import argparse
import asyncio
import base64
import json
import logging
import math
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import uvloop
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.supervisor import Process, trusting, until_healthy, uvicorn
from services.kit.db import Database
from services.kit.events.broker import Broker
from services.kit.events.envelope import CloudEvent, new_event
from services.kit.migrations import upgrade_database
from services.kit.natsserver import NatsServer, free_port
from services.kit.settings import DatabaseSettings, NatsSettings

DATABASE_URL_ENV = "BENCH_DATABASE_URL"
START_TIMEOUT_SECONDS = 120.0  # as deploy.supervisor: a loaded 2-core machine takes over 30 s to start a process
STOP_TIMEOUT_SECONDS = 15.0
GATEWAY_CLIENT_ID = "bench-admin"
SERVICE_CLIENT_ID = "bench-services"
LOCAL_POSTGRESQL = ("127.0.0.1", 5432)
LOCAL_POSTGRESQL_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
BACKEND_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@contextmanager
def scratch_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pathway-bench-") as folder:
        yield Path(folder)


@contextmanager
def running_nats(store_dir: Path) -> Iterator[NatsServer]:
    """A nats-server of our own on a free 127.0.0.1 port."""
    server = NatsServer(store_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def scratch_database(folder: Path, name: str) -> AsyncIterator[str]:
    """The URL of an empty database, dropped afterwards.

    An SQLite file in `folder`; or, when BENCH_DATABASE_URL names a PostgreSQL
    server, a database of its own on that server.
    """
    server_url = os.environ.get(DATABASE_URL_ENV)
    if not server_url:
        yield f"sqlite+aiosqlite:///{folder / name}.db"
        return
    database = f"bench_{name}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def postgresql_server() -> str | None:
    """BENCH_DATABASE_URL when set; otherwise the local server's URL if 127.0.0.1:5432 answers."""
    if configured := os.environ.get(DATABASE_URL_ENV):
        return configured
    try:
        with socket.create_connection(LOCAL_POSTGRESQL, timeout=1.0):
            return LOCAL_POSTGRESQL_URL
    except OSError:
        return None


@contextmanager
def database_server(server_url: str | None) -> Iterator[None]:
    """BENCH_DATABASE_URL set to `server_url` (unset for SQLite) while `scratch_database` reads it."""
    saved = os.environ.pop(DATABASE_URL_ENV, None)
    if server_url is not None:
        os.environ[DATABASE_URL_ENV] = server_url
    try:
        yield
    finally:
        os.environ.pop(DATABASE_URL_ENV, None)
        if saved is not None:
            os.environ[DATABASE_URL_ENV] = saved


def chosen_backends(names: str | None) -> list[tuple[str, str | None]]:
    """Each backend to run and its PostgreSQL server's URL (None for SQLite), in the order given.

    By default SQLite, then PostgreSQL when BENCH_DATABASE_URL is set or 127.0.0.1:5432 answers.
    """
    server_url = postgresql_server()
    if names is None:
        return [("sqlite", None), *([("postgresql", server_url)] if server_url else [])]
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    if unknown := sorted(set(chosen) - set(BACKENDS)):
        raise SystemExit(f"unknown database {', '.join(unknown)}: choose from {', '.join(BACKENDS)}")
    if "postgresql" in chosen and server_url is None:
        raise SystemExit(f"no PostgreSQL: set {DATABASE_URL_ENV} or run a server at 127.0.0.1:5432")
    return [(name, server_url if name == "postgresql" else None) for name in dict.fromkeys(chosen)]


def add_databases_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--databases",
        help="comma-separated, from sqlite and postgresql (default: sqlite, then postgresql when "
        f"{DATABASE_URL_ENV} is set or 127.0.0.1:5432 answers)",
    )


@contextmanager
def serving(app: str, port: int, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """An app factory served by one uvicorn worker on `port`; yields its base URL, and shows its log if that fails."""
    process = Process(app, uvicorn(app, port, "--log-level", "warning"), dict(env), log_file=log)
    log.unlink(missing_ok=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        process.stop_blocking(STOP_TIMEOUT_SECONDS)
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    process.stop_blocking(STOP_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class Gateway:
    """A running gateway and the admin client it made at start."""

    url: str
    client_id: str
    client_secret: str

    @property
    def basic_auth(self) -> dict[str, str]:
        """The admin client's credentials as an HTTP Basic header, for `POST /oauth/token`."""
        credentials = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return {"Authorization": f"Basic {credentials}"}


@contextmanager
def running_gateway(
    folder: Path, nats_url: str, database_url: str, upstream_url: str, service_client_secret: str = ""
) -> Iterator[Gateway]:
    """The real gateway in its own uvicorn, every service behind it at `upstream_url` and no rate limit that bites.

    It issues its own tokens as `http://127.0.0.1:<port>` and logs warnings only; wait for its `/healthz`.
    With `service_client_secret`, it ensures the services' own client, `SERVICE_CLIENT_ID`, at start,
    as `make up` does, for a service that calls another as itself.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(32)
    env = {
        "PATHWAY_DATA_DIR": str(folder),
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        **{f"UPSTREAM_{name}_URL": upstream_url for name in ("ASSESSMENT", "CONSENT", "PLAN", "NOTIFICATIONS")},
        **trusting(url),
        "GATEWAY_BOOTSTRAP_CLIENT_ID": GATEWAY_CLIENT_ID,
        "GATEWAY_BOOTSTRAP_CLIENT_SECRET": secret,
        "RATE_LIMIT_PER_SECOND": "1000000",
        "RATE_LIMIT_BURST": "1000000",
        "SERVICE_LOG_LEVEL": "WARNING",
    }
    if service_client_secret:
        env |= {"GATEWAY_SERVICE_CLIENT_ID": SERVICE_CLIENT_ID, "GATEWAY_SERVICE_CLIENT_SECRET": service_client_secret}
    with serving("gateway.main:create_app", port, env, folder / "gateway.log"):
        yield Gateway(url, GATEWAY_CLIENT_ID, secret)


async def wait_healthy(client: httpx.AsyncClient) -> None:
    """Until `GET /healthz` answers 200."""
    await until_healthy(client, "/healthz", START_TIMEOUT_SECONDS)


async def http_clients(stack: AsyncExitStack, base_url: str, count: int) -> list[httpx.AsyncClient]:
    """One client per request in flight (a shared client's pool slows down beyond a few connections)."""
    return [await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=30.0)) for _ in range(count)]


class Load(NamedTuple):
    """One timed run: requests a second, and latency percentiles in milliseconds."""

    rate: float
    p50: float
    p99: float


async def drive(
    clients: Sequence[httpx.AsyncClient],
    requests: int,
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    expected_status: int = 200,
) -> Load:
    """`requests` requests made by `send`, one in flight per client; each must answer `expected_status`."""
    latencies: list[float] = []
    tickets = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in tickets:
            started = time.perf_counter()
            response = await send(client)
            latencies.append(time.perf_counter() - started)
            if response.status_code != expected_status:
                raise RuntimeError(f"{response.request.url} answered {response.status_code}: {response.text[:500]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    seconds = time.perf_counter() - started
    ordered = sorted(latency * 1000 for latency in latencies)
    return Load(requests / seconds, percentile(ordered, 50), percentile(ordered, 99))


def load_row(name: str, requests: int, loads: Sequence[Load]) -> list[object]:
    """Requests/s as median, min and max over rounds, then the median p50 and p99."""
    rates = [load.rate for load in loads]
    return [
        name,
        requests,
        len(loads),
        round(statistics.median(rates)),
        round(min(rates)),
        round(max(rates)),
        statistics.median(load.p50 for load in loads),
        statistics.median(load.p99 for load in loads),
    ]


def load_headers(first: str, rate: str = "req/s") -> list[str]:
    """The headings of `load_row`'s columns."""
    return [first, "requests", "rounds", f"median {rate}", "min", "max", "p50 ms", "p99 ms"]


def median_and_range(values: Sequence[float], unit: str = "") -> str:
    """Rounds' figures as their median and range."""
    return f"{statistics.median(values):.2f}{unit} (range {min(values):.2f} to {max(values):.2f})"


def verdict(met: bool) -> str:
    """How an aim went, as the report prints it."""
    return "met" if met else "missed"


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON of a response that must answer `status`; otherwise the run stops with what it said."""
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered {response.status_code}: {response.text[:500]}"
        )
    return response.json()


def backend_name(database_url: str) -> str:
    """`sqlite` or `postgresql`, for the heading of a table."""
    return make_url(database_url).get_backend_name()


def sample_event(n: int) -> CloudEvent:
    """An event shaped like the ones services write: thin data, identifiers only."""
    note_id = str(uuid.uuid4())
    return new_event(
        source="/bench",
        type="note.written",
        subject=note_id,
        data={"note_id": note_id, "aggregate": f"family-{n % 100}"},
        extensions={"familyid": f"family-{n % 100}"},
    )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile of values sorted in ascending order."""
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


TABLES_ENV = "BENCH_TABLES"  # a file `make bench` names, to gather every table into docs/performance.md


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns aligned: the first to the left, the others to the right; also noted for the report when asked."""
    cells = [list(headers), *([_cell(value) for value in row] for row in rows)]
    if tables := os.environ.get(TABLES_ENV):
        with Path(tables).open("a") as noted:
            noted.write(json.dumps(cells) + "\n")
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    for line in cells:
        first, *rest = zip(line, widths, strict=True)
        print("  ".join([first[0].ljust(first[1]), *(value.rjust(width) for value, width in rest)]))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def add_loop_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop; uvloop is what uvicorn runs the services on (default: %(default)s)",
    )


def run(main: Coroutine[Any, Any, None], loop: str) -> None:
    # Closing the broker warns that NATS disconnected; anything else the kit warns about still shows.
    logging.getLogger("services.kit.events.broker").setLevel(logging.ERROR)
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


async def kit_outbox_parts(stack: AsyncExitStack, database_url: str, nats_url: str) -> tuple[Database, Broker]:
    """A migrated database with the outbox tables and a connected broker, both closed with `stack`."""
    database = Database(DatabaseSettings(url=database_url))
    stack.push_async_callback(database.dispose)
    await upgrade_database(database)
    broker = Broker(NatsSettings(url=nats_url), "bench-relay")
    broker.start()
    stack.push_async_callback(broker.close)
    await broker.ready.wait()
    return database, broker


async def serving_service(
    stack: AsyncExitStack, service: str, backend: str, server_url: str | None, folder: Path, nats_url: str, issuer: str
) -> tuple[str, str]:
    """One service on a scratch database of its own, trusting `issuer`'s tokens; its base URL and database URL."""
    with database_server(server_url):
        database_url = await stack.enter_async_context(scratch_database(folder, f"{service}_{backend}"))
    data_dir = folder / f"{service}-{backend}"
    data_dir.mkdir()
    env = {
        "PATHWAY_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        **trusting(issuer),
        "SERVICE_LOG_LEVEL": "WARNING",
    }
    app = f"services.{service}.main:create_app"
    url = stack.enter_context(serving(app, free_port(), env, folder / f"{service}-{backend}.log"))
    return url, database_url

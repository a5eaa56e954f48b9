"""Pieces the benchmarks share: a scratch nats-server and database, sample events, figures."""

import argparse
import asyncio
import logging
import math
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.events.envelope import CloudEvent, new_event
from services.kit.natsserver import NatsServer

DATABASE_URL_ENV = "BENCH_DATABASE_URL"


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
        family_id=f"family-{n % 100}",
    )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile of values sorted in ascending order."""
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns aligned: the first to the left, the others to the right."""
    cells = [list(headers), *([_cell(value) for value in row] for row in rows)]
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

"""The async engine, sessions, and the transaction each request owns."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, TypeDecorator, event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from services.kit.problems import ServiceError
from services.kit.settings import DatabaseSettings

# Stable constraint names, so that migrations can name what they alter or drop.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that comes back timezone-aware in UTC on every database.

    PostgreSQL keeps the zone; SQLite keeps none and would hand back naive
    values, so they are stored in UTC and read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling emits no BEGIN before a SAVEPOINT, so
    # a savepoint opened first in a transaction was committed by its RELEASE;
    # SQLAlchemy emits BEGIN itself instead (`_begin_sqlite`), as its docs advise.
    dbapi_connection.isolation_level = None
    # WAL lets readers in other processes (tests, tools) work while we write;
    # the busy timeout makes them wait for the single writer instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def _make_parent_folder(sqlite_url: str) -> None:
    database = make_url(sqlite_url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """One service's engine and session factory.

    On SQLite the pool holds a single connection: SQLite allows one writer at a
    time, and concurrent async writers on separate connections end in
    `database is locked`. On PostgreSQL the pool is sized from settings.
    So code running inside a request uses the request's session and never opens
    another: on SQLite it would wait for the connection its own request holds.

    Hooks registered with `on_commit` run after every successful commit; the
    outbox relay uses one to wake as soon as an event row is committed.
    """

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        if settings.is_sqlite:
            _make_parent_folder(settings.url)
            self.engine: AsyncEngine = create_async_engine(
                settings.url, echo=settings.echo, pool_size=1, max_overflow=0, pool_timeout=60
            )
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
            event.listen(self.engine.sync_engine, "begin", _begin_sqlite)
        else:
            self.engine = create_async_engine(
                settings.url, echo=settings.echo, pool_size=settings.pool_size, pool_pre_ping=True
            )
        # A Session subclass of our own, so that commit listeners stay on this database.
        self._session_class: type[Session] = type("ServiceSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=self._session_class
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def wake_on_commit(self, flag: str, wake: asyncio.Event) -> None:
        """Set `wake` when a transaction that set `session.info[flag]` commits: how a worker hears of new work."""

        def after_commit(session: Session) -> None:
            # Releasing a savepoint fires after_commit as well; the flag waits for the real commit.
            if session.in_nested_transaction():
                return
            if session.info.pop(flag, False):
                wake.set()

        event.listen(self._session_class, "after_commit", after_commit)

    async def dispose(self) -> None:
        await self.engine.dispose()


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The session of one request: committed when the handler returns, rolled back if it raises.

    An expected failure may keep something (`ServiceError.kept`, e.g. the audit entry of a
    refusal): it is written in a transaction of its own after the rollback.

    Services and repositories never commit; that is what lets an outbox row share
    the transaction of the change it describes.
    """
    async with database_of(request).sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except ServiceError as error:
            await session.rollback()
            if error.kept:
                for keep in error.kept:
                    keep(session)
                await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs before the response is sent, so a client
# never sees a 2xx for a change that failed to commit.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]

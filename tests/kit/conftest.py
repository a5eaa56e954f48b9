import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlmodel import col

from services.kit.db import Database
from services.kit.events.envelope import BaseCloudEvent, from_json
from services.kit.natsserver import NatsServer
from services.kit.settings import ConsumerSettings, DatabaseSettings, NatsSettings, ServiceSettings
from services.kit.testing import TokenMint, serve
from tests.kit import note_service
from tests.kit.note_service import NoteEffect, create_note_app


@dataclass
class StreamMessage:
    subject: str
    msg_id: str | None
    event: BaseCloudEvent


async def stream_messages(nats_url: str, stream: str = "PATHWAY") -> list[StreamMessage]:
    """Every message in a stream, in stream order, read straight from JetStream."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        messages: list[StreamMessage] = []
        sequence = 1
        while True:
            try:
                raw = await js.get_msg(stream, seq=sequence, subject=">", next=True)
            except NotFoundError:
                return messages
            assert raw.seq is not None and raw.data is not None and raw.subject is not None
            headers = raw.headers or {}
            messages.append(StreamMessage(raw.subject, headers.get("Nats-Msg-Id"), from_json(raw.data)))
            sequence = raw.seq + 1
    finally:
        await nc.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {within}s: {check.__name__}")
        await asyncio.sleep(0.05)


async def effects_by_event(app: FastAPI) -> dict[str, int]:
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        rows = await session.execute(select(col(NoteEffect.event_id), func.count()).group_by(col(NoteEffect.event_id)))
        return {event_id: count for event_id, count in rows.all()}


def note_settings(nats_url: str, database_url: str, data_dir: Path) -> ServiceSettings:
    return ServiceSettings(
        name="notes",
        data_dir=data_dir,
        database=DatabaseSettings(url=database_url),
        nats=NatsSettings(url=nats_url, reconnect_wait_seconds=0.1),
        consumer=ConsumerSettings(max_attempts=3, retry_delay_seconds=0.05),
    )


@dataclass
class RunningNotes:
    app: FastAPI
    client: httpx.AsyncClient
    nats: NatsServer
    mint: TokenMint

    @property
    def admin(self) -> dict[str, str]:
        return self.mint.headers("admin")


@pytest.fixture(autouse=True)
def no_failing_aggregates() -> Iterator[None]:
    yield
    note_service.FAILING_AGGREGATES.clear()


@pytest.fixture
async def notes(
    nats_server: NatsServer, database_url: str, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[RunningNotes]:
    app = create_note_app(note_settings(nats_server.url, database_url, tmp_path))
    async with serve(app) as client:
        token_mint.trust(app)
        await eventually(lambda: _connected(app))
        yield RunningNotes(app, client, nats_server, token_mint)


async def _connected(app: FastAPI) -> bool:
    return bool(app.state.broker.is_connected)


class HasNats(Protocol):
    nats: NatsServer


async def published(stack: HasNats, event_type: str) -> list[dict[str, Any]]:
    """The data of every event of this type in the stream of `stack`'s NATS, in stream order."""
    found: list[dict[str, Any]] = []
    for message in await stream_messages(stack.nats.url):
        if message.event.get_type() == event_type:
            data = message.event.get_data()
            assert isinstance(data, dict), data
            found.append(data)
    return found

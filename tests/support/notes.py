"""The note service of the kit's tests (tests/kit/note_service.py), running, and what it has done."""

from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlmodel import col

from services.kit.db import Database
from services.kit.natsserver import NatsServer
from services.kit.settings import ConsumerSettings, DatabaseSettings, NatsSettings, ServiceSettings
from services.kit.testing import TokenMint
from tests.kit.note_service import NoteEffect


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

"""A service of one table, built with the kit, to test what every service inherits.

`POST /notes` writes a note and a `note.written` event in one transaction; the
`note-effects` consumer applies each event by writing a `note_effect` row
(no unique key, so a second application would show) and fails for aggregates
named in `FAILING_AGGREGATES`, or finds another part away (`ServiceUnavailable`)
for those in `AWAY_AGGREGATES`, counting its tries of each event in `TRIES`.
"""

import uuid
from pathlib import Path

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from services.kit.app import create_service_app
from services.kit.db import SessionDep
from services.kit.events.consumer import ConsumerSpec
from services.kit.events.envelope import BaseCloudEvent, new_event
from services.kit.events.outbox import record_event
from services.kit.problems import Conflict, ServiceUnavailable
from services.kit.settings import ServiceSettings

FAILING_AGGREGATES: set[str] = set()
AWAY_AGGREGATES: set[str] = set()
TRIES: dict[str, int] = {}


class Note(SQLModel, table=True):
    id: str = Field(primary_key=True)
    aggregate: str
    text: str


class NoteEffect(SQLModel, table=True):
    __tablename__ = "note_effect"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    aggregate: str


class NoteIn(BaseModel):
    aggregate: str
    text: str
    roll_back: bool = False
    explode: bool = False


class NoteOut(BaseModel):
    id: str
    event_id: str


router = APIRouter()


@router.post("/notes", status_code=201)
async def write_note(body: NoteIn, session: SessionDep) -> NoteOut:
    note = Note(id=str(uuid.uuid4()), aggregate=body.aggregate, text=body.text)
    session.add(note)
    event = new_event(
        source="/notes", type="note.written", subject=note.id, data={"note_id": note.id, "aggregate": note.aggregate}
    )
    record_event(session, event)
    await session.flush()
    if body.roll_back:
        raise Conflict("Rolled back on purpose.")
    if body.explode:
        raise RuntimeError(f"cannot store {body.text}")
    return NoteOut(id=note.id, event_id=event.get_id())


async def apply_note_written(session: AsyncSession, event: BaseCloudEvent) -> None:
    data = event.get_data()
    assert isinstance(data, dict)
    TRIES[event.get_id()] = TRIES.get(event.get_id(), 0) + 1
    if data["aggregate"] in FAILING_AGGREGATES:
        raise RuntimeError("this aggregate always fails")
    if data["aggregate"] in AWAY_AGGREGATES:
        raise ServiceUnavailable("the part this effect needs is away")
    session.add(NoteEffect(event_id=event.get_id(), aggregate=data["aggregate"]))


NOTE_EFFECTS = ConsumerSpec(name="note-effects", subjects=["pathway.note.>"], handler=apply_note_written)


def create_note_app(settings: ServiceSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="notes",
        routers=[router],
        consumers=[NOTE_EFFECTS],
        migrations_dirs=[Path(__file__).parent / "note_migrations" / "versions"],
    )

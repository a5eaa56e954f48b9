"""Apps for `uvicorn --factory`: a bare FastAPI app and the kit's note service.

The note service reads its settings from the environment like every service:
`DATABASE_URL`, `NATS_URL` and `PATHWAY_DATA_DIR`.
"""

import uuid

from fastapi import FastAPI
from pydantic import BaseModel

from services.kit.settings import ServiceSettings
from tests.kit.note_service import create_note_app


class BareNoteIn(BaseModel):
    aggregate: str
    text: str


class BareNoteOut(BaseModel):
    id: str
    event_id: str


def create_bare_app() -> FastAPI:
    """The same request and response as `POST /notes`, with no kit, database or NATS behind it."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/notes", status_code=201)
    async def write_note(body: BareNoteIn) -> BareNoteOut:
        return BareNoteOut(id=str(uuid.uuid4()), event_id=str(uuid.uuid4()))

    return app


def create_notes_app() -> FastAPI:
    """The note service: a row and its event in one transaction, relayed to JetStream and consumed."""
    return create_note_app(ServiceSettings(name="notes"))

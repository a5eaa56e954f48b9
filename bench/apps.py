"""Apps for `uvicorn --factory`: bare FastAPI apps, a stand-in for the plan service, and the kit's note service.

The note service reads its settings from the environment like every service:
`DATABASE_URL`, `NATS_URL` and `PATHWAY_DATA_DIR`.
"""

import uuid
from functools import cache
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.scopes import SCOPES
from services.kit.settings import ServiceSettings
from tests.kit.note_service import create_note_app

# Shaped like the gateway's answer to its admin client: a token as long as its ES256 JWT, which nothing here checks.
STATIC_TOKEN = {
    "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjAwMDAwMDAwMDAwMDAwMDAiLCJ0eXAiOiJKV1QifQ."
    + "e" * 488
    + "."
    + "s" * 86,
    "token_type": "Bearer",
    "expires_in": 900,
    "scope": " ".join(sorted(SCOPES)),
}
PLAN = {
    "family_id": "6b0f8c1e-3d7a-4f51-9a0e-2c4d8e1f7a90",
    "organisation_id": "0c9e2b7d-51a4-4e8f-b3c6-7d2a9f1e4b58",
    "status": "active",
    "version": 3,
    "created_at": "2025-01-14T10:02:11Z",
    "updated_at": "2025-03-02T16:45:37Z",
    "goals": [
        {
            "id": f"goal-{n}",
            "title": title,
            "owner": "lead practitioner",
            "due": "2025-06-30",
            "progress": "started",
        }
        for n, title in enumerate(
            [
                "Regular school attendance, supported by a morning routine agreed with the family",
                "A stable tenancy, with the housing officer and the family meeting monthly",
                "Health visits kept, and the younger child's development review booked",
                "Both parents in touch with the parenting group and the family support worker",
            ]
        )
    ],
}


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

    @app.post("/oauth/token")
    async def issue_token(request: Request) -> JSONResponse:
        """The form read and an answer shaped like the gateway's, with no client check and no signature."""
        await request.form()
        return JSONResponse(STATIC_TOKEN, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return app


def create_bare_assessment_app() -> FastAPI:
    """`POST /assessments` with a body of the assessment service's shape, validated, and nothing behind it."""

    class FormRef(BaseModel):
        key: str
        version: int

    class AssessmentIn(BaseModel):
        family_id: str
        form: FormRef
        answers: dict[str, Any]
        status: str

    class AssessmentCreated(BaseModel):
        id: str
        status: str

    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/assessments", status_code=201)
    async def create_assessment(body: AssessmentIn) -> AssessmentCreated:
        return AssessmentCreated(id=str(uuid.uuid4()), status=body.status)

    return app


def create_plan_stub_app() -> FastAPI:
    """`GET /plans/{plan_id}`: about 1 KB of JSON and an ETag, as a service answers a read, with nothing behind it."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/plans/{plan_id}")
    async def read_plan(plan_id: str) -> JSONResponse:
        return JSONResponse({"id": plan_id, **PLAN}, headers={"ETag": f'"{plan_id}-{PLAN["version"]}"'})

    return app


# One row of a report's answer, shaped like a claim candidate: about 130 bytes of JSON.
REPORT_ROW = {
    "plan_id": "3f1c9a7e-8b2d-4e6f-a1c0-5d7b9e2f4a68",
    "family_id": "9e4b2c7a-1d8f-4a3e-b6c5-0f2d7e9a1b34",
    "closed_on": "2025-03-14",
    "outcome_areas": 3,
}
REPORT_ROW_BYTES = len(JSONResponse(REPORT_ROW).body) + 1  # and a comma


@cache
def _report_rows(count: int) -> list[dict[str, Any]]:
    return [dict(REPORT_ROW) for _ in range(count)]


def create_bare_report_app() -> FastAPI:
    """`GET /reports/{name}?bytes=N`: a JSON body of about N bytes, serialised on each request, nothing behind it."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/reports/{name}")
    async def report(name: str, size: Annotated[int, Query(alias="bytes", ge=0, le=100_000_000)]) -> JSONResponse:
        rows = _report_rows(max(size - 60, 0) // REPORT_ROW_BYTES)
        return JSONResponse({"report": name, "period": {"start": "2025-01-01", "end": "2025-12-31"}, "rows": rows})

    return app


def create_notes_app() -> FastAPI:
    """The note service: a row and its event in one transaction, relayed to JetStream and consumed."""
    return create_note_app(ServiceSettings(name="notes"))

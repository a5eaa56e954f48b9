"""`/healthz` says the process is alive; `/readyz` that it can do its work."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from services.kit.db import Database, database_of
from services.kit.events.broker import Broker
from services.kit.openapi import problems
from services.kit.problems import PROBLEM_MEDIA_TYPE, ServiceUnavailable, problem_body

ReadinessCheck = Callable[[FastAPI], Awaitable[bool]]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


async def database_reachable(database: Database) -> bool:
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 (any failure means not ready)
        return False
    return True


@router.get("/readyz", responses=problems(503))
async def readyz(request: Request, database: Annotated[Database, Depends(database_of)]) -> JSONResponse:
    """The database and NATS answer, and so does whatever else this service needs."""
    broker: Broker = request.app.state.broker
    checks = {"database": await database_reachable(database), "nats": broker.is_connected}
    extra: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    for name, check in extra.items():
        checks[name] = await check(request.app)
    if all(checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    failing = sorted(name for name, ok in checks.items() if not ok)
    problem = ServiceUnavailable(f"Not ready: {', '.join(failing)}.", checks=checks)
    return JSONResponse(problem_body(problem, "/readyz"), status_code=503, media_type=PROBLEM_MEDIA_TYPE)

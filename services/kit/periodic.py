"""Work a service does on a timer, each run in its own transaction: sweeps, reminders, purges."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database
from services.kit.tasks import stop_task

logger = logging.getLogger(__name__)

Job = Callable[[AsyncSession], Awaitable[Any]]


async def _every(database: Database, seconds: float, job: Job, name: str) -> None:
    while True:
        try:
            async with database.sessionmaker() as session, session.begin():
                await job(session)
        except SQLAlchemyError as error:  # the database is away: try again next time
            logger.warning("periodic job failed", extra={"job": name, "error": type(error).__name__})
        await asyncio.sleep(seconds)


@asynccontextmanager
async def running_every(database: Database, seconds: float, job: Job, name: str) -> AsyncIterator[None]:
    """Run `job` now and every `seconds` while the context is open."""
    task = asyncio.create_task(_every(database, seconds, job, name), name=name)
    try:
        yield
    finally:
        await stop_task(task)

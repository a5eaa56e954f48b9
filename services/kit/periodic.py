"""Work a service does on a timer, each run in its own transaction: sweeps, reminders, purges."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.db import Database
from services.kit.tasks import stop_task

logger = logging.getLogger(__name__)

Job = Callable[[AsyncSession], Awaitable[Any]]
# A job that says when it next has something to do (None: nothing it knows of).
DueJob = Callable[[AsyncSession], Awaitable[datetime | None]]
RETRY_SECONDS = 1.0  # after a failed run of a job that runs when due


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


def seconds_until(due: datetime | None, at_most: float) -> float:
    """How long to sleep for work due at `due`: not below 0, not above `at_most` (also for None)."""
    if due is None:
        return at_most
    return min(max((due - now()).total_seconds(), 0.0), at_most)


async def wait_for_work(wake: asyncio.Event, seconds: float) -> None:
    """Return once `wake` is set or `seconds` have passed, whichever comes first."""
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose a cancellation (`services.kit.tasks`).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()


async def _when_due(
    database: Database, job: DueJob, name: str, wake: asyncio.Event, at_most: float, at_least: float
) -> None:
    while True:
        wake.clear()
        try:
            async with database.sessionmaker() as session, session.begin():
                due = await job(session)
            wait = seconds_until(due, at_most)
        except SQLAlchemyError as error:  # the database is away: try again shortly
            logger.warning("periodic job failed", extra={"job": name, "error": type(error).__name__})
            wait = RETRY_SECONDS
        if at_least > 0:  # wakes meanwhile are kept, and answered once it has passed
            await asyncio.sleep(min(at_least, wait))
            wait -= min(at_least, wait)
        await wait_for_work(wake, wait)


@asynccontextmanager
async def running_when_due(
    database: Database, job: DueJob, name: str, *, wake: asyncio.Event, at_most: float, at_least: float = 0.0
) -> AsyncIterator[None]:
    """Run `job` now, then whenever the time it returned comes or `wake` is set, and after `at_most` seconds at most.

    Nothing runs while nothing is due: `wake` is set by what changes the next due time (a commit,
    `Database.wake_on_commit`), and `at_most` bounds the wait for a change this process did not see
    (made by another replica). `at_least` keeps runs that far apart however often `wake` is set.
    """
    task = asyncio.create_task(_when_due(database, job, name, wake, at_most, at_least), name=name)
    try:
        yield
    finally:
        await stop_task(task)

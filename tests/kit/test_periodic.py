"""A job that runs when due: at the time it names, early when woken, and not at all in between."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.db import Database
from services.kit.periodic import running_when_due
from services.kit.settings import DatabaseSettings


async def test_a_job_runs_at_the_time_it_names_when_woken_and_not_in_between(database_url: str) -> None:
    database = Database(DatabaseSettings(url=database_url))
    runs: list[float] = []
    dues = [now() + timedelta(seconds=0.4), None, None]
    loop = asyncio.get_running_loop()

    async def job(session: AsyncSession) -> datetime | None:
        runs.append(loop.time())
        return dues[len(runs) - 1] if len(runs) <= len(dues) else None

    wake = asyncio.Event()
    started = loop.time()
    try:
        async with running_when_due(database, job, "test-job", wake=wake, at_most=30.0):
            await asyncio.sleep(1.0)
            # Once at start, once at the time it named: not on a timer in between.
            assert len(runs) == 2, runs
            assert 0.35 <= runs[1] - started < 0.9, runs[1] - started
            woken_at = loop.time()
            wake.set()
            await asyncio.sleep(0.3)
            assert len(runs) == 3, runs
            assert runs[2] - woken_at < 0.2
            await asyncio.sleep(0.5)  # nothing due and nothing woke it: the safety wait is 30 s
            assert len(runs) == 3, runs
    finally:
        await database.dispose()

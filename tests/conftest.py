import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

pytest_plugins = ["services.kit.testing"]

# The slowest test (schemathesis over every operation) takes about four minutes.
HANG_SECONDS = 900.0


@pytest.fixture(autouse=True)
async def _report_a_hang() -> AsyncIterator[None]:
    """A test still running after HANG_SECONDS prints where every asyncio task waits, then is cancelled.

    A hang then fails one test and says where it waited, instead of stalling the whole run silently.
    """
    loop = asyncio.get_running_loop()

    def report() -> None:
        tasks = asyncio.all_tasks(loop)
        print(f"\nstill running after {HANG_SECONDS:g} s; {len(tasks)} asyncio tasks:", file=sys.__stderr__)
        for task in tasks:
            print(f"--- {task.get_name()}", file=sys.__stderr__)
            task.print_stack(file=sys.__stderr__)
        for task in tasks:
            task.cancel()

    alarm = loop.call_later(HANG_SECONDS, report)
    yield
    alarm.cancel()

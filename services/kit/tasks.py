"""Stopping a background task for certain."""

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel `task` until it has ended, then collect it without raising.

    Cancelled again rather than once: on Python 3.11 an `asyncio.wait_for`
    (inside nats-py, for one) can swallow a cancellation that arrives as its
    answer does, and a loop would then run on and hang the shutdown.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    await asyncio.gather(task, return_exceptions=True)

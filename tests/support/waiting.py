"""Waiting for what happens in the background: a relay's publish, a consumer's effect, a connection."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0, every: float = 0.05) -> None:
    """Fails only when a check begun after `within` seconds is still false: a slow check begun in time,
    that found the change not yet made, is followed by one more rather than counted as too late."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        began = loop.time()
        if await check():
            return
        if began > deadline:
            raise AssertionError(f"not true within {within}s: {check.__name__}")
        await asyncio.sleep(every)


async def connected(*apps: FastAPI) -> bool:
    """Every app's broker has reached NATS and provisioned its streams."""
    return all(app.state.broker.is_connected for app in apps)

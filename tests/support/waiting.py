"""Waiting for what happens in the background: a relay's publish, a consumer's effect, a connection."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0, every: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {within}s: {check.__name__}")
        await asyncio.sleep(every)


async def connected(*apps: FastAPI) -> bool:
    """Every app's broker has reached NATS and provisioned its streams."""
    return all(app.state.broker.is_connected for app in apps)

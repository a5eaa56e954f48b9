"""The staff front end in a real browser: Debian's Chromium driven by Playwright, against every service running."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.support.browser import CHROMIUM, Camera, People, register
from tests.support.gateway import GatewayStack


@pytest.fixture
async def people(stack: GatewayStack) -> People:
    gateway = stack.gateway
    return People(
        health=await register(gateway, "Northshire Health Visiting", "health", "health.visitor@nhs.example"),
        school=await register(gateway, "Hill Top Primary", "school", "senco@hilltop.example"),
        council=await register(gateway, "Northshire Early Help", "council", "lead@northshire.example"),
    )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def camera(request: pytest.FixtureRequest) -> Camera:
    return Camera(request.node.name)

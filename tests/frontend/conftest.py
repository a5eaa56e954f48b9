"""The staff front end in a real browser: Debian's Chromium driven by Playwright, against every service running."""

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.gateway.conftest import Gateway, Stack, stack  # noqa: F401 (the fixture, used by this package's tests)

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = REPOSITORY / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = REPOSITORY / "test-artifacts" / "frontend"


@dataclass
class Member:
    """A staff member who signs in, and their organisation's API client for setting up what the page shows."""

    organisation_id: str
    organisation_name: str
    email: str
    password: str
    client_id: str
    client_secret: str


@dataclass
class People:
    health: Member
    school: Member
    council: Member


async def register(gateway: Gateway, name: str, kind: str, email: str) -> Member:
    admin = await gateway.bearer()
    organisation = await gateway.http.post("/admin/organisations", json={"name": name, "type": kind}, headers=admin)
    organisation_id = organisation.json()["id"]
    user = await gateway.http.post(
        "/admin/users",
        json={"organisation_id": organisation_id, "email": email, "name": f"A {kind} practitioner",
              "roles": ["practitioner"]},
        headers=admin,
    )  # fmt: skip
    client = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": organisation_id, "name": f"{name} system",
              "scopes": ["assessments:read", "assessments:write", "plans:read", "plans:write"]},
        headers=admin,
    )  # fmt: skip
    return Member(
        organisation_id,
        name,
        email,
        user.json()["initial_password"],
        client.json()["id"],
        client.json()["client_secret"],
    )


@pytest.fixture
async def people(stack: Stack) -> People:  # noqa: F811
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


class Camera:
    """Screenshots of each step, kept as the test's artefacts under test-artifacts/frontend/<test>/."""

    def __init__(self, test_name: str) -> None:
        self.folder = ARTEFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def shoot(self, page: Page, step: str) -> None:
        self.count += 1
        await page.screenshot(path=self.folder / f"{self.count:02d}-{step}.png", full_page=True)


@pytest.fixture
def camera(request: pytest.FixtureRequest) -> Camera:
    return Camera(request.node.name)


SERIOUS = {"serious", "critical"}


async def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (its context loads axe as an init script)."""
    found = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"page": page.url, "id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [node["target"] for node in v["nodes"]][:5]}
        for v in found
        if v["impact"] in SERIOUS
    ]  # fmt: skip


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)


async def client_headers(gateway: Gateway, member: Member) -> dict[str, str]:
    """The member's organisation's partner system, for setting up what a page will show."""
    return await gateway.bearer(client_id=member.client_id, secret=member.client_secret)


async def open_session(browser: Browser, base: str, camera: Camera, javascript: bool = True) -> "Session":
    # No bypass of the Content-Security-Policy: axe-core is added as an init script, which the policy does not govern.
    context = await browser.new_context(java_script_enabled=javascript)
    if javascript:
        await context.add_init_script(path=AXE)
    return Session(context, await context.new_page(), base, camera, javascript)


class Session:
    """One staff member in their own browser context, checking each page as they go."""

    def __init__(self, context: BrowserContext, page: Page, base: str, camera: Camera, javascript: bool) -> None:
        self.context, self.page, self.base, self.camera, self.javascript = context, page, base, camera, javascript
        self.violations: list[dict[str, Any]] = []
        self.policy_breaches: list[str] = []
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.policy_breaches.append(message.text)

    async def step(self, name: str) -> None:
        """A screenshot of the page, and axe-core's check of it when scripts run."""
        await self.camera.shoot(self.page, name)
        if self.javascript:
            self.violations.extend(await accessibility_violations(self.page))

    async def sign_in(self, member: Member) -> None:
        await self.page.goto(f"{self.base}/find")
        await expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()
        await self.step("sign-in")
        await self.page.get_by_label("E-mail address").fill(member.email)
        await self.page.get_by_label("Password", exact=True).fill(member.password)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("heading", name="Find a family")).to_be_visible()

    async def find(self, nhs_number: str) -> None:
        await self.page.goto(f"{self.base}/find")
        await self.page.get_by_label("Identifier").fill(nhs_number)
        await self.page.get_by_role("button", name="Find").click()

    def assert_clean(self) -> None:
        """No serious or critical accessibility finding, and nothing the Content-Security-Policy blocked."""
        assert not self.violations, describe(self.violations)
        assert not self.policy_breaches

"""The staff front end in a real browser: its staff members, their sessions, and what each page is checked for."""

import html
import json
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.support.gateway import Gateway
from tests.support.waiting import eventually

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = REPOSITORY / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = REPOSITORY / "test-artifacts" / "frontend"
NHS_NUMBER = "9434765919"  # the answer `answer_everything` gives an NHS number question

# A submit runs through the gateway and two services; on a loaded CI machine that outlasts Playwright's
# five-second wait for an expected element. A page that never shows it still fails, twenty seconds on.
expect.set_options(timeout=20_000)
# Making a client or a member hashes its secret with argon2, which on a loaded two-core machine outlasts httpx's
# five seconds as a sign-in does (see `first_sign_in`).
HASHING = 30.0


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


async def register(gateway: Gateway, name: str, kind: str, email: str, coordinator: bool = False) -> Member:
    admin = await gateway.bearer()
    body = {"name": name, "type": kind, "coordinator": coordinator}
    organisation = await gateway.http.post("/admin/organisations", json=body, headers=admin)
    organisation_id = organisation.json()["id"]
    client = await gateway.http.post(
        "/admin/clients",
        json={"organisation_id": organisation_id, "name": f"{name} system",
              "scopes": ["assessments:read", "assessments:write", "plans:read", "plans:write", "consent:read"]},
        headers=admin,
        timeout=HASHING,
    )  # fmt: skip
    organisation_client = Member(organisation_id, name, "", "", client.json()["id"], client.json()["client_secret"])
    return await add_staff(gateway, organisation_client, email, f"A {kind} practitioner", ["practitioner"])


async def add_staff(gateway: Gateway, colleague: Member, email: str, name: str, roles: list[str]) -> Member:
    """Another member of staff of the colleague's organisation, signed in once to choose their password."""
    user = await gateway.http.post(
        "/admin/users",
        json={"organisation_id": colleague.organisation_id, "email": email, "name": name, "roles": roles},
        headers=await gateway.bearer(),
        timeout=HASHING,
    )
    assert user.status_code == 201, user.text
    password = await first_sign_in(gateway.url, email, user.json()["initial_password"])
    return replace(colleague, email=email, password=password)


async def first_sign_in(gateway_url: str, email: str, temporary_password: str) -> str:
    """Sign in with the password an administrator gave, change it as the front end asks first, and return it."""
    password = f"a password of my own for {email}"
    # Three argon2 checks in a row: on a loaded machine they take longer than httpx's five seconds.
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        form = (await http.get("/staff/sign-in")).text
        signed = await http.post(
            "/staff/sign-in",
            data={"email": email, "password": temporary_password, "sign_in_token": hidden(form, "sign_in_token")},
        )
        assert signed.headers["location"] == "/staff/change-password", signed.text
        page = (await http.get("/staff/change-password")).text
        changed = await http.post(
            "/staff/change-password",
            data={"current_password": temporary_password, "new_password": password, "confirm_password": password,
                  "csrf_token": hidden(page, "csrf_token")},
        )  # fmt: skip
        assert changed.status_code == 303 and changed.headers["location"] == "/staff/home", changed.text
        await http.post(
            "/staff/sign-out", data={"csrf_token": hidden((await http.get("/staff/find")).text, "csrf_token")}
        )
    return password


class Camera:
    """Screenshots of each step, kept as the test's artefacts under test-artifacts/frontend/<test>/."""

    def __init__(self, test_name: str) -> None:
        self.folder = ARTEFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def shoot(self, page: Page, step: str) -> None:
        self.count += 1
        await page.screenshot(path=self.folder / f"{self.count:02d}-{step}.png", full_page=True)


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

    async def sign_in_at_home(self, member: Member) -> None:
        """Signed in from the gateway's own address, landing on the member's home page."""
        await self.page.goto(self.base.removesuffix("/staff") + "/")
        await expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()
        await self.page.get_by_label("E-mail address").fill(member.email)
        await self.page.get_by_label("Password", exact=True).fill(member.password)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("heading", name="My work")).to_be_visible()

    async def find(self, nhs_number: str) -> None:
        await self.page.goto(f"{self.base}/find")
        await self.page.get_by_label("Identifier").fill(nhs_number)
        await self.page.get_by_role("button", name="Find").click()

    def assert_clean(self) -> None:
        """No serious or critical accessibility finding, and nothing the Content-Security-Policy blocked."""
        assert not self.violations, describe(self.violations)
        assert not self.policy_breaches


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} on the page"
    return html.unescape(found.group(1))


async def sign_in(
    http: httpx.AsyncClient, member: Member, password: str | None = None, next_page: str = ""
) -> httpx.Response:
    form = (await http.get("/staff/sign-in")).text
    return await http.post(
        "/staff/sign-in",
        data={"email": member.email.upper(), "password": password or member.password,
              "sign_in_token": hidden(form, "sign_in_token"), "next": next_page},
    )  # fmt: skip


async def answer_everything(page: Page) -> None:
    """Give an answer to every question on the page still unanswered, as a practitioner would."""
    for area in await page.locator("textarea").all():
        if not await area.input_value():
            await area.fill("The family told us about this at the home visit.")
    for box in await page.locator("input.govuk-input:not(.govuk-date-input__input)").all():
        if not await box.input_value():
            name = await box.get_attribute("name") or ""
            kind = await box.get_attribute("type")
            value = NHS_NUMBER if name.endswith("nhs_number") else "Alex Example"
            await box.fill("alex@example.org" if kind == "email" else value)
    for date_input in await page.locator(".govuk-date-input").all():
        for part, value in (("day", "1"), ("month", "3"), ("year", "2026")):
            field = date_input.locator(f"input[name$='-{part}']")
            if not await field.input_value():
                await field.fill(value)
    for group in await page.locator(".govuk-radios, .govuk-checkboxes").all():
        if not await group.locator("input:checked").count():
            await group.locator("input").first.check()
    for select in await page.locator("select.govuk-select").all():
        if not await select.input_value():
            await select.select_option(index=1)


async def save_and_continue(page: Page) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save and continue").click()


async def submit(page: Page, button: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=button).click()


async def fill_date(page: Page, legend: str, day: date) -> None:
    group = page.get_by_role("group", name=legend)
    await group.get_by_label("Day").fill(str(day.day))
    await group.get_by_label("Month").fill(str(day.month))
    await group.get_by_label("Year").fill(str(day.year))


async def focused(page: Page) -> str:
    """The id of the element the keyboard is on (its tag name when it has none)."""
    return str(await page.evaluate("document.activeElement.id || document.activeElement.tagName"))


async def tab_to(page: Page, element_id: str, presses: int = 40) -> None:
    """Tab forward, as a keyboard user does, until the element is reached: past the skip link, header and menu."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await focused(page) == element_id:
            return
    raise AssertionError(f"{element_id} is not reached with the Tab key")


async def reload_until_shown(page: Page, shown: Locator, within: float = 60.0) -> None:
    """Reload a server-rendered page until it shows what a service does in the background (a consumer's effect)."""

    async def there() -> bool:
        await page.reload()
        return await shown.count() > 0

    there.__name__ = f"reload_until_shown({shown})"
    await eventually(there, within)

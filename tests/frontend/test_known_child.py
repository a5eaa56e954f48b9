"""Requesting support for a child another organisation registered asks for access; it names no family."""

import re

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import Camera, People, client_headers, open_session
from tests.support.gateway import GatewayStack
from tests.support.samples import family_body


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_requesting_support_for_a_known_child_shows_that_access_was_asked_for(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    school = await client_headers(stack.gateway, people.school)
    registered = await stack.gateway.http.post("/families", json=family_body("9434765919"), headers=school)
    assert registered.status_code == 201, registered.text
    family_id = registered.json()["id"]

    base = f"{stack.gateway.url}/staff"
    health = await open_session(browser, base, camera, javascript)
    page = health.page
    await health.sign_in(people.health)
    await health.find("9434765919")
    await expect(page.get_by_text("No family was found that your organisation may see.")).to_be_visible()
    await page.get_by_role("link", name="request support for a new family").click()
    await page.get_by_label("First name").first.fill("Amara")
    await page.get_by_label("Last name").first.fill("Okafor")
    await page.get_by_label("NHS number (if known)").fill("943 476 5919")
    await page.get_by_label("First name").nth(1).fill("Grace")
    await page.get_by_label("Last name").nth(1).fill("Okafor")
    await page.get_by_role("button", name="Continue").click()

    await expect(page.get_by_role("heading", name="Access requested")).to_be_visible()
    await health.step("access-requested")
    text = await page.locator("main").inner_text()
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text), text  # the reference
    assert family_id not in await page.content() and people.school.organisation_name not in text
    health.assert_clean()
    await health.context.close()

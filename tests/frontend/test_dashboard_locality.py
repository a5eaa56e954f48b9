"""The dashboard's locality filter, against the plan service's localities (`GET /reports/localities`, the council's
own list: code, name and child population) and the `locality=<code>` its reports take.

A family registered without a postcode is in no locality: its active plan counts for every locality, and for none
of the council's localities once one is chosen; the choice reaches each plan report and its CSV, and the front
door's report and its CSV too.
"""

from datetime import date
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from tests.support.browser import HASHING, Camera, People, add_staff, client_headers, open_session, sign_in, submit
from tests.support.gateway import GatewayStack
from tests.support.plan import draft_plan


async def _active_plan(http: httpx.AsyncClient, author: dict[str, str], organisation_id: str) -> None:
    """A family with no postcode, and its plan led and activated today."""
    plan = await draft_plan(http, author)
    for path, body, method in (
        ("", {"lead_professional": {"name": "A council practitioner", "organisation_id": organisation_id}}, "PATCH"),
        ("/goals", {"need_ids": [plan["needs"][0]["id"]], "outcome_area": plan["needs"][0]["outcome_area"],
                    "description": "In school every day.", "measure_of_success": "Attendance above 95%."}, "POST"),
        ("/activate", {}, "POST"),
    ):  # fmt: skip
        answer = await http.request(method, f"/plans/{plan['id']}{path}", json=body,
                                    headers=author | {"If-Match": f'"{plan["version"]}"'})  # fmt: skip
        assert answer.status_code in (200, 201), answer.text
        plan = answer.json()


async def _localities(stack: GatewayStack, people: People) -> list[dict[str, Any]]:
    """The council's localities as a partner system with `reports:read` reads them."""
    gateway = stack.gateway
    client = await gateway.http.post(
        "/admin/clients",
        json={
            "organisation_id": people.council.organisation_id,
            "name": "Performance team",
            "scopes": ["reports:read"],
        },
        headers=await gateway.bearer(),
        timeout=HASHING,
    )
    assert client.status_code == 201, client.text
    reader = await gateway.bearer(client_id=client.json()["id"], secret=client.json()["client_secret"])
    answer = await gateway.http.get("/reports/localities", headers=reader)
    assert answer.status_code == 200, answer.text
    localities: list[dict[str, Any]] = answer.json()["localities"]
    assert localities and all({"code", "name", "children"} <= set(place) for place in localities)
    return localities


async def test_a_manager_chooses_a_locality_and_every_plan_measure_and_its_csv_counts_that_locality_alone(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    gateway = stack.gateway
    manager = await add_staff(gateway, people.council, "manager@northshire.example", "A team manager", ["manager"])
    await _active_plan(gateway.http, await client_headers(gateway, people.council), people.council.organisation_id)
    localities = await _localities(stack, people)
    chosen = localities[0]

    session = await open_session(browser, f"{gateway.url}/staff", camera)
    page = session.page
    await session.sign_in_at_home(manager)
    await page.goto(f"{session.base}/dashboard")
    select = page.get_by_label("Locality")
    options = select.locator("option")
    await expect(options).to_have_text(["Every locality", *(place["name"] for place in localities)])
    assert [await option.get_attribute("value") for option in await options.all()] == [
        "",
        *(place["code"] for place in localities),
    ]
    figures = page.locator(".app-headline__figure")
    await expect(figures.first).to_have_text("1")  # every locality: the plan of the family without a postcode

    await select.select_option(chosen["code"])
    await submit(page, "Show the measures")
    today = date.today()
    await expect(page.locator("#measures")).to_contain_text(f", {chosen['name']}")
    await expect(select).to_have_value(chosen["code"])
    await expect(figures.first).to_have_text("0")  # the family is in no locality
    await expect(page.get_by_role("region", name="Reviews overdue by lead agency")).to_contain_text(
        "No active plans today, whatever the period chosen."
    )
    front_door = page.get_by_role("link", name="Download the front door decisions by outcome figures (CSV)")
    front_door_href = await front_door.get_attribute("href")
    assert front_door_href is not None and front_door_href.endswith(f"&locality={chosen['code']}")
    open_work = page.get_by_role("link", name="Download the open plans figures (CSV)")
    href = await open_work.get_attribute("href")
    assert href is not None and href.endswith(f"&locality={chosen['code']}")
    await session.step("dashboard-locality")

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as browsing:
        await sign_in(browsing, manager)
        download = await browsing.get(href)
        assert download.status_code == 200, download.text
        assert download.headers["content-type"].startswith("text/csv")
        assert f"-to-{today}-" in download.headers["content-disposition"]
        header, everyone = download.text.splitlines()[:2]
        assert header == "group,plans,families,children" and everyone == ",0,0,0"
        unknown = await browsing.get("/staff/dashboard", params={"locality": "no-such-place"})
        assert unknown.status_code == 400
        assert "Select a locality from the list." in unknown.text and 'href="#locality"' in unknown.text
        assert (
            await browsing.get("/staff/dashboard/open-work.csv", params={"locality": "no-such-place"})
        ).status_code == 400

    session.assert_clean()
    await session.context.close()

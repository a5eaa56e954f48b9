"""A manager's dashboard in Debian's Chromium, with JavaScript and without: the council's measures over known plans
and front-door decisions made through the API, as charts with their tables, filtered by period, each with its CSV.

The council's practitioners work three families' plans (two closed, one still active with its review overdue) and
ask the front door for support twice; the manager reads the figures the services count from them.
"""

import asyncio
import csv
import io
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.support.browser import Camera, People, add_staff, client_headers, open_session, register, sign_in, submit
from tests.support.gateway import GatewayStack
from tests.support.plan import draft_plan
from tests.support.samples import assessment_answers, family_body, nhs_numbers, submitted_sample

TODAY = date.today()
STARTED, ACTIVATED = TODAY - timedelta(days=120), TODAY - timedelta(days=110)  # the review fell due 68 days ago
# The dashboard's first day by default, the twelve months to today: the day after this day a year ago (28 February
# for 29 February).
YEAR_AGO = date(TODAY.year - 1, TODAY.month, min(TODAY.day, 28 if TODAY.month == 2 else 31)) + timedelta(days=1)


async def _plan(http: httpx.AsyncClient, author: dict[str, str], organisation_id: str, nhs: str) -> dict[str, Any]:
    """A family's plan, opened from its early help assessment started 120 days ago, led and activated 110 days ago."""
    plan = await draft_plan(http, author, nhs, assessment_answers(started=STARTED.isoformat()))
    plan = await _change(http, author, plan, "", {"lead_professional": {"name": "A council practitioner",
                         "organisation_id": organisation_id}}, "PATCH")  # fmt: skip
    goal = {"need_ids": [plan["needs"][0]["id"]], "outcome_area": plan["needs"][0]["outcome_area"],
            "description": "In school every day.", "measure_of_success": "Attendance above 95%."}  # fmt: skip
    plan = await _change(http, author, plan, "/goals", goal)
    return await _change(http, author, plan, "/activate", {"activated_on": ACTIVATED.isoformat()})


async def _change(
    http: httpx.AsyncClient, who: dict[str, str], plan: dict[str, Any], path: str, body: Any, method: str = "POST"
) -> dict[str, Any]:
    headers = who | {"If-Match": f'"{plan["version"]}"'}
    answer = await http.request(method, f"/plans/{plan['id']}{path}", json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    changed: dict[str, Any] = answer.json()
    return changed


async def _decided(
    http: httpx.AsyncClient, author: dict[str, str], hub: dict[str, str], nhs: str, **decision: Any
) -> None:
    """A request for support the author makes today, decided by the front door today: 0 working days."""
    family = (await http.post("/families", json=family_body(nhs), headers=author)).json()
    made = await http.post("/assessments", json=submitted_sample(family["id"], "request-for-support"), headers=author)
    assert made.status_code == 201, made.text
    path = f"/requests-for-support/{made.json()['id']}/decision"
    decided = await http.post(path, json=decision, headers=hub)
    assert decided.status_code == 201, decided.text


def _section(page: Page, heading: str) -> Locator:
    return page.get_by_role("region", name=heading)


async def _table(section: Locator) -> list[list[str]]:
    """The chart's table, row by row, header row first."""
    rows = section.get_by_role("table").get_by_role("row")
    return [[cell.strip() for cell in await row.locator("th, td").all_inner_texts()] for row in await rows.all()]


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_a_manager_reads_the_measures_as_charts_and_tables_for_a_period_and_downloads_each_as_csv(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    gateway = stack.gateway
    http = gateway.http
    hub = await register(gateway, "Northshire Early Help Hub", "council", "duty@hub.example", coordinator=True)
    manager = await add_staff(gateway, people.council, "manager@northshire.example", "A team manager", ["manager"])
    council = await client_headers(gateway, people.council)
    first, second, third, fourth, fifth = nhs_numbers(5)
    met = await _plan(http, council, people.council.organisation_id, first)
    await _change(http, council, met, "/close",
                  {"reason": "outcomes_met", "closed_on": (TODAY - timedelta(days=20)).isoformat()})  # fmt: skip
    gone = await _plan(http, council, people.council.organisation_id, second)
    await _change(http, council, gone, "/close",
                  {"reason": "family_disengaged", "closed_on": (TODAY - timedelta(days=10)).isoformat()})  # fmt: skip
    await _plan(http, council, people.council.organisation_id, third)  # still active, its review 68 days overdue
    front_door = await client_headers(gateway, hub)
    await _decided(http, council, front_door, fourth, outcome="early_help_assessment",
                   allocated_organisation_id=people.council.organisation_id)  # fmt: skip
    await _decided(http, council, front_door, fifth, outcome="signpost")

    # A practitioner has no dashboard: no menu item, and the usual page when they ask for it.
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as browsing:
        await sign_in(browsing, people.council)
        home = await browsing.get("/staff/home")
        assert "Dashboard" not in home.text
        refused = await browsing.get("/staff/dashboard")
        assert refused.status_code == 403
        assert "You cannot see this" in refused.text and "The dashboard is for managers." in refused.text
        assert (await browsing.get("/staff/dashboard/closures.csv")).status_code == 403

    session = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    page = session.page
    await session.sign_in_at_home(manager)
    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Dashboard").click()
    await expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    await expect(page.get_by_role("group", name="From").get_by_label("Year")).to_have_value(str(YEAR_AGO.year))
    await expect(page.get_by_role("group", name="To").get_by_label("Day")).to_have_value(str(TODAY.day))
    await expect(page.locator(".app-headline__label")).to_have_text(
        ["Open plans", "Children supported", "Front door decisions within 10 working days"]
    )
    await expect(page.locator(".app-headline__figure")).to_have_text(["1", "1", "100%"])
    await expect(page.locator("#headlines")).to_contain_text("in 1 family")

    closures = _section(page, "Plans closed by reason")
    await expect(closures.get_by_role("img", name="Plans closed by reason")).to_be_visible()
    assert await _table(closures) == [["Reason", "Episodes closed"], ["The family disengaged", "1"],
                                      ["Outcomes met", "1"]]  # fmt: skip
    await expect(closures).to_contain_text("2 closed; 50% with outcomes met.")
    assert await closures.locator("svg desc").text_content() == "The family disengaged: 1. Outcomes met: 1."
    front = _section(page, "Front door decisions by outcome")
    assert await _table(front) == [["Outcome", "Decisions"], ["Early help assessment", "1"],
                                   ["Signposted to universal services", "1"]]  # fmt: skip
    await expect(front).to_contain_text("2 of 2 decided within 10 working days of the request (100%).")
    started = _section(page, "Early help assessments started by agency")
    assert await _table(started) == [["Agency", "Assessments started"], ["Council", "3"]]
    duration = _section(page, "How long closed episodes lasted")
    assert await _table(duration) == [["Length", "Episodes"], ["Under 3 months", "0"], ["3 to 6 months", "2"],
                                      ["6 to 12 months", "0"], ["Over 12 months", "0"]]  # fmt: skip
    await expect(duration).to_contain_text("2 episodes closed; median 105 days.")
    overdue = _section(page, "Reviews overdue by lead agency")
    assert await _table(overdue) == [["Lead agency", "Reviews overdue", "Active plans"],
                                     ["Northshire Early Help", "1", "1"]]  # fmt: skip
    again = _section(page, "Re-referrals after early help closed")
    assert (await _table(again))[1] == ["Early help again within 6 months", "0", "2", "0%"]
    await expect(_section(page, "Progress on the change matrix")).to_contain_text("Nothing to count in this period.")
    await session.step("dashboard")

    # Each chart's figures as CSV, fetched as the manager and downloaded with the period in its name.
    async with page.expect_download() as downloading:
        await closures.get_by_role("link", name="Download the plans closed by reason figures (CSV)").click()
    download = await downloading.value
    assert download.suggested_filename == f"closures-{YEAR_AGO}-to-{TODAY}.csv"
    saved = await asyncio.to_thread((await download.path()).read_text, encoding="utf-8")
    assert list(csv.DictReader(io.StringIO(saved))) == [
        {"reason": "family_disengaged", "plans": "1"},
        {"reason": "outcomes_met", "plans": "1"},
    ]

    # A period after the closures: none closed in it; the open plan is still open at its end.
    since = TODAY - timedelta(days=5)
    group = page.get_by_role("group", name="From")
    for part, value in (("Day", since.day), ("Month", since.month), ("Year", since.year)):
        await group.get_by_label(part).fill(str(value))
    await submit(page, "Show the measures")
    await expect(closures).to_contain_text("None closed in the period.")
    await expect(closures).to_contain_text("Nothing to count in this period.")
    await expect(page.locator(".app-headline__figure").first).to_have_text("1")
    link = closures.get_by_role("link", name="Download the plans closed by reason figures (CSV)")
    assert await link.get_attribute("href") == f"/staff/dashboard/closures.csv?from={since}&to={TODAY}"
    await session.step("dashboard-since")

    # Dates that are not real, or the wrong way round, are said so at the top of the page, linked to the field.
    await group.get_by_label("Day").fill("31")
    await group.get_by_label("Month").fill("2")
    await submit(page, "Show the measures")
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("The start date must be a real date, like 1 4 2025.")
    await expect(summary.get_by_role("link")).to_have_attribute("href", "#from-day")
    await expect(page).to_have_title("Error: Dashboard - Early help: Graduated Pathway")
    await expect(page.locator("#headlines")).to_have_count(0)
    await session.step("dashboard-not-a-date")
    for part, value in (("Day", TODAY.day), ("Month", TODAY.month), ("Year", TODAY.year + 1)):
        await group.get_by_label(part).fill(str(value))
    await submit(page, "Show the measures")
    await expect(summary).to_contain_text("The start date must be the same as or before the end date.")
    await session.step("dashboard-wrong-way-round")

    session.assert_clean()
    await session.context.close()

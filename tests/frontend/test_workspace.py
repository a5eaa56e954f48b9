"""The practitioner's workspace: home, the council's branding, the front door and access requests.

Each member sees on their home page what they and their organisation must act on, and no more than
their organisation may see. Every page is checked with axe-core, and each form is used with and
without JavaScript.
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Request, expect

from gateway.main import create_app
from services.kit.natsserver import NatsServer, free_port
from services.kit.testing import DatabaseFactory, running
from tests.support.browser import (
    Camera,
    Member,
    People,
    client_headers,
    hidden,
    open_session,
    register,
    sign_in,
)
from tests.support.gateway import BRAND_COLOUR, COUNCIL_NAME, Gateway, GatewayStack, gateway_settings
from tests.support.samples import family_body, sample, submitted_sample
from tests.support.waiting import eventually

GOVUK_ONLY = (
    "/assets/fonts/light-94a07e06a1-v2.woff2",
    "/staff/static/assets/fonts/bold-b542beb274-v2.woff2",
    "/staff/static/assets/images/govuk-crest.svg",
    "/staff/static/assets/manifest.json",
)
JAVASCRIPT = pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])


async def _home(stack: GatewayStack, member: Member) -> str:
    """The member's home page as a browser without scripts gets it."""
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        assert (await sign_in(http, member)).headers["location"] == "/staff/home"
        page = await http.get("/staff/home")
        assert page.status_code == 200, page.text
        return page.text


async def test_the_gateway_root_leads_to_sign_in_then_home_under_the_council_s_own_header_and_typeface(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    http = stack.gateway.http
    root = await http.get("/")
    assert root.status_code == 303 and root.headers["location"] == "/staff/home"
    home = await http.get("/staff/home")
    assert home.status_code == 303 and home.headers["location"] == "/staff/sign-in?next=%2Fstaff%2Fhome"
    # GOV.UK's typeface and crown are not served; its styles and scripts are.
    for path in GOVUK_ONLY:
        assert (await http.get(path)).status_code == 404, path
    assert (await http.get("/staff/static/govuk-frontend.min.css")).status_code == 200
    brand = await http.get("/staff/brand.css")
    assert brand.headers["content-type"].startswith("text/css") and BRAND_COLOUR in brand.text

    council = await open_session(browser, f"{stack.gateway.url}/staff", camera)
    asked: list[str] = []

    def note(request: Request) -> None:
        asked.append(request.url)

    council.page.on("request", note)
    await council.sign_in_at_home(people.council)
    page = council.page
    assert page.url.endswith("/staff/home")
    header = page.locator(".govuk-generic-header")
    await expect(header).to_have_text(COUNCIL_NAME)
    await expect(header).to_have_css("background-color", "rgb(0, 112, 60)")  # the brand colour configured
    await expect(page.locator(".govuk-header, .govuk-logo, .govuk-header__crown, .govuk-footer__crown")).to_have_count(
        0
    )
    await expect(page.locator("header svg")).to_have_count(0)
    footer = page.locator("footer")
    await expect(footer).to_contain_text(f"© {COUNCIL_NAME}")
    await expect(footer.get_by_role("link", name="Privacy")).to_have_attribute(
        "href", "https://testshire.example/privacy"
    )
    assert "Crown copyright" not in await footer.inner_text()
    typeface = await page.locator("h1").evaluate("(element) => getComputedStyle(element).fontFamily")
    assert "GDS Transport" not in typeface, typeface
    await council.step("home")
    await page.get_by_role("link", name="Find a family").click()
    await expect(page.get_by_role("heading", name="Find a family")).to_be_visible()
    await page.get_by_role("link", name="Access requests").click()
    await expect(page.get_by_role("heading", name="Access requests")).to_be_visible()
    await council.step("access-requests")
    fonts = [url for url in asked if "/assets/" in url or ".woff" in url or "font" in url.rsplit("/", 1)[-1]]
    assert not fonts, fonts
    assert any(url.endswith("/staff/brand.css") for url in asked)
    council.assert_clean()


async def _submitted_request_for_support(http: httpx.AsyncClient, school: dict[str, str]) -> dict[str, Any]:
    family = (await http.post("/families", json=family_body(), headers=school)).json()
    made = await http.post("/assessments", json=submitted_sample(family["id"], "request-for-support"), headers=school)
    assert made.status_code == 201, made.text
    return {"family_id": family["id"], "assessment_id": made.json()["id"]}


@JAVASCRIPT
async def test_a_coordinator_allocates_a_request_for_support_and_only_the_allocated_organisation_sees_it_at_home(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    gateway = stack.gateway
    hub = await register(gateway, "Testshire Early Help Hub", "council", "duty@hub.example", coordinator=True)
    school = await client_headers(gateway, people.school)
    submitted = await _submitted_request_for_support(gateway.http, school)

    coordinator = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    page = coordinator.page
    await coordinator.sign_in_at_home(hub)
    counts = page.locator("#work-counts")
    await expect(counts).to_contain_text("Requests for support waiting for a decision (1)")
    await coordinator.step("coordinator-home")
    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Front door").click()
    queue = page.get_by_role("table", name="Requests for support waiting for a decision")
    row = queue.get_by_role("row").nth(1)
    await expect(row).to_contain_text("Hill Top Primary")
    await expect(row.get_by_role("cell").nth(2)).to_have_text("0")  # submitted today: no working day yet
    await coordinator.step("front-door")
    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Decide what happens next")).to_be_visible()

    await page.get_by_role("button", name="Record the decision").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Select what happens next.")
    await page.get_by_label("An early help assessment, by the organisation given the work").check()
    assert not await page.get_by_label("Which organisation will do the early help assessment?").input_value()
    await page.get_by_label("Note (optional)").fill("Health visiting know the family best.")
    await page.get_by_role("button", name="Record the decision").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Select the organisation that will do the early help assessment.")
    await expect(page.get_by_label("Note (optional)")).to_have_value("Health visiting know the family best.")
    await coordinator.step("decision-errors")
    await page.get_by_label("Which organisation will do the early help assessment?").select_option(
        label=people.health.organisation_name
    )
    await coordinator.step("decision")
    await page.get_by_role("button", name="Record the decision").click()
    await expect(page.get_by_text("The decision is recorded.")).to_be_visible()
    await expect(page.get_by_text("No request for support is waiting.")).to_be_visible()
    await coordinator.step("decided")

    decided = await gateway.http.get(
        "/requests-for-support", params={"status": "decided"}, headers=await client_headers(gateway, hub)
    )
    [decision] = [r["decision"] for r in decided.json() if r["assessment_id"] == submitted["assessment_id"]]
    assert (
        decision["outcome"] == "early_help_assessment" and decision["note"] == "Health visiting know the family best."
    )
    assert decision["allocated_organisation_id"] == people.health.organisation_id

    health = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    await health.sign_in_at_home(people.health)
    await expect(health.page.locator("#work-counts")).to_contain_text(
        "Requests for support allocated to Northshire Health Visiting (1)"
    )
    allocated = health.page.locator("#allocated + ul")
    await expect(allocated).to_contain_text("Health visiting know the family best.")
    await health.step("allocated-home")
    await allocated.get_by_role("link").click()
    await expect(health.page.get_by_role("heading", name="Amara Okafor")).to_be_visible()  # the allocation opens it
    await health.page.get_by_role("link", name="Front door").click()
    await expect(
        health.page.get_by_role("table", name="Requests for support allocated to your organisation")
    ).to_contain_text("An early help assessment")
    await health.step("allocated-front-door")

    # Another organisation's home lists none of it.
    for stranger in (people.council, people.school):
        other = await _home(stack, stranger)
        assert "Requests for support allocated to" in other and "(0)" in other
        assert submitted["family_id"] not in other and "Health visiting know the family best." not in other
        assert "waiting for a decision" not in other  # not a coordinator
    coordinator.assert_clean()
    health.assert_clean()


@JAVASCRIPT
async def test_an_organisation_asks_for_access_the_family_s_school_approves_and_then_it_sees_the_family(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    gateway = stack.gateway
    school_api = await client_headers(gateway, people.school)
    family = {"id": (await _submitted_request_for_support(gateway.http, school_api))["family_id"]}

    health = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    page = health.page
    await health.sign_in_at_home(people.health)
    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Access requests").click()
    await page.get_by_role("link", name="Ask for access to a family's records").click()
    await page.get_by_role("button", name="Ask for access").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Enter the child's identifier.")
    await expect(summary).to_contain_text("Enter the child's date of birth, like 27 3 2017.")
    await expect(
        summary.get_by_role("link", name="Enter the child's date of birth, like 27 3 2017.")
    ).to_have_attribute("href", "#date_of_birth-day")
    await health.step("ask-errors")
    await page.get_by_label("The child's identifier").fill("943 476 5919")
    born = page.get_by_role("group", name="The child's date of birth")
    await born.get_by_label("Day").fill("14")
    await born.get_by_label("Month").fill("5")
    await born.get_by_label("Year").fill("2017")
    await page.get_by_label("Assessments").check()  # the school, with no plan, holds a basis for these alone
    await page.get_by_label("Why does your organisation need to see them?").fill(
        "The health visitor is seeing the baby at home and the family asked us to work with the school."
    )
    await health.step("ask")
    await page.get_by_role("button", name="Ask for access").click()
    await expect(page.get_by_text("Your request is sent.")).to_be_visible()
    mine = page.get_by_role("table", name="Your organisation's access requests and their answers")
    await expect(mine).to_contain_text("Waiting")
    await expect(mine.get_by_role("link")).to_have_count(0)  # no family named before an answer
    await health.step("asked")

    # The council holds no basis for the family: nothing waits for its answer.
    council_home = await _home(stack, people.council)
    assert 'Access requests waiting for your answer</a> <span class="app-count">(0)' in council_home

    async def asked_of_the_school() -> bool:  # once the consent service has heard the school wrote the request
        incoming = await gateway.http.get("/access-requests", params={"direction": "incoming"}, headers=school_api)
        return len(incoming.json()) == 1

    await eventually(asked_of_the_school)
    school = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    await school.sign_in_at_home(people.school)
    await expect(school.page.locator("#work-counts")).to_contain_text("Access requests waiting for your answer (1)")
    await school.step("school-home")
    await school.page.get_by_role("link", name=f"{people.health.organisation_name} asked on").click()
    await expect(school.page.get_by_role("heading", name="Answer a request for access")).to_be_visible()
    await expect(school.page.get_by_text("The health visitor is seeing the baby at home")).to_be_visible()
    await school.page.get_by_role("button", name="Record the family's consent and share").click()
    summary = school.page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Select who gave their consent.")
    await expect(summary).to_contain_text("Select how they gave it.")
    await school.page.get_by_label("A parent or carer").check()
    await school.page.get_by_label("By speaking").check()
    await school.step("answer")
    await school.page.get_by_role("button", name="Record the family's consent and share").click()
    await expect(school.page.get_by_text("Your answer is recorded.")).to_be_visible()
    await expect(school.page.get_by_text("No access request is waiting for your answer.")).to_be_visible()

    grants = (await gateway.http.get("/consents", params={"family_id": family["id"]}, headers=school_api)).json()
    assert [(g["recipient_organisations"], sorted(g["categories"]), g["evidence"]) for g in grants] == [
        ([people.health.organisation_id], ["assessment"], "verbal")
    ]

    await page.reload()
    await expect(mine).to_contain_text("Approved")
    await mine.get_by_role("link", name="Open the family's records").click()
    await expect(page.get_by_role("heading", name="Amara Okafor")).to_be_visible()
    await health.step("family-seen")
    health.assert_clean()
    school.assert_clean()


async def _led_plan(http: httpx.AsyncClient, author: dict[str, str], lead: Member, nhs: str, due: str) -> str:
    """A family's plan, opened from its submitted assessment, led by `lead` with its next review due on `due`."""
    family = (await http.post("/families", json=family_body(nhs), headers=author)).json()
    assessment = {"family_id": family["id"], "form": {"key": "early-help-assessment", "version": 1},
                  "answers": sample("early-help-assessment", 1), "status": "submitted"}  # fmt: skip
    assert (await http.post("/assessments", json=assessment, headers=author)).status_code == 201
    listed: list[dict[str, Any]] = []

    async def opened() -> bool:
        listed[:] = (await http.get("/plans", params={"family_id": family["id"]}, headers=author)).json()
        return len(listed) == 1

    await eventually(opened)
    change = {"lead_professional": {"name": "A council practitioner", "organisation_id": lead.organisation_id,
              "email": lead.email}, "next_review_due": due}  # fmt: skip
    headers = author | {"If-Match": f'"{listed[0]["version"]}"'}
    assert (await http.patch(f"/plans/{listed[0]['id']}", json=change, headers=headers)).status_code == 200
    return str(listed[0]["id"])


async def test_a_lead_professional_s_home_lists_their_families_overdue_review_first_and_no_other_organisation_s(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    http = stack.gateway.http
    council = await client_headers(stack.gateway, people.council)
    today = datetime.now(UTC).date()
    later = await _led_plan(http, council, people.council, "9434765919", (today + timedelta(days=30)).isoformat())
    overdue = await _led_plan(http, council, people.council, "9434765927", (today - timedelta(days=3)).isoformat())

    body = {"family_id": (await http.get(f"/plans/{later}", headers=council)).json()["family_id"],
            "form": {"key": "early-help-assessment", "version": 1}, "answers": {}}  # fmt: skip
    draft = (await http.post("/assessments", json=body, headers=council)).json()["id"]

    lead = await open_session(browser, f"{stack.gateway.url}/staff", camera)
    await lead.sign_in_at_home(people.council)
    page = lead.page
    await expect(page.locator("#work-counts")).to_contain_text("Families you are the lead professional for (2)")
    rows = page.get_by_role("table", name="Families you are the lead professional for, the next review due first")
    plan_links = rows.get_by_role("link", name="Plan opened")
    assert [await link.get_attribute("href") for link in await plan_links.all()] == [
        f"/staff/plans/{overdue}",
        f"/staff/plans/{later}",
    ]
    await expect(rows.get_by_role("row").nth(1)).to_contain_text("Overdue")
    await expect(rows.get_by_role("row").nth(2)).not_to_contain_text("Overdue")
    await expect(rows.get_by_role("row").nth(1)).to_contain_text("Amara Okafor")
    await expect(page.locator("#work-counts")).to_contain_text("Assessments in draft (1)")
    await expect(page.locator("#drafts ~ ul").get_by_role("link")).to_have_attribute(
        "href", f"/staff/assessments/{draft}"
    )
    await lead.step("lead-home")
    lead.assert_clean()

    # The school, which may not see these families, is shown none of them.
    school_home = await _home(stack, people.school)
    assert 'Families you are the lead professional for</a> <span class="app-count">(0)' in school_home
    assert overdue not in school_home and later not in school_home and "Amara" not in school_home
    assert 'Assessments in draft</a> <span class="app-count">(0)' in school_home and draft not in school_home


def _menu(page: Any) -> Any:
    return page.get_by_role("navigation", name="Menu")


def _read_out(name: str) -> re.Pattern[str]:
    """A link's whole accessible name, "Front door (1 request for support)": Chromium puts a space before the
    closing bracket, after the visually hidden words, which a screen reader does not say."""
    return re.compile("^" + re.escape(name.removesuffix(")")) + r"\s*\)$")


@JAVASCRIPT
async def test_the_navigation_counts_the_member_s_work_on_every_page_and_never_another_organisation_s(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    gateway = stack.gateway
    hub = await register(gateway, "Testshire Early Help Hub", "council", "duty@hub.example", coordinator=True)
    school = await client_headers(gateway, people.school)
    submitted = await _submitted_request_for_support(gateway.http, school)
    body = {"family_id": submitted["family_id"], "form": {"key": "early-help-assessment", "version": 1}, "answers": {}}
    assert (await gateway.http.post("/assessments", json=body, headers=school)).status_code == 201

    coordinator = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    page = coordinator.page
    await coordinator.sign_in_at_home(hub)
    # Seen as "Front door (1)"; read out as "Front door (1 request for support)".
    front_door = _menu(page).get_by_role("link", name=_read_out("Front door (1 request for support)"))
    await expect(front_door.locator(".app-count")).to_be_visible()
    assert await front_door.locator(".govuk-visually-hidden").evaluate("e => e.getBoundingClientRect().width") <= 1
    await expect(_menu(page).get_by_role("link", name=_read_out("My work (1 thing to act on)"))).to_be_visible()
    await expect(
        _menu(page).get_by_role("link", name=_read_out("Access requests (0 waiting for your answer)"))
    ).to_be_visible()
    await coordinator.step("counted-home")
    # Every page counts the same, once: the front door's own list and its count agree.
    await front_door.click()
    await expect(page.get_by_role("table", name="Requests for support waiting for a decision")).to_be_visible()
    await expect(_menu(page).get_by_role("link", name=_read_out("Front door (1 request for support)"))).to_be_visible()
    await page.get_by_role("link", name="Find a family").click()
    await expect(page.get_by_role("heading", name="Find a family")).to_be_visible()
    await expect(_menu(page).get_by_role("link", name=_read_out("My work (1 thing to act on)"))).to_be_visible()
    await coordinator.step("counted-find")
    coordinator.assert_clean()

    # The school's own draft is its work; the request it sent waits for the hub, not for it.
    school_session = await open_session(browser, f"{gateway.url}/staff", camera, javascript)
    await school_session.sign_in_at_home(people.school)
    menu = _menu(school_session.page)
    await expect(menu.get_by_role("link", name=_read_out("My work (1 thing to act on)"))).to_be_visible()
    await expect(menu.get_by_role("link", name=_read_out("Front door (0 requests for support)"))).to_be_visible()
    school_session.assert_clean()

    # Health visiting, another organisation, is counted none of it.
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        assert (await sign_in(http, people.health)).status_code == 303
        for path in ("/staff/home", "/staff/find", "/staff/front-door", "/staff/access-requests"):
            shown = await http.get(path)
            assert shown.status_code == 200, (path, shown.text)
            for counted in ("My work", "Front door", "Access requests"):
                assert f'{counted} <span class="app-count">(0<span' in shown.text, (path, counted)
            assert submitted["family_id"] not in shown.text


async def test_a_page_is_shown_without_counts_when_the_services_cannot_give_them(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    port = free_port()
    nothing_there = f"http://127.0.0.1:{free_port()}"  # every service away
    app = create_app(gateway_settings(nats_server.url, await database_factory("gw"), tmp_path, nothing_there, port))
    async with running(app, port) as url, httpx.AsyncClient(base_url=url, timeout=30) as admin:
        member = await register(Gateway(url, app, admin), "Northshire Early Help", "council", "lead@northshire.example")
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            assert (await sign_in(http, member)).status_code == 303
            find = await http.get("/staff/find")
            assert find.status_code == 200, find.text
            assert 'href="/staff/front-door"' in find.text and "app-count" not in find.text
            home = await http.get("/staff/home")
            assert home.status_code == 200, home.text
            assert home.text.count("This list cannot be shown at the moment.") == 4  # not a coordinator: no queue
            assert "app-count" not in home.text
            assert hidden(home.text, "csrf_token")  # still a page the member can sign out from

"""The whole plan in the staff pages: a lead professional works a plan from draft to closure, and it is reopened.

Every change goes through the plan service as the signed-in member, with the ETag the page was rendered with;
only what the plan's status allows is offered; a change someone else made first keeps what was typed.
"""

from datetime import date
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import (
    Camera,
    Member,
    People,
    client_headers,
    fill_date,
    focused,
    hidden,
    open_session,
    sign_in,
    submit,
    tab_to,
)
from tests.support.gateway import GatewayStack
from tests.support.plan import draft_plan
from tests.support.waiting import eventually


async def offered(page: Page) -> list[str]:
    """The plan's next steps the page offers, as buttons."""
    return await page.locator("#next-steps a").all_inner_texts()


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_a_lead_professional_builds_activates_reviews_and_closes_a_plan_which_is_reopened(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    author = await client_headers(stack.gateway, people.council)
    plan = await draft_plan(stack.gateway.http, author)
    need = plan["needs"][0]["description"]
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera, javascript)
    page = council.page
    await council.sign_in(people.council)
    await page.goto(f"{council.base}/plans/{plan['id']}")
    assert await offered(page) == ["Activate the plan", "Discard the draft"]
    await expect(page.get_by_role("link", name="Record a review")).to_have_count(0)
    await council.step("draft")

    # The lead professional names themselves.
    await page.get_by_role("link", name="Name the lead professional").click()
    await council.step("lead")
    await page.get_by_label("Name", exact=True).fill("Sam Lead")
    await page.get_by_label("Organisation").select_option(label="Northshire Early Help")
    await page.get_by_label("Work e-mail address (optional)").fill("sam.lead@northshire.example")
    await submit(page, "Save")
    await expect(page.get_by_text("The lead professional is named.")).to_be_visible()
    await expect(page.get_by_text("Sam Lead, Northshire Early Help")).to_be_visible()

    # The team around the family: two named people; one is removed again.
    for name, role, organisation in (("Jo Teacher", "Class teacher", "Hill Top Primary"),
                                     ("Pat Visitor", "Health visitor", "Northshire Health Visiting")):  # fmt: skip
        await page.get_by_role("link", name="Add a team member").click()
        await page.get_by_label("Name", exact=True).fill(name)
        await page.get_by_label("Role").fill(role)
        await page.get_by_label("Organisation").select_option(label=organisation)
        await council.step("team-member")
        await submit(page, "Add to the team")
        await expect(page.get_by_text("The team member is added.")).to_be_visible()
    team = page.get_by_role("table", name="Team around the family")
    await expect(team.get_by_role("row")).to_have_count(3)
    await council.step("team")
    await submit(page, "Remove Pat Visitor from the team")
    await expect(page.get_by_text("The team member is removed.")).to_be_visible()
    await expect(team.get_by_role("row")).to_have_count(2)
    await expect(team.get_by_role("cell", name="Jo Teacher", exact=True)).to_be_visible()
    await expect(team.get_by_role("cell", name="Hill Top Primary", exact=True)).to_be_visible()

    # A goal for the family's first need, and an action, before the plan is agreed.
    await page.get_by_role("link", name="Add a goal").click()
    await submit(page, "Add the goal")
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Select the needs this goal meets.")
    await expect(summary).to_contain_text("Enter the measure of success.")
    await council.step("goal-errors")
    await page.get_by_label(need, exact=True).check()
    await page.get_by_label("Outcome area").select_option("education_and_attendance")
    await page.get_by_label("What is the goal?").fill("Amara is in school every day and on time.")
    await page.get_by_label("How will everyone know it is met?").fill("Attendance above 95%")
    await submit(page, "Add the goal")
    await expect(page.get_by_text("The goal is added.")).to_be_visible()
    await expect(page.get_by_role("cell", name="Goal 1: Amara is in school every day and on time.")).to_be_visible()

    await page.get_by_role("link", name="Add an action").click()
    await page.get_by_label("What will be done?").fill("Walk to school together")
    await page.get_by_label("Who will do it?").fill("Grace (mother)")
    await page.get_by_label("Their organisation").select_option(label="Northshire Early Help")
    await fill_date(page, "When is it due?", date(2026, 9, 30))
    await submit(page, "Add the action")
    await expect(page.get_by_role("cell", name="30 September 2026")).to_be_visible()

    # Agreed: the plan is activated today, and only an active plan's steps are offered.
    await page.get_by_role("link", name="Activate the plan").click()
    await council.step("activate")
    await submit(page, "Activate the plan")
    await expect(page.get_by_text("The plan is active.")).to_be_visible()
    assert await offered(page) == ["Close the plan", "Step up to social care"]
    await council.step("active")
    await submit(page, "Mark as done Walk to school together")
    await expect(page.get_by_text("The action is marked as done.")).to_be_visible()
    await expect(page.get_by_role("button", name="Mark as done Walk to school together")).to_have_count(0)

    # A review on the change matrix.
    today = date.today()
    await page.get_by_role("link", name="Record a review").click()
    await fill_date(page, "When was the review held?", today)
    await page.get_by_label("Who came?").fill("Grace Okafor, mother\nJo Teacher, class teacher")
    await page.get_by_label("What did the family say about how things are going?").fill("Mornings are calmer.")
    await page.get_by_label("Stage of change").select_option("action")
    await page.get_by_label("Score, from 1 (worst) to 10 (best)").select_option("8")
    await submit(page, "Record the review")
    await expect(page.get_by_text("The review is recorded.")).to_be_visible()
    await expect(page.get_by_text("8 out of 10, making changes")).to_be_visible()

    # Closed with outcomes met: each need marked met on the way.
    await page.get_by_role("link", name="Close the plan").click()
    await page.get_by_label("Outcomes met").check()
    for select in await page.locator("select[name^='need-']").all():
        await select.select_option("met")
    await page.get_by_label("Anything to add (optional)").fill("The family is managing well.")
    await council.step("close")
    await submit(page, "Close the plan")
    await expect(page.get_by_text("The plan is closed.")).to_be_visible()
    closed_on = f"{today.day} {today.strftime('%B')} {today.year}"
    await expect(page.get_by_text(f"{closed_on}: Outcomes met (The family is managing well.)")).to_be_visible()
    assert await offered(page) == ["Reopen the plan"]
    await expect(page.get_by_role("link", name="Add a team member")).to_have_count(0)
    await expect(page.get_by_role("link", name="Record a review")).to_have_count(0)
    await council.step("closed")

    # Things got hard again: the plan is reopened, in a second episode.
    await page.get_by_role("link", name="Reopen the plan").click()
    await submit(page, "Reopen the plan")
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Enter why the plan is reopened.")
    await page.get_by_label("Why is the plan reopened?").fill("The family asked for help again.")
    await submit(page, "Reopen the plan")
    await expect(page.get_by_text("The plan is reopened.")).to_be_visible()
    assert await offered(page) == ["Close the plan", "Step up to social care"]

    await page.get_by_role("link", name="Back to the family").click()
    episodes = page.get_by_role("table", name="Episodes of early help")
    rows = episodes.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("Outcomes met: every need met")
    await expect(rows.nth(1)).to_contain_text("Not yet closed")
    await expect(rows.nth(1)).to_contain_text("re-referral, 0 days after a closure")
    await council.step("family-episodes")

    stored = (await stack.gateway.http.get(f"/plans/{plan['id']}", headers=author)).json()
    assert stored["lead_professional"] == {"name": "Sam Lead", "organisation_id": people.council.organisation_id,
                                           "email": "sam.lead@northshire.example"}  # fmt: skip
    assert stored["team"] == [{"organisation_id": people.school.organisation_id, "role": "Class teacher",
                               "name": "Jo Teacher"}]  # fmt: skip
    assert [(a["description"], a["due_on"], a["done_on"]) for a in stored["actions"]] == [
        ("Walk to school together", "2026-09-30", today.isoformat())
    ]
    assert [e["close_reason"] for e in stored["episodes"]] == ["outcomes_met", None]
    council.assert_clean()


async def active_plan(http: httpx.AsyncClient, author: dict[str, str], organisation_id: str) -> dict[str, Any]:
    """A family's plan with a lead and a goal, activated today."""
    plan = await draft_plan(http, author)

    async def change(path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        headers = author | {"If-Match": f'"{plan["version"]}"'}
        response = await http.request(method, f"/plans/{plan['id']}{path}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    plan = await change("", {"lead_professional": {"name": "Sam Lead", "organisation_id": organisation_id}}, "PATCH")
    need = plan["needs"][0]
    goal = {"need_ids": [need["id"]], "outcome_area": need["outcome_area"],
            "description": "Amara feels safe at home.", "measure_of_success": "She says so"}  # fmt: skip
    plan = await change("/goals", goal)
    return await change("/activate", {})


async def test_a_change_someone_else_made_first_shows_an_error_summary_and_keeps_what_was_typed(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    http = stack.gateway.http
    author = await client_headers(stack.gateway, people.council)
    plan = await draft_plan(http, author)
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera)
    page = council.page
    await council.sign_in(people.council)
    await page.goto(f"{council.base}/plans/{plan['id']}/team")
    await page.get_by_label("Name", exact=True).fill("Jo Teacher")
    await page.get_by_label("Role").fill("Class teacher")
    await page.get_by_label("Organisation").select_option(label="Hill Top Primary")

    # A colleague adds a need while the form is open.
    need = {"description": "Grace would like help with the rent arrears.", "outcome_area": "housing"}
    changed = await http.patch(f"/plans/{plan['id']}", json={"needs": [*plan["needs"], need]},
                               headers=author | {"If-Match": f'"{plan["version"]}"'})  # fmt: skip
    assert changed.status_code == 200, changed.text

    await submit(page, "Add to the team")
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Someone else changed the plan since you opened this page.")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Jo Teacher")
    await expect(page.get_by_label("Role")).to_have_value("Class teacher")
    await expect(page.get_by_label("Organisation")).to_have_value(people.school.organisation_id)
    assert (await http.get(f"/plans/{plan['id']}", headers=author)).json()["team"] == []
    await council.step("conflict")

    await submit(page, "Add to the team")  # checked, and saved again: on the plan as the colleague left it
    await expect(page.get_by_text("The team member is added.")).to_be_visible()
    stored = (await http.get(f"/plans/{plan['id']}", headers=author)).json()
    assert [member["name"] for member in stored["team"]] == ["Jo Teacher"]
    assert stored["needs"][-1]["description"] == need["description"]

    # A page's button is stale too: the team changed behind it, so nobody is removed.
    visitor = {"organisation_id": people.health.organisation_id, "role": "Health visitor", "name": "Pat Visitor"}
    added = await http.patch(f"/plans/{plan['id']}", json={"team": [*stored["team"], visitor]},
                             headers=author | {"If-Match": f'"{stored["version"]}"'})  # fmt: skip
    assert added.status_code == 200, added.text
    await submit(page, "Remove Jo Teacher from the team")
    await expect(summary).to_contain_text("Someone else changed the plan since you opened this page.")
    await expect(page.get_by_role("table", name="Team around the family").locator("tbody tr")).to_have_count(2)
    council.assert_clean()


async def test_a_team_member_is_added_with_the_keyboard_alone(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    author = await client_headers(stack.gateway, people.council)
    plan = await draft_plan(stack.gateway.http, author)
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera)
    page = council.page
    await council.sign_in(people.council)
    await page.goto(f"{council.base}/plans/{plan['id']}/team")

    await tab_to(page, "member_name")  # past the skip link, the header and the sign-out button
    await page.keyboard.type("Jo Teacher")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Class teacher")
    await page.keyboard.press("Tab")
    assert await focused(page) == "member_organisation"
    await page.keyboard.type("Hill Top")  # a select's option is chosen by typing its first letters
    await page.keyboard.press("Tab")
    assert await focused(page) == "submit"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await expect(page.get_by_text("The team member is added.")).to_be_visible()
    await expect(page.get_by_role("cell", name="Jo Teacher", exact=True)).to_be_visible()
    await expect(page.get_by_role("cell", name="Hill Top Primary", exact=True)).to_be_visible()


async def test_a_plan_is_stepped_up_with_a_referral_stepped_down_and_the_new_draft_discarded(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    http = stack.gateway.http
    author = await client_headers(stack.gateway, people.council)
    plan = await active_plan(http, author, people.council.organisation_id)
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera)
    page = council.page
    await council.sign_in(people.council)
    await page.goto(f"{council.base}/plans/{plan['id']}")

    await page.get_by_role("link", name="Step up to social care").click()
    await page.get_by_label("Why does the family need social care?").fill("Amara disclosed harm at home.")
    await council.step("step-up")
    await submit(page, "Step up")
    await expect(page.get_by_text("The plan is stepped up to children's social care")).to_be_visible()
    assert await offered(page) == ["Step down to early help", "Reopen the plan"]
    await council.step("stepped-up")

    (referral,) = (await http.get(f"/families/{plan['family_id']}/social-care-referrals", headers=author)).json()
    decided = {"outcome": "returned_to_early_help", "decided_on": date.today().isoformat()}
    assert (await http.post(f"/social-care-referrals/{referral['id']}/outcome", json=decided,
                            headers=author)).status_code == 200  # fmt: skip

    await page.get_by_role("link", name="Step down to early help").click()
    await submit(page, "Open an early help plan")
    await expect(page.get_by_text("This plan is opened for the family stepped down from social care.")).to_be_visible()
    await expect(page.get_by_role("link", name="The plan social care took over")).to_be_visible()
    assert await offered(page) == ["Activate the plan", "Discard the draft"]
    assert page.url.split("?")[0] != f"{council.base}/plans/{plan['id']}"

    await page.get_by_role("link", name="Discard the draft").click()
    await page.get_by_label("Why is nobody going on with this plan?").fill("Social care is keeping the case.")
    await submit(page, "Discard the draft")
    await expect(page.get_by_text("The draft plan is discarded.")).to_be_visible()
    assert await offered(page) == []
    await expect(page.get_by_role("link", name="Add a team member")).to_have_count(0)
    await council.step("discarded")

    await page.get_by_role("link", name="Back to the family").click()
    episodes = page.get_by_role("table", name="Episodes of early help").locator("tbody")
    await expect(episodes).to_contain_text("Stepped up to children's social care")
    await expect(episodes).to_contain_text("Discarded")
    referrals = page.get_by_role("table", name="Referrals to children's social care").locator("tbody tr")
    await expect(referrals).to_have_count(1)
    await expect(referrals).to_contain_text("Stepped up from early help")
    await expect(referrals).to_contain_text("Northshire Early Help")
    await expect(referrals).to_contain_text("Returned to early help")
    await council.step("family-referrals")
    council.assert_clean()


async def test_an_organisation_that_may_not_see_the_plan_gets_none_of_it_on_any_page(
    stack: GatewayStack, people: People
) -> None:
    author = await client_headers(stack.gateway, people.council)
    plan = await active_plan(stack.gateway.http, author, people.council.organisation_id)
    secrets = ("Amara", "Okafor", "Grace", plan["needs"][0]["description"][:40], "Amara feels safe", "Sam Lead")
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        assert (await sign_in(http, people.health)).status_code == 303
        pages = [f"/staff/plans/{plan['id']}", f"/staff/plans/{plan['id']}/reviews/new",
                 f"/staff/families/{plan['family_id']}",
                 *(f"/staff/plans/{plan['id']}/{slug}" for slug in ("lead", "team", "need", "needs", "goal", "action",
                   "activate", "close", "step-up", "step-down", "reopen", "discard", "no-such-form"))]  # fmt: skip
        for path in pages:
            shown = await http.get(path)
            assert shown.status_code in (403, 404), (path, shown.status_code)
            assert not [secret for secret in secrets if secret in shown.text], path
            assert shown.headers["content-type"].startswith("text/html"), path  # a page, never the service's JSON
        token = hidden((await http.get("/staff/find")).text, "csrf_token")
        for path, form in ((f"/staff/plans/{plan['id']}/close", {"close_reason": "outcomes_met"}),
                           (f"/staff/plans/{plan['id']}/team/remove", {"item": "0"}),
                           (f"/staff/plans/{plan['id']}/reviews/new", {})):  # fmt: skip
            posted = await http.post(path, data=form | {"csrf_token": token, "etag": f'"{plan["version"]}"'})
            assert posted.status_code in (403, 404), (path, posted.status_code)
            assert not [secret for secret in secrets if secret in posted.text], path
    assert (await stack.gateway.http.get(f"/plans/{plan['id']}", headers=author)).json()["version"] == plan["version"]


async def _share_plans(gateway_url: str, author: Member, family_id: str, with_id: str) -> None:
    """The family agree that `with_id` sees their assessments and plans, recorded by `author` on the sharing page:
    a grant to read, never to change."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        assert (await sign_in(http, author)).status_code == 303
        form = (await http.get(f"/staff/families/{family_id}/sharing")).text
        shared = await http.post(
            f"/staff/families/{family_id}/sharing",
            data={"csrf_token": hidden(form, "csrf_token"), "given_by_role": "parent_or_carer", "evidence": "written",
                  "categories": ["assessment", "plan"], "recipients": with_id},
        )  # fmt: skip
        assert shared.status_code == 303, shared.text


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_a_grantee_reads_the_plan_and_its_referral_and_is_offered_nothing_the_service_would_refuse(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    http = stack.gateway.http
    author = await client_headers(stack.gateway, people.council)
    plan = await active_plan(http, author, people.council.organisation_id)
    referral = {"referred_on": date.today().isoformat(), "source": "front_door", "reason": "Amara disclosed harm."}
    referred = await http.post(f"/families/{plan['family_id']}/social-care-referrals", json=referral, headers=author)
    assert referred.status_code == 201, referred.text
    await _share_plans(stack.gateway.url, people.council, plan["family_id"], people.health.organisation_id)
    health_api = await client_headers(stack.gateway, people.health)

    async def granted() -> bool:
        return (await http.get(f"/plans/{plan['id']}", headers=health_api)).status_code == 200

    await eventually(granted)

    # Health visiting may read the plan: it is shown everything it may see, and offered nothing to do.
    health = await open_session(browser, f"{stack.gateway.url}/staff", camera, javascript)
    page = health.page
    await health.sign_in(people.health)
    await page.goto(f"{health.base}/plans/{plan['id']}")
    await expect(page.get_by_text("Amara feels safe at home.")).to_be_visible()
    assert await offered(page) == []
    for action in ("Add a team member", "Add a goal", "Record a contact", "Record a review", "Name the lead"):
        await expect(page.get_by_role("link", name=action)).to_have_count(0)
    await expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    await health.step("plan-read-only")
    await page.goto(f"{health.base}/plans/{plan['id']}/close")
    await expect(page.get_by_text("your organisation may read it but not change it")).to_be_visible()
    await page.goto(f"{health.base}/families/{plan['family_id']}")
    referrals = page.get_by_role("table", name="Referrals to children's social care")
    await expect(referrals).to_contain_text("From the front door")
    await expect(referrals).to_contain_text("Not yet decided")
    await expect(referrals.get_by_role("link")).to_have_count(0)
    await health.step("family-read-only")
    health.assert_clean()

    # The plan's author, which referred the family, is offered what the plan's status allows, and records
    # social care's decision from the family's page.
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera, javascript)
    page = council.page
    await council.sign_in(people.council)
    await page.goto(f"{council.base}/plans/{plan['id']}")
    assert await offered(page) == ["Close the plan", "Step up to social care"]
    await expect(page.get_by_role("link", name="Record a contact")).to_have_count(1)
    await page.goto(f"{council.base}/families/{plan['family_id']}")
    referrals = page.get_by_role("table", name="Referrals to children's social care")
    await referrals.get_by_role("link", name="Record the decision").click()
    await expect(page.get_by_role("heading", name="Record social care's decision")).to_be_visible()
    await council.step("outcome")
    await submit(page, "Record the decision")
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Select what social care decided.")
    await expect(summary).to_contain_text("Enter the date social care decided, like 27 3 2026.")
    await expect(summary.get_by_role("link", name="Enter the date social care decided")).to_have_attribute(
        "href", "#decided_on-day"
    )
    await council.step("outcome-errors")
    await page.get_by_label("Child in need").check()
    await fill_date(page, "When did social care decide?", date.today().replace(year=date.today().year + 1))
    await submit(page, "Record the decision")
    await expect(summary).to_contain_text("The date social care decided must be today or in the past.")
    await expect(page.get_by_label("Child in need")).to_be_checked()  # what was chosen is kept
    await fill_date(page, "When did social care decide?", date.today())
    await submit(page, "Record the decision")
    await expect(page.get_by_text("Social care's decision is recorded.")).to_be_visible()
    await expect(referrals).to_contain_text("Child in need")
    await expect(referrals.get_by_role("link")).to_have_count(0)  # recorded once: nothing more to do
    await council.step("outcome-recorded")
    council.assert_clean()

    (referral,) = (await http.get(f"/families/{plan['family_id']}/social-care-referrals", headers=author)).json()
    assert (referral["outcome"], referral["decided_on"]) == ("child_in_need", date.today().isoformat())

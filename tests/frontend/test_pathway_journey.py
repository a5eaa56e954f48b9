"""The whole pathway in the staff pages, in Debian's Chromium, with JavaScript and without.

A school's SENCo requests support for a family; the council's early help coordinator allocates it to the
council's family support team; a health visitor asks to see the family's records and the school approves,
recording the family's consent; the team's lead professional assesses the whole family, builds the plan with
a team around the family, activates it, records two contacts and a review on the change matrix and closes it
with outcomes met; their manager reopens it, and the family's page shows both episodes. Each member signs in
through the staff pages in a browser context of their own; only organisations and their staff are set up with
the admin API. Every page is checked with axe-core, and the front door's decision and the school's answer are
given with the keyboard alone. Screenshots of each step are kept in test-artifacts/frontend/<test>/.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import (
    NHS_NUMBER,
    Camera,
    People,
    add_staff,
    answer_everything,
    client_headers,
    fill_date,
    open_session,
    register,
    reload_until_shown,
    save_and_continue,
    submit,
    tab_to,
)
from tests.support.gateway import GatewayStack
from tests.support.whole_family import WholeFamily, fill_whole_family_assessment

ENGLAND = ZoneInfo("Europe/London")
BORN = date(2012, 3, 8)
WORRY = "Tyler's attendance has fallen to 82% this term and he has been excluded twice."
NEED = "Tyler misses school most Mondays and is often late."
RENT = "Mark would like help with the rent arrears."
VISIT = "Mark says mornings are calmer since Tyler joined the walking bus."
CALL = "Tyler's SENCo rang: attendance is up this week."


async def keyboard_submit(page: Page, button: str) -> None:
    """Tab from the last field to the form's button, and press it with Enter."""
    await page.keyboard.press("Tab")
    await expect(page.locator(":focus")).to_have_text(button)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_a_family_goes_from_a_school_s_request_for_support_through_a_plan_closed_and_reopened(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    gateway = stack.gateway
    base = f"{gateway.url}/staff"
    hub = await register(gateway, "Northshire Early Help Hub", "council", "duty@hub.example", coordinator=True)
    manager = await add_staff(gateway, people.council, "manager@northshire.example", "A team manager",
                              ["practitioner", "manager"])  # fmt: skip
    sessions = []

    # 1. The school's SENCo finds no family with Tyler's NHS number, and requests support for a new one.
    senco = await open_session(browser, base, camera, javascript)
    sessions.append(senco)
    page = senco.page
    await senco.sign_in_at_home(people.school)
    await senco.step("senco-home")
    await senco.find(NHS_NUMBER)
    await expect(page.get_by_text("No family was found that your organisation may see.")).to_be_visible()
    await page.get_by_role("link", name="request support for a new family").click()
    await page.get_by_label("First name").first.fill("Tyler")
    await page.get_by_label("Last name").first.fill("Walsh")
    await fill_date(page, "Date of birth (if known)", BORN)
    await page.get_by_label("NHS number (if known)").fill("943 476 5919")
    await page.get_by_label("First name").nth(1).fill("Mark")
    await page.get_by_label("Last name").nth(1).fill("Walsh")
    await page.get_by_label("Relationship to the child (optional)").fill("father")
    await senco.step("new-family")
    await submit(page, "Continue")
    await expect(page.get_by_role("heading", name="Tyler Walsh")).to_be_visible()
    family_url = page.url
    await page.get_by_label("Start a new").select_option("request-for-support")
    await page.get_by_role("button", name="Start", exact=True).click()
    await senco.step("request-task-list")
    request_id = page.url.rsplit("/", 1)[-1]
    await page.get_by_role("link", name="About you").click()
    await expect(page.get_by_role("heading", name="About you")).to_be_visible()
    while not page.url.endswith("/check"):
        if page.url.endswith("/pages/why-support"):
            await page.get_by_label("Why are you asking for support now?").fill(WORRY)
        if page.url.endswith("/pages/safeguarding"):
            concern = "Do you have an immediate safeguarding concern about any child in the family?"
            await page.get_by_role("group", name=concern).get_by_label("No").check()
        await answer_everything(page)
        await senco.step(f"request-{page.url.rsplit('/', 1)[-1]}")
        await save_and_continue(page)
    await expect(page.get_by_role("heading", name="Check your answers before submitting")).to_be_visible()
    await senco.step("request-check")
    await submit(page, "Submit")
    await expect(page.get_by_role("heading", name="Assessment submitted")).to_be_visible()
    await senco.step("request-submitted")

    # 2. The coordinator triages it at the front door and gives the work to the council's family support team,
    # with the keyboard alone.
    coordinator = await open_session(browser, base, camera, javascript)
    sessions.append(coordinator)
    page = coordinator.page
    await coordinator.sign_in_at_home(hub)
    await expect(page.locator("#work-counts")).to_contain_text("Requests for support waiting for a decision (1)")
    await coordinator.step("coordinator-home")
    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Front door").click()
    queue = page.get_by_role("table", name="Requests for support waiting for a decision")
    await expect(queue.get_by_role("row").nth(1)).to_contain_text("Hill Top Primary")
    await coordinator.step("front-door")
    await queue.get_by_role("row").nth(1).get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Decide what happens next")).to_be_visible()
    await tab_to(page, "outcome")
    await page.keyboard.press("Space")  # the first outcome: an early help assessment
    await expect(page.get_by_label("An early help assessment, by the organisation given the work")).to_be_checked()
    await page.keyboard.press("Tab")
    await page.keyboard.type(people.council.organisation_name)  # a select's option is chosen by typing its name
    organisation = page.get_by_label("Which organisation will do the early help assessment?")
    await expect(organisation).to_have_value(people.council.organisation_id)
    await page.keyboard.press("Tab")
    await page.keyboard.type("The family support team knows the area; the school will stay involved.")
    await coordinator.step("decision")
    await keyboard_submit(page, "Record the decision")
    await expect(page.get_by_text("The decision is recorded.")).to_be_visible()
    await expect(page.get_by_text("No request for support is waiting.")).to_be_visible()
    await coordinator.step("decided")

    # 3. A health visitor who meets the family asks to see its records; the school approves with the family's
    # consent, with the keyboard alone.
    health = await open_session(browser, base, camera, javascript)
    sessions.append(health)
    page = health.page
    await health.sign_in_at_home(people.health)
    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Access requests").click()
    await page.get_by_role("link", name="Ask for access to a family's records").click()
    await page.get_by_label("The child's identifier").fill(NHS_NUMBER)
    await fill_date(page, "The child's date of birth", BORN)
    await page.get_by_label("Assessments").check()
    await page.get_by_label("Why does your organisation need to see them?").fill(
        "Mark asked the health visitor to work with the school on Tyler's health and attendance."
    )
    await health.step("ask-access")
    await submit(page, "Ask for access")
    await expect(page.get_by_text("Your request is sent.")).to_be_visible()
    asked = page.get_by_role("table", name="Your organisation's access requests and their answers")
    await expect(asked).to_contain_text("Waiting")
    await health.step("asked")

    page = senco.page
    await page.goto(f"{base}/home")
    waiting = page.get_by_role("link", name=f"{people.health.organisation_name} asked on")
    await reload_until_shown(page, waiting)  # once the consent service has heard who holds the family's records
    await expect(page.locator("#work-counts")).to_contain_text("Access requests waiting for your answer (1)")
    await senco.step("senco-home-asked")
    await waiting.click()
    await expect(page.get_by_role("heading", name="Answer a request for access")).to_be_visible()
    await tab_to(page, "given_by_role")
    await page.keyboard.press("Space")  # a parent or carer
    await page.keyboard.press("Tab")
    await page.keyboard.type("Mark Walsh")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # in writing
    await expect(page.get_by_label("In writing")).to_be_checked()
    await senco.step("answer-access")
    await keyboard_submit(page, "Record the family's consent and share")
    await expect(page.get_by_text("Your answer is recorded.")).to_be_visible()

    page = health.page
    await page.reload()
    await expect(asked).to_contain_text("Approved")
    await asked.get_by_role("link", name="Open the family's records").click()
    await expect(page.get_by_role("heading", name="Tyler Walsh")).to_be_visible()
    await expect(page.get_by_role("link", name="Request for support, version 1")).to_be_visible()
    await health.step("health-sees-family")

    # 4. The lead professional, given the work, assesses the whole family.
    lead = await open_session(browser, base, camera, javascript)
    sessions.append(lead)
    page = lead.page
    await lead.sign_in_at_home(people.council)
    await expect(page.locator("#work-counts")).to_contain_text(
        f"Requests for support allocated to {people.council.organisation_name} (1)"
    )
    await lead.step("lead-home")
    await page.locator("#allocated + ul").get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Tyler Walsh")).to_be_visible()
    assert page.url == family_url
    answers = WholeFamily(
        children=(("Tyler Walsh", WORRY),),
        adult="Mark Walsh",
        adult_needs=("Debt and money",),
        family_says="Mark wants Tyler back on track at school.",
        agrees="Yes",
        need=(NEED, "education_and_attendance"),
        level_of_need="Level 3: targeted (complex early help)",
        next_step="Team around the family",
        held_on=date.today(),
    )
    assessment_id = await fill_whole_family_assessment(lead, family_url, answers)
    await expect(page.get_by_text(WORRY)).to_be_visible()
    await lead.step("check-answers")
    await submit(page, "Submit")
    await expect(page.get_by_role("heading", name="Assessment submitted")).to_be_visible()
    await lead.step("submitted")

    # The plan service opens a draft plan from the submitted assessment.
    await page.goto(family_url)
    opened = page.get_by_role("link", name="Plan opened")
    await reload_until_shown(page, opened)
    await opened.click()
    await expect(page.get_by_role("heading", name="Plan opened")).to_be_visible()
    plan_url = page.url
    await lead.step("draft-plan")

    await page.get_by_role("link", name="Name the lead professional").click()
    await page.get_by_label("Name", exact=True).fill("Sam Lead")
    await page.get_by_label("Organisation").select_option(label=people.council.organisation_name)
    await page.get_by_label("Work e-mail address (optional)").fill(people.council.email)
    await lead.step("lead-professional")
    await submit(page, "Save")
    await expect(page.get_by_text("The lead professional is named.")).to_be_visible()

    for name, role, member in (("Jo Senco", "SENCo", people.school), ("Pat Visitor", "Health visitor", people.health)):
        await page.get_by_role("link", name="Add a team member").click()
        await page.get_by_label("Name", exact=True).fill(name)
        await page.get_by_label("Role").fill(role)
        await page.get_by_label("Organisation").select_option(label=member.organisation_name)
        await submit(page, "Add to the team")
        await expect(page.get_by_text("The team member is added.")).to_be_visible()
    team = page.get_by_role("table", name="Team around the family")
    await expect(team.locator("tbody tr")).to_have_count(2)
    await lead.step("team")

    await page.get_by_role("link", name="Add a need").click()
    await page.get_by_label("What does the family need?").fill(RENT)
    await page.get_by_label("Outcome area").select_option("housing")
    await submit(page, "Add the need")
    needs = page.get_by_role("table", name="Needs")
    await expect(needs.locator("tbody tr")).to_have_count(2)
    await expect(needs).to_contain_text(NEED)
    await expect(needs).to_contain_text(RENT)

    await page.get_by_role("link", name="Add a goal").click()
    await page.get_by_label(NEED, exact=True).check()
    await page.get_by_label("Outcome area").select_option("education_and_attendance")
    await page.get_by_label("What is the goal?").fill("Tyler is in school every day and on time.")
    await page.get_by_label("How will everyone know it is met?").fill("Attendance above 95% for a term")
    await lead.step("goal")
    await submit(page, "Add the goal")
    await expect(page.get_by_text("The goal is added.")).to_be_visible()

    await page.get_by_role("link", name="Add an action").click()
    await page.get_by_label("What will be done?").fill("Join the walking bus")
    await page.get_by_label("Who will do it?").fill("Mark (father)")
    await page.get_by_label("Their organisation").select_option(label=people.school.organisation_name)
    await fill_date(page, "When is it due?", date.today() + timedelta(days=28))
    await lead.step("action")
    await submit(page, "Add the action")
    await expect(page.get_by_role("cell", name="Join the walking bus", exact=True)).to_be_visible()

    await page.get_by_role("link", name="Activate the plan").click()
    await lead.step("activate")
    await submit(page, "Activate the plan")
    await expect(page.get_by_text("The plan is active.")).to_be_visible()
    await lead.step("active-plan")
    await submit(page, "Mark as done Join the walking bus")
    await expect(page.get_by_text("The action is marked as done.")).to_be_visible()

    # Two contacts with the family, read back in the chronology in the order they happened.
    now = datetime.now(ENGLAND).replace(second=0, microsecond=0)
    for kind, moment, who, note in (("A visit", now - timedelta(hours=2), "Mark Walsh, father", VISIT),
                                    ("A phone call", now - timedelta(hours=1), "Jo Senco, SENCo", CALL)):  # fmt: skip
        await page.goto(plan_url)
        await page.get_by_role("link", name="Record a contact").click()
        await page.get_by_label(kind).check()
        await fill_date(page, "When did it happen?", moment.date())
        await page.get_by_label("At what time?").fill(f"{moment:%H:%M}")
        await page.get_by_label("Who took part? (optional)").fill(who)
        await page.get_by_label("What happened and what was said?").fill(note)
        await lead.step("contact")
        await submit(page, "Record the contact")
        await expect(page.get_by_text("The contact is recorded.")).to_be_visible()
    chronology = page.locator("#chronology tbody")
    await expect(chronology.locator("tr", has_text="Recorded by Northshire Early Help")).to_have_count(2)
    rows = await chronology.locator("tr", has_text="Recorded by Northshire Early Help").all_inner_texts()
    assert VISIT in rows[0] and CALL in rows[1], rows
    await lead.step("chronology")

    # A review on the change matrix.
    await page.get_by_role("link", name="Back to the plan").click()
    await page.get_by_role("link", name="Record a review").click()
    await fill_date(page, "When was the review held?", date.today())
    await page.get_by_label("Who came?").fill("Mark Walsh, father\nJo Senco, SENCo\nPat Visitor, health visitor")
    await page.get_by_label("What did the family say about how things are going?").fill("Mornings are easier.")
    await page.get_by_label("Stage of change").select_option("action")
    await page.get_by_label("Score, from 1 (worst) to 10 (best)").select_option("8")
    await lead.step("review")
    await submit(page, "Record the review")
    await expect(page.get_by_text("The review is recorded.")).to_be_visible()
    await expect(page.get_by_text("8 out of 10, making changes")).to_be_visible()
    await lead.step("reviewed")

    # Closed with outcomes met, every need marked met.
    await page.get_by_role("link", name="Close the plan").click()
    await page.get_by_label("Outcomes met").check()
    for select in await page.locator("select[name^='need-']").all():
        await select.select_option("met")
    await page.get_by_label("Anything to add (optional)").fill("Tyler's attendance is 97% this half term.")
    await lead.step("close")
    await submit(page, "Close the plan")
    await expect(page.get_by_text("The plan is closed.")).to_be_visible()
    await lead.step("closed")

    # 5. Things get hard again: the team's manager finds the family and reopens the plan.
    reopener = await open_session(browser, base, camera, javascript)
    sessions.append(reopener)
    page = reopener.page
    await reopener.sign_in_at_home(manager)
    await reopener.find(NHS_NUMBER)
    await page.get_by_role("link", name="Tyler Walsh").click()
    await page.get_by_role("link", name="Plan opened").click()
    await page.get_by_role("link", name="Reopen the plan").click()
    await page.get_by_label("Why is the plan reopened?").fill("The school asked for help again after half term.")
    await reopener.step("reopen")
    await submit(page, "Reopen the plan")
    await expect(page.get_by_text("The plan is reopened.")).to_be_visible()

    # 6. The family's page shows both episodes.
    await page.get_by_role("link", name="Back to the family").click()
    episodes = page.get_by_role("table", name="Episodes of early help").locator("tbody tr")
    await expect(episodes).to_have_count(2)
    await expect(episodes.nth(0)).to_contain_text("Outcomes met: every need met")
    await expect(episodes.nth(1)).to_contain_text("Not yet closed")
    await expect(episodes.nth(1)).to_contain_text("re-referral, 0 days after a closure")
    await reopener.step("family-episodes")

    for session in sessions:
        session.assert_clean()
        await session.context.close()

    # What the pages did is what the services hold.
    council = await client_headers(gateway, people.council)
    plan_id = plan_url.rsplit("/", 1)[-1]
    stored = (await gateway.http.get(f"/plans/{plan_id}", headers=council)).json()
    assert stored["status"] == "active" and stored["assessment_id"] == assessment_id, stored
    assert stored["lead_professional"] == {"name": "Sam Lead", "organisation_id": people.council.organisation_id,
                                           "email": people.council.email}  # fmt: skip
    assert [(m["name"], m["organisation_id"]) for m in stored["team"]] == [
        ("Jo Senco", people.school.organisation_id),
        ("Pat Visitor", people.health.organisation_id),
    ]
    assert [(n["description"], n["status"]) for n in stored["needs"]] == [(NEED, "met"), (RENT, "met")]
    assert [(a["description"], a["done_on"]) for a in stored["actions"]] == [
        ("Join the walking bus", date.today().isoformat())
    ]
    assert stored["level_of_need"] == "3"
    assert [e["close_reason"] for e in stored["episodes"]] == ["outcomes_met", None]
    assert [(r["ratings"][0]["stage"], r["ratings"][0]["score"]) for r in stored["reviews"]] == [("action", 8)]
    contacts = (await gateway.http.get(f"/plans/{plan_id}/contacts", headers=council)).json()
    assert [c["summary"] for c in contacts] == [VISIT, CALL]
    school = await client_headers(gateway, people.school)
    decided = (await gateway.http.get(f"/assessments/{request_id}", headers=school)).json()
    assert decided["status"] == "submitted" and decided["form"]["key"] == "request-for-support"
    grants = (await gateway.http.get("/consents", params={"family_id": stored["family_id"]}, headers=school)).json()
    assert [(g["recipient_organisations"], g["evidence"]) for g in grants] == [
        ([people.health.organisation_id], "written")
    ]

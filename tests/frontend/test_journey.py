"""The whole staff story in a real browser, with JavaScript and without.

A health visitor signs in, finds no family, requests support, completes an early
help assessment (correcting a date the form refuses), records the family's grant
for the school and submits. The school signs in and reads the assessment without
anyone retyping it, and starts its own from it. The family withdraws; the school
can no longer open it. Every page is checked with axe-core, and none may break
the Content-Security-Policy.
"""

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import NHS_NUMBER, Camera, People, answer_everything, open_session, save_and_continue
from tests.support.gateway import GatewayStack

REASON = "Ava's nursery is worried about her speech and her mother is struggling since the baby arrived."


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_health_assesses_and_shares_the_school_reads_it_until_the_family_withdraws(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    base = f"{stack.gateway.url}/staff"
    health = await open_session(browser, base, camera, javascript)
    page = health.page

    # A health visitor signs in and finds no family with the child's NHS number.
    await health.sign_in(people.health)
    await expect(page.get_by_text("Signed in as A health practitioner, Northshire Health Visiting")).to_be_visible()
    await health.find(NHS_NUMBER)
    await expect(page.get_by_text("No family was found that your organisation may see.")).to_be_visible()
    await health.step("no-family-found")

    # They request support for a new family.
    await page.get_by_role("link", name="request support for a new family").click()
    await health.step("request-support")
    await page.get_by_label("First name").first.fill("Ava")
    await page.get_by_label("Last name").first.fill("Example")
    await page.get_by_label("Day").fill("3")
    await page.get_by_label("Month").fill("4")
    await page.get_by_label("Year").fill("2024")
    await page.get_by_label("NHS number (if known)").fill("943 476 5919")
    await page.get_by_label("First name").nth(1).fill("Sam")
    await page.get_by_label("Last name").nth(1).fill("Example")
    await page.get_by_label("Relationship to the child (optional)").fill("mother")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Ava Example")).to_be_visible()
    await expect(page.get_by_text("Child, born 3 April 2024")).to_be_visible()
    await health.step("family")
    family_url = page.url

    # They start an early help assessment and hit a date the form refuses.
    await page.get_by_label("Start a new").select_option("early-help-assessment")
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_role("heading", name="Early help assessment")).to_be_visible()
    await health.step("task-list")
    assessment_url = page.url
    await page.get_by_role("link", name="About this assessment").click()
    await page.get_by_label("Why is this assessment being done?").fill(REASON)
    started = page.get_by_role("group", name="Date the assessment started")
    await started.get_by_label("Day").fill("31")
    await started.get_by_label("Month").fill("2")
    await started.get_by_label("Year").fill("2026")
    await page.get_by_role("button", name="Save and continue").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("'Date the assessment started' must be a real date")
    link = summary.get_by_role("link", name="'Date the assessment started' must be a real date, like 27 3 2026.")
    assert await link.get_attribute("href") == "#q-about_the_assessment-date_started-day"
    await expect(started.locator(".govuk-error-message")).to_contain_text("must be a real date")
    await expect(page.get_by_label("Why is this assessment being done?")).to_have_value(REASON)  # answers kept
    await expect(started.get_by_label("Day")).to_have_value("31")
    assert (await page.title()).startswith("Error: ")
    await health.step("validation-error")

    # They correct it, and answer the rest page by page, adding a second family member.
    await link.click()
    await started.get_by_label("Day").fill("28")
    await answer_everything(page)
    await save_and_continue(page)
    await expect(page.get_by_role("heading", name="The family")).to_be_visible()
    await answer_everything(page)
    await page.get_by_role("button", name="Add another family member").click()
    await expect(page.get_by_role("heading", name="Family member 2")).to_be_visible()
    await expect(page.locator("input[name='/family_members/0/name']")).to_have_value("Alex Example")
    await page.locator("input[name='/family_members/1/name']").fill("Sam Example")
    await answer_everything(page)
    await health.step("repeating-group")
    await save_and_continue(page)
    while not page.url.endswith("/check"):
        await answer_everything(page)
        await health.step(page.url.rsplit("/", 1)[-1])
        await save_and_continue(page)
    await expect(page.get_by_role("heading", name="Check your answers before submitting")).to_be_visible()
    await expect(page.get_by_text(REASON)).to_be_visible()
    await expect(page.get_by_text("28 February 2026")).to_be_visible()
    await expect(page.get_by_text("Family member 2: Full name: Sam Example")).to_be_visible()
    await health.step("check-answers")

    # They record the family's agreement and its grant for the school, then submit.
    await page.goto(family_url)
    await page.get_by_role("link", name="Record the family's agreement and sharing").click()
    await page.get_by_role("button", name="Record agreement and sharing").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("Select at least one organisation.")
    await health.step("sharing-errors")
    await page.get_by_label("A parent or carer").check()
    await page.get_by_label("In writing").check()
    await page.get_by_label("Assessments").check()
    await page.get_by_label("Hill Top Primary").check()
    await health.step("sharing")
    await page.get_by_role("button", name="Record agreement and sharing").click()
    sharing = page.locator("table", has_text="Who can see what")
    await expect(sharing.get_by_role("row", name="Hill Top Primary Assessments Active Withdraw")).to_be_visible()
    await expect(page.get_by_text("The family agreed to early help on")).to_be_visible()
    await health.step("shared")
    await page.goto(f"{assessment_url}/check")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.get_by_role("heading", name="Assessment submitted")).to_be_visible()
    await health.step("submitted")

    # The school signs in and reads it: nobody retyped anything.
    school = await open_session(browser, base, camera, javascript)
    await school.sign_in(people.school)
    await school.find(NHS_NUMBER)
    await school.step("school-finds")
    await school.page.get_by_role("link", name="Ava Example, Sam Example").click()
    await expect(school.page.get_by_role("cell", name="Northshire Health Visiting")).to_be_visible()
    await school.step("school-family")
    await school.page.get_by_role("link", name="Early help assessment, version 3").click()
    await expect(school.page.get_by_text(REASON)).to_be_visible()
    await expect(school.page.get_by_text("Submitted")).to_be_visible()
    await school.step("school-reads")

    # The school starts its own assessment from it: what the family said is carried, and marked.
    await school.page.goto(family_url)
    await school.page.get_by_role("button", name="Start a new one from this").click()
    await expect(school.page.locator(".govuk-inset-text")).to_contain_text("Carried forward")
    await school.page.get_by_role("link", name="The family", exact=True).click()
    await expect(school.page.locator("input[name='/family_members/1/name']")).to_have_value("Sam Example")
    await expect(school.page.locator("#q-family_members-1-name-hint")).to_contain_text("Carried forward")
    await school.step("school-carries-forward")
    # Why the health visitor assessed is their own, as is their sign-off: the school gives its own.
    await school.page.go_back()
    await school.page.get_by_role("link", name="About this assessment").click()
    await expect(school.page.get_by_label("Why is this assessment being done?")).to_have_value("")

    # The family withdraws, and the school can no longer open the health visitor's assessment.
    await page.goto(family_url)
    await page.get_by_role("link", name="Withdraw").click()
    await health.step("withdraw")
    await page.get_by_role("button", name="Withdraw sharing").click()
    await expect(sharing.get_by_role("row", name="Hill Top Primary Assessments Withdrawn")).to_be_visible()
    await health.step("withdrawn")
    response = await school.page.goto(f"{base}/assessments/{assessment_url.rsplit('/', 1)[-1]}")
    assert response is not None and response.status == 403
    await expect(school.page.get_by_role("heading", name="You cannot see this")).to_be_visible()
    await expect(school.page.get_by_text(REASON)).to_have_count(0)
    await school.step("school-refused")

    for session in (health, school):
        session.assert_clean()
        await session.context.close()

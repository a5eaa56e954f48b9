"""A whole-family assessment in a real browser: each child's developmental needs asked once per child, the
adults' needs, the safeguarding check and the family's view, filled page by page and submitted, with JavaScript
and without."""

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import Camera, People, answer_everything, client_headers, open_session, save_and_continue
from tests.support.gateway import GatewayStack

NHS_NUMBER = "9434765919"
SISTER_NHS_NUMBER = "9998901235"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_a_whole_family_assessment_of_two_children_is_filled_page_by_page_and_submitted(
    browser: Browser, stack: GatewayStack, people: People, camera: Camera, javascript: bool
) -> None:
    partner = await client_headers(stack.gateway, people.health)
    members = [
        {"role": "child", "given_name": "Tyler", "family_name": "Walsh", "date_of_birth": "2012-03-08",
         "sex": "male", "send_status": "sen_support", "identifiers": [{"system": "nhs", "value": NHS_NUMBER}]},
        {"role": "child", "given_name": "Ellie", "family_name": "Walsh", "date_of_birth": "2016-01-25",
         "sex": "female", "identifiers": [{"system": "nhs", "value": SISTER_NHS_NUMBER}]},
        {"role": "adult", "given_name": "Mark", "family_name": "Walsh", "relationship": "father",
         "postcode": "LS6 2AB"},
    ]  # fmt: skip
    registered = await stack.gateway.http.post("/families", json={"members": members}, headers=partner)
    assert registered.status_code == 201, registered.text
    family_id = registered.json()["id"]

    base = f"{stack.gateway.url}/staff"
    health = await open_session(browser, base, camera, javascript)
    page = health.page
    await health.sign_in(people.health)
    await page.goto(f"{base}/families/{family_id}")
    await page.get_by_label("Start a new").select_option("early-help-assessment")
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_role("heading", name="Early help assessment")).to_be_visible()
    assessment_id = page.url.rsplit("/", 1)[-1]
    await health.step("task-list")
    for title in ("Each child's developmental needs", "The adults' needs", "Safeguarding check"):
        await expect(page.get_by_role("link", name=title)).to_be_visible()

    await page.get_by_role("link", name="About this assessment").click()
    await answer_everything(page)
    await save_and_continue(page)
    await expect(page.get_by_role("heading", name="The family")).to_be_visible()
    await answer_everything(page)
    await save_and_continue(page)

    # Each child is assessed in turn: one entry per child, the second added on the same page.
    await expect(page.get_by_role("heading", name="Each child's developmental needs")).to_be_visible()
    await expect(page.locator(".govuk-caption-l")).to_contain_text("page 3 of 10")
    await page.locator("input[name='/children/0/name']").fill("Tyler Walsh")
    await page.locator("textarea[name='/children/0/education']").fill("Two exclusions this year; able in science.")
    await answer_everything(page)
    await page.get_by_role("button", name="Add another child").click()
    await expect(page.get_by_role("heading", name="Child 2")).to_be_visible()
    await expect(page.locator("input[name='/children/0/name']")).to_have_value("Tyler Walsh")
    await page.locator("input[name='/children/1/name']").fill("Ellie Walsh")
    await page.locator("textarea[name='/children/1/education']").fill("Year 5; attendance 97%; loves reading.")
    await answer_everything(page)
    await health.step("each-child")
    await save_and_continue(page)

    while "/pages/adults" not in page.url:
        await answer_everything(page)
        await save_and_continue(page)
    await page.locator("input[name='/adults/0/name']").fill("Mark Walsh")
    adult = page.get_by_role("group", name="Which of these affect them?")
    await adult.get_by_label("Mental health").check()
    await adult.get_by_label("Debt and money").check()
    await answer_everything(page)
    await health.step("adults")
    await save_and_continue(page)

    await expect(page.get_by_role("heading", name="Safeguarding check")).to_be_visible()
    worried = page.get_by_role(
        "group", name="Are you worried that any child in the family is at risk of significant harm?"
    )
    await worried.get_by_label("No").check()
    await answer_everything(page)
    await health.step("safeguarding")
    await save_and_continue(page)

    await expect(page.get_by_role("heading", name="The family's view and strengths")).to_be_visible()
    await page.get_by_label("What the family say").fill(
        "Mark wants Tyler back on track and the children to see their mum."
    )
    await page.get_by_role("group", name="Does the family agree with this assessment?").get_by_label("Partly").check()
    while not page.url.endswith("/check"):
        await answer_everything(page)
        await health.step(page.url.rsplit("/", 1)[-1])
        await save_and_continue(page)

    await expect(page.get_by_role("heading", name="Check your answers before submitting")).to_be_visible()
    await expect(page.get_by_text("Child 1: The child's full name: Tyler Walsh")).to_be_visible()
    await expect(page.get_by_text("Child 2: The child's full name: Ellie Walsh")).to_be_visible()
    await health.step("check-answers")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.get_by_role("heading", name="Assessment submitted")).to_be_visible()
    await health.step("submitted")
    health.assert_clean()

    stored = (await stack.gateway.http.get(f"/assessments/{assessment_id}", headers=partner)).json()
    assert (stored["status"], stored["form"]["version"]) == ("submitted", 3)
    answers = stored["answers"]
    assert [(child["name"], child["education"]) for child in answers["children"]] == [
        ("Tyler Walsh", "Two exclusions this year; able in science."),
        ("Ellie Walsh", "Year 5; attendance 97%; loves reading."),
    ]
    assert answers["adults"][0]["name"] == "Mark Walsh"
    assert answers["adults"][0]["needs"] == ["mental_health", "debt"]
    assert answers["safeguarding"]["concern"] is False
    assert answers["family_view"]["agrees"] == "partly"

"""A whole-family assessment in a real browser: each child's developmental needs asked once per child, the
adults' needs, the safeguarding check and the family's view, filled page by page and submitted, with JavaScript
and without."""

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import Camera, People, client_headers, open_session
from tests.support.gateway import GatewayStack
from tests.support.whole_family import WholeFamily, fill_whole_family_assessment

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
    answers = WholeFamily(
        children=(("Tyler Walsh", "Two exclusions this year; able in science."),
                  ("Ellie Walsh", "Year 5; attendance 97%; loves reading.")),
        adult="Mark Walsh",
        adult_needs=("Mental health", "Debt and money"),
        family_says="Mark wants Tyler back on track and the children to see their mum.",
    )  # fmt: skip
    assessment_id = await fill_whole_family_assessment(health, f"{base}/families/{family_id}", answers)

    await expect(page.get_by_text("Child 1: The child's full name: Tyler Walsh")).to_be_visible()
    await expect(page.get_by_text("Child 2: The child's full name: Ellie Walsh")).to_be_visible()
    await health.step("check-answers")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.get_by_role("heading", name="Assessment submitted")).to_be_visible()
    await health.step("submitted")
    health.assert_clean()

    stored = (await stack.gateway.http.get(f"/assessments/{assessment_id}", headers=partner)).json()
    assert (stored["status"], stored["form"]["version"]) == ("submitted", 3)
    given = stored["answers"]
    assert [(child["name"], child["education"]) for child in given["children"]] == [
        ("Tyler Walsh", "Two exclusions this year; able in science."),
        ("Ellie Walsh", "Year 5; attendance 97%; loves reading."),
    ]
    assert given["adults"][0]["name"] == "Mark Walsh"
    assert given["adults"][0]["needs"] == ["mental_health", "debt"]
    assert given["safeguarding"]["concern"] is False
    assert given["family_view"]["agrees"] == "partly"

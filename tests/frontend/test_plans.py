"""A plan in the browser: needs, goals and actions, the change matrix drawn on the server, and recording a review."""

from typing import Any

import httpx
from playwright.async_api import Browser, expect

from tests.support.browser import Camera, People, client_headers, open_session
from tests.support.gateway import GatewayStack
from tests.support.samples import family_body, sample
from tests.support.waiting import eventually


async def active_plan(http: httpx.AsyncClient, author: dict[str, str], organisation_id: str) -> dict[str, Any]:
    """A family's plan from its submitted assessment, with a lead, a goal, an action and a first review."""
    family = (await http.post("/families", json=family_body(), headers=author)).json()
    assessment = {
        "family_id": family["id"],
        "form": {"key": "early-help-assessment", "version": 1},
        "answers": sample("early-help-assessment", 1),
        "status": "submitted",
    }
    assert (await http.post("/assessments", json=assessment, headers=author)).status_code == 201
    listed: list[dict[str, Any]] = []

    async def opened() -> bool:
        listed[:] = (await http.get("/plans", params={"family_id": family["id"]}, headers=author)).json()
        return len(listed) == 1

    await eventually(opened)
    plan: dict[str, Any] = (await http.get(f"/plans/{listed[0]['id']}", headers=author)).json()

    async def change(path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
        headers = author | {"If-Match": f'"{plan["version"]}"'}
        response = await http.request(method, f"/plans/{plan['id']}{path}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    need = plan["needs"][0]
    action = {"description": "Walk to school together", "owner": "Mum", "organisation_id": organisation_id,
              "due_on": "2026-09-30"}  # fmt: skip
    plan = await change("", {"lead_professional": {"name": "Sam Lead", "organisation_id": organisation_id},
                             "actions": [action]}, "PATCH")  # fmt: skip
    goal = {"need_ids": [need["id"]], "outcome_area": need["outcome_area"],
            "description": "Ava is in school every day and on time.",
            "measure_of_success": "Attendance above 95%"}  # fmt: skip
    plan = await change("/goals", goal)
    plan = await change("/activate", {"activated_on": "2026-06-01"})
    review = {"held_on": "2026-07-13", "attendees": [{"name": "Sam", "role": "mother"}],
              "family_voice": "Mornings are hard.", "ratings": [{"goal_id": plan["goals"][0]["id"],
              "stage": "contemplation", "score": 3}]}  # fmt: skip
    return await change("/reviews", review)


async def test_a_plan_shows_its_change_matrix_and_a_review_is_recorded_with_errors_shown_the_govuk_way(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera
) -> None:
    author = await client_headers(stack.gateway, people.council)
    plan = await active_plan(stack.gateway.http, author, people.council.organisation_id)
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera)
    page = council.page
    await council.sign_in(people.council)

    await page.goto(f"{council.base}/plans/{plan['id']}")
    await expect(page.get_by_role("table", name="Needs")).to_be_visible()
    await expect(page.get_by_role("cell", name="Goal 1: Ava is in school every day and on time.")).to_be_visible()
    await expect(page.get_by_role("cell", name="Walk to school together", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="Change matrix scores over time")
    await expect(chart).to_be_visible()
    assert "3 on 2026-07-13" in (await chart.locator("desc").text_content() or "")
    await expect(chart.locator("polyline")).to_have_count(0)  # one review: a point, not yet a line
    await council.step("plan")

    await page.get_by_role("link", name="Record a review").click()
    await page.get_by_role("button", name="Record the review").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("Enter the date the review was held")
    await expect(summary).to_contain_text("Select a score from 1 to 10 for 'Ava is in school every day and on time.'")
    await council.step("review-errors")
    held = page.get_by_role("group", name="When was the review held?")
    await held.get_by_label("Day").fill("24")
    await held.get_by_label("Month").fill("8")
    await held.get_by_label("Year").fill("2026")
    await page.get_by_label("Who came?").fill("Sam Example, mother\nJo Teacher, class teacher")
    await page.get_by_label("What did the family say about how things are going?").fill("Ava likes school now.")
    await page.get_by_label("Stage of change").select_option("action")
    await page.get_by_label("Score, from 1 (worst) to 10 (best)").select_option("7")
    await council.step("review")
    await page.get_by_role("button", name="Record the review").click()

    await expect(page.get_by_text("The review is recorded.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Review held 24 August 2026")).to_be_visible()
    await expect(page.get_by_text("7 out of 10, making changes")).to_be_visible()
    points = await chart.locator("polyline").get_attribute("points") or ""
    first, second = (tuple(float(n) for n in point.split(",")) for point in points.split())
    assert first[0] < second[0] and second[1] < first[1]  # later to the right, and higher for the better score
    assert "3 on 2026-07-13, 7 on 2026-08-24" in (await chart.locator("desc").text_content() or "")
    await council.step("review-recorded")

    stored = (await stack.gateway.http.get(f"/plans/{plan['id']}", headers=author)).json()
    assert stored["reviews"][-1]["attendees"] == [
        {"name": "Sam Example", "role": "mother", "organisation_id": None},
        {"name": "Jo Teacher", "role": "class teacher", "organisation_id": None},
    ]
    assert stored["reviews"][-1]["ratings"][0] | {"goal_id": ""} == {"goal_id": "", "stage": "action", "score": 7}
    council.assert_clean()

"""Contacts and the chronology in the staff pages: the lead records visits and calls, and reads them in date order;
an organisation the family shared the plan with, but not its case notes, sees the chronology without the notes.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import (
    Camera,
    People,
    client_headers,
    fill_date,
    hidden,
    open_session,
    sign_in,
    submit,
)
from tests.support.gateway import GatewayStack
from tests.support.plan import draft_plan

ENGLAND = ZoneInfo("Europe/London")
VISIT_NOTE = "Grace says mornings are calmer since the walking bus started."
CALL_NOTE = "Amara's teacher rang: attendance is up this week."


def written(moment: datetime) -> str:
    """A contact's time as the chronology writes it."""
    return f"{moment.day} {moment.strftime('%B')} {moment.year}, {moment:%H:%M}"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
async def test_the_lead_records_two_contacts_and_a_plan_only_partner_sees_the_chronology_without_the_notes(
    stack: GatewayStack, people: People, browser: Browser, camera: Camera, javascript: bool
) -> None:
    http = stack.gateway.http
    author = await client_headers(stack.gateway, people.council)
    plan = await draft_plan(http, author)
    now = datetime.now(ENGLAND).replace(second=0, microsecond=0)
    visited, called = now - timedelta(hours=3), now - timedelta(hours=1)
    council = await open_session(browser, f"{stack.gateway.url}/staff", camera, javascript)
    page = council.page
    await council.sign_in(people.council)
    await page.goto(f"{council.base}/plans/{plan['id']}")

    # The later contact first: the chronology is in the order things happened, not the order they were typed.
    await page.get_by_role("link", name="Record a contact").click()
    await submit(page, "Record the contact")
    summary = page.locator(".govuk-error-summary")
    for message in ("Select what kind of contact it was.", "Enter the date of the contact.",
                    "Enter the time of the contact.", "Enter what happened and what was said."):  # fmt: skip
        await expect(summary).to_contain_text(message)
    await council.step("contact-errors")
    await page.get_by_label("A phone call").check()
    await fill_date(page, "When did it happen?", called.date() + timedelta(days=1))
    await page.get_by_label("At what time?").fill("25:00")
    await page.get_by_label("Who took part? (optional)").fill("Jo Teacher, class teacher\nmother")
    await page.get_by_label("What happened and what was said?").fill(CALL_NOTE)
    await submit(page, "Record the contact")
    await expect(summary).to_contain_text("Enter the time as hours and minutes, like 9:30 or 14:15.")
    await expect(page.get_by_label("What happened and what was said?")).to_have_value(CALL_NOTE)
    await page.get_by_label("At what time?").fill(f"{called:%H:%M}")
    await submit(page, "Record the contact")  # tomorrow: the plan service refuses a contact in the future
    await expect(summary).to_contain_text("The contact's time is in the future.")
    await expect(page.get_by_label("A phone call")).to_be_checked()
    await expect(page.get_by_label("Who took part? (optional)")).to_have_value("Jo Teacher, class teacher\nmother")
    await expect(page.get_by_label("At what time?")).to_have_value(f"{called:%H:%M}")
    await council.step("contact-refused")
    await fill_date(page, "When did it happen?", called.date())
    await submit(page, "Record the contact")
    await expect(page.get_by_text("The contact is recorded.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Chronology")).to_be_visible()

    await page.get_by_role("link", name="Record a contact").click()
    await page.get_by_label("A visit").check()
    await fill_date(page, "When did it happen?", visited.date())
    await page.get_by_label("At what time?").fill(f"{visited.hour}.{visited:%M}")
    await page.get_by_label("Who took part? (optional)").fill("Grace Okafor, mother")
    await page.get_by_label("What happened and what was said?").fill(VISIT_NOTE)
    await council.step("contact")
    await submit(page, "Record the contact")
    await expect(page.get_by_text("The contact is recorded.")).to_be_visible()

    rows = page.locator("#chronology tbody tr")
    texts = await rows.all_inner_texts()
    contacts = [text for text in texts if "Recorded by Northshire Early Help" in text]
    assert len(contacts) == 2, texts
    assert contacts[0].startswith(written(visited)) and "Visit" in contacts[0], contacts
    assert "With Grace Okafor (mother)" in contacts[0] and VISIT_NOTE in contacts[0], contacts
    assert contacts[1].startswith(written(called)) and "Phone call" in contacts[1], contacts
    assert "With Jo Teacher (class teacher); mother" in contacts[1] and CALL_NOTE in contacts[1], contacts
    assert any("Plan opened" in text for text in texts), texts
    await expect(page.locator("#no-case-notes")).to_have_count(0)
    await council.step("chronology")

    stored = (await http.get(f"/plans/{plan['id']}/contacts", headers=author)).json()
    assert [(c["kind"], c["occurred_at"][:16], c["participants"]) for c in stored] == [
        ("visit", visited.astimezone(ENGLAND).isoformat()[:16], [{"name": "Grace Okafor", "role": "mother",
                                                                   "organisation_id": None}]),
        ("call", called.isoformat()[:16], [{"name": "Jo Teacher", "role": "class teacher", "organisation_id": None},
                                           {"name": None, "role": "mother", "organisation_id": None}]),
    ]  # fmt: skip

    # The family agree that the health visitors see the plan, not its case notes.
    await page.goto(f"{council.base}/families/{plan['family_id']}/sharing")
    await expect(page.get_by_label("Case notes (contacts with the family)")).to_be_visible()
    await page.get_by_label("A parent or carer").check()
    await page.get_by_label("In writing").check()
    await page.get_by_label("Plans", exact=True).check()
    await page.get_by_label("Northshire Health Visiting").check()
    await council.step("sharing")
    await submit(page, "Record agreement and sharing")
    grants = (await http.get("/consents", params={"family_id": plan["family_id"]}, headers=author)).json()
    assert [(g["categories"], g["recipient_organisations"]) for g in grants] == [
        (["plan"], [people.health.organisation_id])
    ]
    council.assert_clean()

    health = await open_session(browser, f"{stack.gateway.url}/staff", camera, javascript)
    await health.sign_in(people.health)
    await health.page.goto(f"{health.base}/plans/{plan['id']}")
    await health.page.get_by_role("link", name="Chronology").click()
    await expect(health.page.locator("#no-case-notes")).to_contain_text("You may not see the case notes")
    shown = health.page.locator("#chronology tbody")
    await expect(shown).to_contain_text(written(visited))
    await expect(shown).to_contain_text(written(called))
    await expect(shown.get_by_text("Case notes not shown")).to_have_count(2)
    page_text = await health.page.content()
    assert not [note for note in (VISIT_NOTE, CALL_NOTE, "Jo Teacher", "Grace Okafor") if note in page_text]
    await health.step("chronology-without-notes")
    health.assert_clean()


async def test_an_organisation_that_may_not_see_the_plan_gets_no_chronology_and_records_no_contact(
    stack: GatewayStack, people: People
) -> None:
    author = await client_headers(stack.gateway, people.council)
    plan = await draft_plan(stack.gateway.http, author)
    contact = {"kind": "visit", "occurred_at": datetime.now(ENGLAND).isoformat(), "summary": VISIT_NOTE,
               "participants": [{"name": "Grace Okafor", "role": "mother"}]}  # fmt: skip
    recorded = await stack.gateway.http.post(f"/plans/{plan['id']}/contacts", json=contact, headers=author)
    assert recorded.status_code == 201, recorded.text
    secrets = (VISIT_NOTE, "Grace Okafor", "Amara", plan["needs"][0]["description"][:40])
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        assert (await sign_in(http, people.health)).status_code == 303
        for path in (f"/staff/plans/{plan['id']}/chronology", f"/staff/plans/{plan['id']}/contact"):
            shown = await http.get(path)
            assert shown.status_code in (403, 404), (path, shown.status_code)
            assert shown.headers["content-type"].startswith("text/html"), path
            assert not [secret for secret in secrets if secret in shown.text], path
        token = hidden((await http.get("/staff/find")).text, "csrf_token")
        form = {"csrf_token": token, "etag": "", "contact_kind": "call", "contact_on-day": "1", "contact_on-month": "1",
                "contact_on-year": "2026", "contact_time": "9:30", "contact_summary": "Rang the family."}  # fmt: skip
        posted = await http.post(f"/staff/plans/{plan['id']}/contact", data=form)
        assert posted.status_code in (403, 404), posted.status_code
        assert not [secret for secret in secrets if secret in posted.text]
    stored = (await stack.gateway.http.get(f"/plans/{plan['id']}/contacts", headers=author)).json()
    assert [c["summary"] for c in stored] == [VISIT_NOTE]

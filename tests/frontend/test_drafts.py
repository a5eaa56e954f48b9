"""A draft saved part-way and taken up later, and a page saved over someone else's change."""

import re

import httpx

from tests.support.browser import People, client_headers, hidden, sign_in
from tests.support.gateway import GatewayStack

REASON = "The nursery asked for help with speech and language."


async def started_assessment(http: httpx.AsyncClient) -> str:
    """A new family and an early help assessment started for it, through the pages."""
    page = (await http.get("/staff/families/new")).text
    family = {"child_given_name": "Ava", "child_family_name": "Example", "parent_given_name": "Sam",
              "parent_family_name": "Example", "csrf_token": hidden(page, "csrf_token")}  # fmt: skip
    family_page = (await http.post("/staff/families/new", data=family, follow_redirects=True)).text
    action = re.search(r'action="(/staff/families/[^"]+/assessments)"', family_page)
    assert action
    started = await http.post(
        action.group(1), data={"form": "early-help-assessment", "csrf_token": hidden(family_page, "csrf_token")}
    )
    assert started.status_code == 303
    return started.headers["location"]


async def test_a_draft_saved_part_way_is_there_to_come_back_to(stack: GatewayStack, people: People) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        await sign_in(http, people.health)
        assessment = await started_assessment(http)
        page = (await http.get(f"{assessment}/pages/about")).text
        saved = await http.post(
            f"{assessment}/pages/about",
            data={"/about_the_assessment/reason": REASON, "action": "draft", "csrf_token": hidden(page, "csrf_token"),
                  "etag": hidden(page, "etag")},
        )  # fmt: skip
        assert saved.status_code == 303 and saved.headers["location"] == f"{assessment}?saved=1"
        overview = (await http.get(saved.headers["location"])).text
        assert "Your draft is saved. You can come back to it at any time." in overview
        assert overview.count("Not started") == 9  # ten pages, one answered

    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as later:  # another day, signed in again
        await sign_in(later, people.health)
        again = (await later.get(f"{assessment}/pages/about")).text
        assert f">{REASON}</textarea>" in again


async def test_a_page_saved_over_someone_elses_change_is_not_lost_and_is_shown_to_check(
    stack: GatewayStack, people: People
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=30) as http:
        await sign_in(http, people.health)
        assessment = await started_assessment(http)
        assessment_id = assessment.rsplit("/", 1)[-1]
        page = (await http.get(f"{assessment}/pages/about")).text
        opened_etag = hidden(page, "etag")

        partner = await client_headers(stack.gateway, people.health)
        meanwhile = await stack.gateway.http.put(
            f"/assessments/{assessment_id}",
            json={"answers": {"summary": "Written by the health system."}},
            headers=partner | {"If-Match": opened_etag},
        )
        assert meanwhile.status_code == 200

        form = {"/about_the_assessment/reason": REASON, "action": "continue", "csrf_token": hidden(page, "csrf_token")}
        stale = await http.post(f"{assessment}/pages/about", data=form | {"etag": opened_etag})
        assert stale.status_code == 409
        assert "Someone else saved this assessment after you opened this page." in stale.text
        assert f">{REASON}</textarea>" in stale.text  # what was typed is still there
        assert hidden(stale.text, "etag") == meanwhile.headers["ETag"]  # saving again is against the change

        resaved = await http.post(f"{assessment}/pages/about", data=form | {"etag": meanwhile.headers["ETag"]})
        assert resaved.status_code == 303 and resaved.headers["location"] == f"{assessment}/pages/family"
        stored = (await stack.gateway.http.get(f"/assessments/{assessment_id}", headers=partner)).json()
        assert stored["answers"] == {"summary": "Written by the health system.",
                                     "about_the_assessment": {"reason": REASON}}  # fmt: skip

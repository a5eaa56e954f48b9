"""Contacts recorded on a plan and its chronology: the plan's author, lead and team record them; their notes are the
category `case_notes`, which a basis for the plan does not open; every read is audited, and the event carries no
notes."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.support.organisations import Organisation
from tests.support.plan import PlanStack, grant
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers
from tests.support.streams import published, stream_messages
from tests.support.waiting import eventually

SUMMARY = "Home visit: Mum says mornings are calmer; Maisie walked to school with her brother all week."
PARTICIPANTS = [
    {"name": "Grace Okafor", "role": "mother"},
    {"name": "Sam Lead", "role": "family worker", "organisation_id": "org-council"},
]


def _contact(occurred_at: datetime, kind: str = "visit", summary: str = SUMMARY) -> dict[str, Any]:
    return {"kind": kind, "occurred_at": occurred_at.isoformat(), "participants": PARTICIPANTS, "summary": summary}


async def _record(stack: PlanStack, who: Organisation, plan_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.plans.post(f"/plans/{plan_id}/contacts", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    contact: dict[str, Any] = response.json()
    return contact


async def _chronology(stack: PlanStack, who: Organisation, plan_id: str) -> dict[str, Any]:
    response = await stack.plans.get(f"/plans/{plan_id}/chronology", headers=who.headers)
    assert response.status_code == 200, response.text
    chronology: dict[str, Any] = response.json()
    return chronology


def _failing(response: httpx.Response) -> set[str]:
    """The JSON pointers a validation problem names."""
    assert_problem(response, 422, "validation-failed")
    return {error["pointer"] for error in response.json()["errors"]}


async def _audited(stack: PlanStack, resource_id: str, entry: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    """(organisation, action, basis) of the accesses to a resource recorded, once `entry` is among them."""
    found: list[tuple[str, str, str]] = []

    async def recorded() -> bool:
        entries = await published(stack, "audit.recorded")
        found[:] = [(e["organisation_id"], e["action"], e["basis"]) for e in entries if e["resource_id"] == resource_id]
        return entry in found

    await eventually(recorded)
    return found


async def test_the_lead_records_a_contact_announced_without_its_notes_and_reads_it_back(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)
    occurred_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    headers = {**council.headers, "Idempotency-Key": "visit-1"}

    first = await plan_stack.plans.post(f"/plans/{plan['id']}/contacts", json=_contact(occurred_at), headers=headers)
    again = await plan_stack.plans.post(f"/plans/{plan['id']}/contacts", json=_contact(occurred_at), headers=headers)

    assert first.status_code == 201, first.text
    contact = first.json()
    recorded_at = datetime.fromisoformat(contact["recorded_at"])
    assert contact == {
        "id": contact["id"],
        "plan_id": plan["id"],
        "family_id": family_id,
        "kind": "visit",
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "participants": [PARTICIPANTS[0] | {"organisation_id": None}, PARTICIPANTS[1]],
        "summary": SUMMARY,
        "organisation_id": "org-council",
        "recorded_by": "worker@org-council",
        "recorded_at": contact["recorded_at"],
    }
    assert abs(datetime.now(UTC) - recorded_at) < timedelta(minutes=1)
    assert (again.status_code, again.json()) == (201, contact)
    listed = await plan_stack.plans.get(f"/plans/{plan['id']}/contacts", headers=council.headers)
    assert (listed.status_code, listed.json()) == (200, [contact])
    unchanged = await plan_stack.plans.get(f"/plans/{plan['id']}", headers=council.headers)
    assert unchanged.json()["version"] == plan["version"], "a contact changes neither the plan nor its version"

    async def announced() -> bool:
        return bool(await published(plan_stack, "plan.contact_recorded"))

    await eventually(announced)
    assert await published(plan_stack, "plan.contact_recorded") == [
        {
            "plan_id": plan["id"],
            "family_id": family_id,
            "organisation_id": "org-council",
            "contact_id": contact["id"],
            "kind": "visit",
            "occurred_at": contact["occurred_at"],
        }
    ]
    stream = [message.event for message in await stream_messages(plan_stack.nats.url)]
    carried = " ".join(str(event.get_data()) for event in stream)
    assert "mornings are calmer" not in carried and "Grace" not in carried, "no event carries the notes"
    assert ("org-council", "create", "authorship") in await _audited(
        plan_stack, contact["id"], ("org-council", "create", "authorship")
    )
    await _audited(plan_stack, plan["id"], ("org-council", "read_contacts", "authorship"))


async def test_a_plan_grantee_reads_the_plan_not_its_case_notes_until_a_grant_covers_them(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    health = plan_stack.organisation("org-health", "health")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)
    contact = await _record(plan_stack, council, plan["id"], _contact(datetime.now(UTC) - timedelta(days=1)))
    await grant(plan_stack, council, family_id, categories=["plan"], recipient_organisations=["org-health"])

    async def reads_the_plan() -> bool:
        return (await plan_stack.plans.get(f"/plans/{plan['id']}", headers=health.headers)).status_code == 200

    await eventually(reads_the_plan)
    refused = await plan_stack.plans.get(f"/plans/{plan['id']}/contacts", headers=health.headers)
    assert_problem(refused, 403, "access-refused")
    assert SUMMARY not in refused.text and "Grace" not in refused.text
    without_notes = await _chronology(plan_stack, health, plan["id"])
    assert without_notes["case_notes"] is False
    (entry,) = [e for e in without_notes["entries"] if e["kind"] == "contact"]
    assert entry["contact"] == {
        "id": contact["id"],
        "kind": "visit",
        "organisation_id": "org-council",
        "participants": None,
        "summary": None,
    }
    assert SUMMARY not in str(without_notes) and "Grace" not in str(without_notes)
    await _audited(plan_stack, plan["id"], ("org-health", "read_contacts", "refused"))

    await grant(plan_stack, council, family_id, categories=["case_notes"], recipient_organisations=["org-health"])

    async def reads_the_notes() -> bool:
        response = await plan_stack.plans.get(f"/plans/{plan['id']}/contacts", headers=health.headers)
        return response.status_code == 200 and response.json() == [contact]

    await eventually(reads_the_notes)
    with_notes = await _chronology(plan_stack, health, plan["id"])
    assert with_notes["case_notes"] is True
    (entry,) = [e for e in with_notes["entries"] if e["kind"] == "contact"]
    assert (entry["contact"]["summary"], entry["contact"]["participants"]) == (SUMMARY, contact["participants"])
    audited = await _audited(plan_stack, plan["id"], ("org-health", "read_case_notes", "grant"))
    assert ("org-health", "read_contacts", "grant") in audited
    # A grant of case notes reads them; it records none, as it changes nothing of the plan.
    written = await plan_stack.plans.post(
        f"/plans/{plan['id']}/contacts", json=_contact(datetime.now(UTC)), headers=health.headers
    )
    assert_problem(written, 403, "not-on-the-team")


async def test_the_team_records_contacts_but_reads_the_notes_only_as_their_keepers_allow(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    school = plan_stack.organisation("org-school", "school")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.opened_plan(council, family_id)
    team = [{"organisation_id": "org-school", "role": "attendance lead"}]
    plan = await plan_stack.change(council, plan, "", {"team": team}, method="PATCH")

    recorded = await _record(plan_stack, school, plan["id"], _contact(datetime.now(UTC), "call", "Rang about lates."))
    assert (recorded["organisation_id"], recorded["summary"]) == ("org-school", "Rang about lates.")

    assert_problem(
        await plan_stack.plans.get(f"/plans/{plan['id']}/contacts", headers=school.headers), 403, "access-refused"
    )
    as_team = await _chronology(plan_stack, school, plan["id"])
    assert as_team["case_notes"] is False
    assert [e["contact"]["summary"] for e in as_team["entries"] if e["kind"] == "contact"] == [None]
    kept = await plan_stack.plans.get(f"/plans/{plan['id']}/contacts", headers=council.headers)
    assert [c["summary"] for c in kept.json()] == ["Rang about lates."]  # the plan's author keeps its notes


async def test_a_contact_in_the_future_of_no_kind_or_too_long_is_a_problem(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)
    url = f"/plans/{plan['id']}/contacts"
    now = datetime.now(UTC)

    future = await plan_stack.plans.post(url, json=_contact(now + timedelta(hours=1)), headers=council.headers)
    assert_problem(future, 422, "invalid-contact")
    assert SUMMARY not in future.text
    unknown = await plan_stack.plans.post(url, json=_contact(now, kind="letter"), headers=council.headers)
    assert _failing(unknown) == {"/kind"}
    huge = await plan_stack.plans.post(url, json=_contact(now, summary="x" * 10_001), headers=council.headers)
    assert _failing(huge) == {"/summary"}
    naive = _contact(now) | {"occurred_at": now.replace(tzinfo=None).isoformat()}
    assert_problem(await plan_stack.plans.post(url, json=naive, headers=council.headers), 422, "validation-failed")
    missing = await plan_stack.plans.post(f"/plans/{'0' * 36}/contacts", json=_contact(now), headers=council.headers)
    assert_problem(missing, 404, "plan-not-found")
    listed = await plan_stack.plans.get(url, headers=council.headers)
    assert listed.json() == [], "nothing refused was recorded"

    plan = await plan_stack.change(council, plan, "/close", {"reason": "outcomes_met"})
    closed = await plan_stack.plans.post(url, json=_contact(now), headers=council.headers)
    assert_problem(closed, 409, "plan-state")
    assert closed.json()["plan_status"] == "closed"


async def test_contacts_page_on_in_the_order_they_happened(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)
    now = datetime.now(UTC).replace(microsecond=0)
    recorded = [
        await _record(plan_stack, council, plan["id"], _contact(now - timedelta(days=days), summary=f"Day -{days}."))
        for days in (3, 5, 1, 4, 2)
    ]

    pages, path = [], f"/plans/{plan['id']}/contacts?limit=2"
    while path:
        response = await plan_stack.plans.get(path, headers=council.headers)
        assert response.status_code == 200, response.text
        pages.append([c["summary"] for c in response.json()])
        link = response.headers.get("Link", "")
        path = link[1 : link.index(">")] if link else ""

    assert pages == [["Day -5.", "Day -4."], ["Day -3.", "Day -2."], ["Day -1."]]
    assert sorted(c["id"] for c in recorded) == sorted(
        c["id"] for c in (await plan_stack.plans.get(f"/plans/{plan['id']}/contacts", headers=council.headers)).json()
    )
    bad = await plan_stack.plans.get(f"/plans/{plan['id']}/contacts?after={'0' * 36}", headers=council.headers)
    assert_problem(bad, 422, "validation-failed")


async def test_the_chronology_holds_every_kind_of_step_in_date_order(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    today = date.today()
    now = datetime.now(UTC).replace(microsecond=0)

    def days_ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    assessment_id = await plan_stack.submit(council, family_id, assessment_answers(started=days_ago(120)))
    plan = await plan_stack.active_plan(council, family_id, activated_on=days_ago(100))
    late = await _record(plan_stack, council, plan["id"], _contact(now - timedelta(days=30), "meeting"))
    early = await _record(plan_stack, council, plan["id"], _contact(now - timedelta(days=80), "call"))
    rating = [{"goal_id": plan["goals"][0]["id"], "stage": "action", "score": 6}]
    review = {"held_on": days_ago(60), "attendees": [{"name": "Sam Lead", "role": "lead professional"}],
              "family_voice": "Better mornings.", "ratings": rating}  # fmt: skip
    plan = await plan_stack.change(council, plan, "/reviews", review)
    plan = await plan_stack.change(council, plan, "/close", {"reason": "family_disengaged", "closed_on": days_ago(10)})
    plan = await plan_stack.change(council, plan, "/reopen", {"reason": "Mum asked for help again."})
    today_s = await _record(plan_stack, council, plan["id"], _contact(now - timedelta(minutes=1), "note"))
    plan = await plan_stack.change(council, plan, "/step-up", {"reason": "Concerns raised at a home visit."})
    (referral,) = (
        await plan_stack.plans.get(f"/families/{family_id}/social-care-referrals", headers=council.headers)
    ).json()
    decided = await plan_stack.plans.post(
        f"/social-care-referrals/{referral['id']}/outcome",
        json={"outcome": "child_in_need", "decided_on": today.isoformat()},
        headers=council.headers,
    )
    assert decided.status_code == 200, decided.text

    chronology = await _chronology(plan_stack, council, plan["id"])

    assert (chronology["plan_id"], chronology["family_id"], chronology["case_notes"]) == (plan["id"], family_id, True)
    entries = chronology["entries"]
    assert [(e["kind"], e["occurred_at"][:10]) for e in entries] == [
        ("assessment", days_ago(120)),
        ("plan_opened", days_ago(120)),
        ("plan_activated", days_ago(100)),
        ("contact", early["occurred_at"][:10]),
        ("review", days_ago(60)),
        ("contact", late["occurred_at"][:10]),
        ("plan_closed", days_ago(10)),
        ("plan_reopened", today.isoformat()),
        ("contact", today_s["occurred_at"][:10]),
        ("plan_stepped_up", today.isoformat()),
        ("social_care_referral", today.isoformat()),
        ("social_care_outcome", today.isoformat()),
    ]
    assert entries[0]["assessment"]["assessment_id"] == assessment_id
    assert [e["contact"]["id"] for e in entries if e["kind"] == "contact"] == [early["id"], late["id"], today_s["id"]]
    assert entries[4]["review"]["id"] == plan["reviews"][0]["id"]
    assert entries[6]["status"] == {
        "episode": 1, "reason": "family_disengaged", "re_referral": None, "stepped_down_from": None,
        "stepped_down_to": None,
    }  # fmt: skip
    assert entries[7]["status"]["episode"] == 2 and entries[7]["status"]["re_referral"] is True
    assert entries[11]["referral"] == {
        "referral_id": referral["id"], "source": "step_up", "organisation_id": "org-council", "outcome": "child_in_need"
    }  # fmt: skip

    stepped_down = await plan_stack.change(council, plan, "/step-down", {})
    assert (await _chronology(plan_stack, council, plan["id"]))["entries"][-1]["status"]["stepped_down_to"] == (
        stepped_down["id"]
    )
    (opening,) = (await _chronology(plan_stack, council, stepped_down["id"]))["entries"]
    assert (opening["kind"], opening["status"]["stepped_down_from"]) == ("plan_stepped_down", plan["id"])

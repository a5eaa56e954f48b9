"""Nobody sees a family without a basis: who may register, write, share, withdraw, read agreements and ask.

An organisation that meets a family it cannot see learns nothing of it: a registration naming a known child
is a 409 that names no family and asks, for it, those who hold a basis; a request for access by identifiers
is answered the same whether or not a family matches; only an approval by a holder opens the records.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from services.kit.clock import now
from tests.support.consent import ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.samples import family_body, submitted_sample
from tests.support.streams import published
from tests.support.waiting import eventually

NHS_NUMBER = "9434765919"
BORN = "2017-05-14"  # the child's date of birth in family_body
APPROVAL = {"given_by_role": "parent_or_carer", "evidence": "verbal"}


async def _register(stack: ConsentStack, organisation: Organisation, nhs_number: str = NHS_NUMBER) -> str:
    registered = await stack.assessment.post("/families", json=family_body(nhs_number), headers=organisation.headers)
    assert registered.status_code == 201, registered.text
    family_id: str = registered.json()["id"]
    return family_id


async def _audit_of(stack: ConsentStack, family_id: str) -> list[dict[str, Any]]:
    dpo = stack.organisation("org-dpo", "council", scopes="audit:read")
    entries = await stack.consent.get("/audit", params={"family_id": family_id}, headers=dpo.headers)
    assert entries.status_code == 200, entries.text
    found: list[dict[str, Any]] = entries.json()
    return found


async def test_a_stranger_cannot_make_itself_a_basis_to_read_a_family(stack: ConsentStack) -> None:
    """The three steps a new partner tried: a 409 reveals the id, a grant naming itself, then the read."""
    school = stack.organisation("org-school", "school")
    health = stack.organisation("org-health", "health")
    family_id = await _register(stack, school)

    # 1. Registering the same child: a 409 that names no family, no Location, and who holds it.
    known = await stack.assessment.post("/families", json=family_body(NHS_NUMBER), headers=health.headers)
    problem = assert_problem(known, 409, "family-exists")
    assert "location" not in known.headers
    assert family_id not in known.text and school.id not in known.text
    assert set(problem) >= {"access_request_id"} and "family_id" not in problem

    # Nor does a search by the identifier return or count it.
    found = await stack.assessment.get("/families", params={"identifier": f"nhs:{NHS_NUMBER}"}, headers=health.headers)
    assert found.status_code == 200 and found.json() == []

    # 2. A grant naming itself, even with the id guessed or leaked: refused, and it may never name itself.
    grant = {"family_id": family_id, "given_by_role": "parent_or_carer", "evidence": "verbal"}
    to_itself = await stack.consent.post(
        "/consents", json={**grant, "categories": ["assessment"], "recipient_types": ["health"]}, headers=health.headers
    )
    assert_problem(to_itself, 403, "access-refused")
    naming_itself = await stack.consent.post(
        "/consents",
        json={**grant, "categories": ["assessment"], "recipient_organisations": [school.id]},
        headers=school.headers,
    )
    assert_problem(naming_itself, 422, "validation-failed")

    # 3. The family stays closed to it, to read and to write.
    assert_problem(await stack.assessment.get(f"/families/{family_id}", headers=health.headers), 403, "access-refused")
    written = await stack.assessment.post(
        "/assessments", json=submitted_sample(family_id, "early-help-assessment"), headers=health.headers
    )
    assert_problem(written, 403, "access-refused")

    # Every refusal is in the access log, with no basis.
    async def refusals_logged() -> bool:
        refused = [e for e in await _audit_of(stack, family_id) if e["organisation_id"] == health.id]
        return len(refused) >= 3 and all(entry["basis"] == "refused" for entry in refused)

    await eventually(refusals_logged, within=5.0)


async def test_a_request_for_access_is_answered_by_the_family_s_school_then_withdrawn(stack: ConsentStack) -> None:
    school = stack.organisation("org-school", "school")
    health = stack.organisation("org-health", "health")
    family_id = await _register(stack, school)

    asked = await stack.consent.post(
        "/access-requests",
        json={
            "identifiers": [{"system": "nhs", "value": "943 476 5919"}],
            "date_of_birth": BORN,
            "categories": ["assessment"],
            "reason": "The health visitor met the family at the clinic and needs the school's assessment.",
        },
        headers=health.headers,
    )
    assert asked.status_code == 202, asked.text
    assert set(asked.json()) == {"id", "status"} and asked.json()["status"] == "waiting"
    request_id = asked.json()["id"]

    own = await stack.consent.get(f"/access-requests/{request_id}", headers=health.headers)
    assert own.json()["status"] == "waiting" and own.json()["family_id"] is None

    incoming = await stack.consent.get("/access-requests", params={"direction": "incoming"}, headers=school.headers)
    assert [(r["id"], r["family_id"], r["organisation_id"]) for r in incoming.json()] == [
        (request_id, family_id, health.id)
    ]
    # Those without a basis see nothing incoming, and cannot answer.
    other = stack.organisation("org-charity", "voluntary")
    assert (await stack.consent.get("/access-requests?direction=incoming", headers=other.headers)).json() == []
    assert_problem(
        await stack.consent.post(f"/access-requests/{request_id}/approve", json=APPROVAL, headers=other.headers),
        404,
        "access-request-not-found",
    )

    approved = await stack.consent.post(f"/access-requests/{request_id}/approve", json=APPROVAL, headers=school.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["family_id"] == family_id
    grant_id = approved.json()["grant_id"]
    answered = await stack.consent.get(f"/access-requests/{request_id}", headers=health.headers)
    assert (answered.json()["status"], answered.json()["family_id"]) == ("approved", family_id)

    read = await stack.assessment.get(f"/families/{family_id}", headers=health.headers)
    assert read.status_code == 200, read.text

    withdrawn = await stack.consent.post(f"/consents/{grant_id}/withdraw", json={}, headers=school.headers)
    assert withdrawn.status_code == 200, withdrawn.text

    async def refused() -> bool:
        return (await stack.assessment.get(f"/families/{family_id}", headers=health.headers)).status_code == 403

    await eventually(refused, within=1.0)
    events = await published(stack, "access.approved")
    assert events == [
        {"request_id": request_id, "organisation_id": health.id, "grant_id": grant_id, "family_id": family_id}
    ]


async def test_a_request_is_answered_the_same_whether_or_not_a_family_matches(stack: ConsentStack) -> None:
    school = stack.organisation("org-school", "school")
    police = stack.organisation("org-police", "police")
    await _register(stack, school)
    body = {"date_of_birth": BORN, "categories": ["assessment"], "reason": "Met the child at a call-out last night."}
    matched = await stack.consent.post(
        "/access-requests",
        json={**body, "identifiers": [{"system": "nhs", "value": NHS_NUMBER}]},
        headers=police.headers,
    )
    unmatched = await stack.consent.post(
        "/access-requests",
        json={**body, "identifiers": [{"system": "nhs", "value": "4010232137"}]},
        headers=police.headers,
    )
    wrong_birthday = await stack.consent.post(
        "/access-requests",
        json={**body, "date_of_birth": "2017-05-15", "identifiers": [{"system": "nhs", "value": NHS_NUMBER}]},
        headers=police.headers,
    )
    answers = [matched, unmatched, wrong_birthday]
    assert [(a.status_code, set(a.json()), a.json()["status"]) for a in answers] == [
        (202, {"id", "status"}, "waiting")
    ] * 3
    mine = await stack.consent.get("/access-requests", params={"direction": "outgoing"}, headers=police.headers)
    listed = {r["id"]: r for r in mine.json()}
    assert set(listed) == {a.json()["id"] for a in answers}
    for request in listed.values():
        assert request["family_id"] is None and request["status"] == "waiting"
        created, expires = (datetime.fromisoformat(request[at]) for at in ("created_at", "expires_at"))
        assert expires - created == timedelta(days=30) and now() - created < timedelta(minutes=1)
    # Only the matching one reaches the school.
    incoming = await stack.consent.get("/access-requests?direction=incoming", headers=school.headers)
    assert [r["id"] for r in incoming.json()] == [matched.json()["id"]]


async def test_a_registration_naming_a_known_child_asks_for_access(stack: ConsentStack) -> None:
    school = stack.organisation("org-school", "school")
    health = stack.organisation("org-health", "health")
    family_id = await _register(stack, school)
    known = await stack.assessment.post("/families", json=family_body(NHS_NUMBER), headers=health.headers)
    request_id = assert_problem(known, 409, "family-exists")["access_request_id"]
    incoming = await stack.consent.get("/access-requests?direction=incoming", headers=school.headers)
    assert [(r["id"], r["family_id"], r["origin"]) for r in incoming.json()] == [
        (request_id, family_id, "registration")
    ]
    declined = await stack.consent.post(
        f"/access-requests/{request_id}/decline", json={"reason": "The family has not agreed."}, headers=school.headers
    )
    assert declined.json()["status"] == "declined"
    again = await stack.consent.post(f"/access-requests/{request_id}/approve", json=APPROVAL, headers=school.headers)
    assert_problem(again, 409, "access-request-answered")
    theirs = await stack.consent.get(f"/access-requests/{request_id}", headers=health.headers)
    assert (theirs.json()["status"], theirs.json()["family_id"]) == ("declined", None)


async def test_agreements_are_read_and_withdrawn_only_by_those_with_the_standing(stack: ConsentStack) -> None:
    school = stack.organisation("org-school", "school")
    other_school = stack.organisation("org-school-2", "school")
    coordinator = stack.organisation("org-hub", "council", roles=("coordinator",))
    family_id = await _register(stack, school)
    body = {"family_id": family_id, "given_by_role": "parent_or_carer", "given_by_name": "Grace", "evidence": "verbal"}
    assert_problem(
        await stack.consent.post("/agreements", json=body, headers=other_school.headers), 403, "access-refused"
    )
    recorded = await stack.consent.post("/agreements", json=body, headers=school.headers)
    assert recorded.status_code == 201, recorded.text

    listed = await stack.consent.get("/agreements", params={"family_id": family_id}, headers=other_school.headers)
    assert_problem(listed, 403, "access-refused")
    assert "Grace" not in listed.text
    for holder in (school, coordinator):
        seen = await stack.consent.get("/agreements", params={"family_id": family_id}, headers=holder.headers)
        assert [a["id"] for a in seen.json()] == [recorded.json()["id"]]

    withdraw = f"/agreements/{recorded.json()['id']}/withdraw"
    assert_problem(await stack.consent.post(withdraw, headers=other_school.headers), 403, "forbidden")
    assert (await stack.consent.post(withdraw, headers=coordinator.headers)).json()["withdrawn_at"]


async def test_a_grant_is_withdrawn_by_its_recorder_the_lead_s_organisation_or_a_coordinator_only(
    stack: ConsentStack,
) -> None:
    school = stack.organisation("org-school", "school")
    police = stack.organisation("org-police", "police")
    other_police = stack.organisation("org-police-2", "police")
    lead = stack.organisation("org-council", "council")
    family_id = await _register(stack, school)
    await stack.tell(family_id, "lead", lead, ["assessment", "plan"])
    grants = [
        await stack.grant(school, family_id, categories=["assessment"], recipient_types=["police"]) for _ in range(2)
    ]
    for outsider in (police, other_police):
        refused = await stack.consent.post(f"/consents/{grants[0]['id']}/withdraw", json={}, headers=outsider.headers)
        assert_problem(refused, 403, "forbidden")
    by_lead = await stack.consent.post(f"/consents/{grants[0]['id']}/withdraw", json={}, headers=lead.headers)
    assert by_lead.json()["status"] == "withdrawn"
    by_recorder = await stack.consent.post(f"/consents/{grants[1]['id']}/withdraw", json={}, headers=school.headers)
    assert by_recorder.json()["status"] == "withdrawn"


async def test_a_coordinator_holds_a_basis_for_every_family_on_its_public_task(stack: ConsentStack) -> None:
    school = stack.organisation("org-school", "school")
    hub = stack.organisation("org-hub", "council", roles=("coordinator",))
    family_id = await _register(stack, school)
    read = await stack.assessment.get(f"/families/{family_id}", headers=hub.headers)
    assert read.status_code == 200, read.text
    shared = await stack.grant(hub, family_id, categories=["assessment", "plan"], recipient_types=["health"])
    assert shared["status"] == "active"

    async def on_its_public_task() -> bool:
        entries = [e for e in await _audit_of(stack, family_id) if e["organisation_id"] == hub.id]
        return {(e["action"], e["basis"]) for e in entries} >= {("read", "public_task"), ("create", "public_task")}

    await eventually(on_its_public_task, within=5.0)


async def test_a_standing_told_at_once_by_several_requests_is_kept_once(stack: ConsentStack) -> None:
    """Two assessments written at the same moment each tell the consent service their author: no request fails."""
    school = stack.organisation("org-school", "school")
    council = stack.organisation("org-council", "council")
    family_id = await _register(stack, school)
    body = {"family_id": family_id, "kind": "team", "organisation_ids": [council.id], "categories": ["plan"]}
    service = stack.mint.headers("service")
    told = await asyncio.gather(
        *(stack.consent.post("/internal/relations", json=body, headers=service) for _ in range(6))
    )
    assert [answer.status_code for answer in told] == [204] * 6, [answer.text for answer in told]
    decided = await stack.consent.post(
        "/access-decisions", json={"family_id": family_id, "category": "plan"}, headers=council.headers
    )
    assert decided.json()["decision"] == "permit" and decided.json()["basis"]["kind"] == "team"

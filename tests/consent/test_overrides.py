"""Safeguarding overrides: a named practitioner's time-limited access without consent, on a justification of
substance; nobody else gains anything, closing it ends it, and its announcement never carries the justification."""

from datetime import datetime, timedelta
from typing import Any

from tests.support.consent import ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.streams import published, stream_messages
from tests.support.waiting import eventually

# A service bug pinned here, to be removed once fixed: the audit chain's advisory lock key in
JUSTIFICATION = (
    "Amara arrived at school with bruising on both arms and told her teacher she is afraid to go home tonight; "
    "the social worker needs the health visitor's assessment before the strategy meeting at four."
)


async def _open(stack: ConsentStack, practitioner: Organisation, family_id: str, **terms: Any) -> dict[str, Any]:
    body = {"family_id": family_id, "justification": JUSTIFICATION, **terms}
    response = await stack.consent.post("/safeguarding-overrides", json=body, headers=practitioner.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/safeguarding-overrides/{response.json()['id']}"
    override: dict[str, Any] = response.json()
    return override


def _social_worker(stack: ConsentStack, name: str) -> Organisation:
    return stack.organisation("org-social", "social_care", subject=name)


WITHOUT_SUBSTANCE = {
    "short": "Child at risk, see notes.",
    "one word repeated": "risk " * 12,
    "a phrase repeated": "child at risk " * 5,
    "a reference elsewhere repeated": "see the notes on file, " * 3,
}


async def _refused_naming_the_justification(stack: ConsentStack, justification: str) -> None:
    social_worker = _social_worker(stack, "pw-alice")
    family_id = "family-with-no-records"
    response = await stack.consent.post(
        "/safeguarding-overrides",
        json={"family_id": family_id, "justification": justification, "hours": 1},
        headers=social_worker.headers,
    )
    body = assert_problem(response, 422, "validation-failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [error["pointer"] for error in errors] == ["/justification"], errors
    assert justification.strip() not in response.text  # a problem never repeats what was sent
    opened = await stack.consent.get(
        "/safeguarding-overrides", params={"family_id": family_id}, headers=social_worker.headers
    )
    assert opened.json() == []


async def test_a_justification_that_is_short_or_repetitive_is_refused_naming_it(stack: ConsentStack) -> None:
    for justification in WITHOUT_SUBSTANCE.values():
        await _refused_naming_the_justification(stack, justification)


async def test_one_word_repeated_in_other_cases_and_punctuation_is_refused(stack: ConsentStack) -> None:
    await _refused_naming_the_justification(
        stack, "Urgent. Urgent! URGENT urgent, urgent; urgent: urgent? Urgent!! urgent..."
    )


async def test_the_named_practitioner_reads_through_an_override_and_a_colleague_does_not(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    alice, bob = _social_worker(stack, "pw-alice"), _social_worker(stack, "pw-bob")
    alice_elsewhere = stack.organisation("org-police", "police", subject="pw-alice")
    family_id, assessment_id = await stack.family_with_assessment(health)
    assert_problem(
        await stack.assessment.get(f"/assessments/{assessment_id}", headers=alice.headers), 403, "access-refused"
    )

    override = await _open(stack, alice, family_id, hours=1)
    assert (override["family_id"], override["organisation_id"], override["practitioner"]) == (
        family_id,
        "org-social",
        "pw-alice",
    )
    assert override["closed_at"] is None
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=alice.headers)
    assert read.status_code == 200, read.text
    assert read.json()["id"] == assessment_id
    assert_problem(
        await stack.assessment.get(f"/assessments/{assessment_id}", headers=bob.headers), 403, "access-refused"
    )
    assert_problem(
        await stack.assessment.get(f"/assessments/{assessment_id}", headers=alice_elsewhere.headers),
        403,
        "access-refused",
    )
    decided = await stack.consent.post(
        "/access-decisions", json={"family_id": family_id, "category": "plan"}, headers=alice.headers
    )
    assert decided.json()["decision"] == "permit"
    assert decided.json()["basis"] == {"kind": "override", "reference": override["id"]}

    async def opened_announced() -> bool:
        return bool(await published(stack, "override.opened"))

    await eventually(opened_announced)
    messages = [m for m in await stream_messages(stack.nats.url) if m.event.get_type() == "override.opened"]
    (opened,) = await published(stack, "override.opened")
    assert len(messages) == 1
    assert opened == {
        "override_id": override["id"],
        "family_id": family_id,
        "organisation_id": "org-social",
        "practitioner": "pw-alice",
        "opened_at": opened["opened_at"],
        "expires_at": opened["expires_at"],
        "revision": 1,  # the first change to what this consent service allows
    }
    assert datetime.fromisoformat(opened["expires_at"]) == datetime.fromisoformat(override["expires_at"])
    whole = messages[0].event.get_attributes() | {"data": opened}
    assert "bruising" not in str(whole) and "justification" not in str(whole)


async def test_a_read_through_an_override_is_logged_with_the_practitioner_and_the_override(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    alice = _social_worker(stack, "pw-alice")
    family_id, assessment_id = await stack.family_with_assessment(health)
    override = await _open(stack, alice, family_id, hours=1)
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=alice.headers)
    assert read.status_code == 200, read.text

    council = stack.organisation("org-council", "council", scopes="audit:read")
    logged: list[dict[str, Any]] = []

    async def read_logged() -> bool:
        nonlocal logged
        response = await stack.consent.get("/audit", params={"family_id": family_id}, headers=council.headers)
        logged = [e for e in response.json() if e["resource_type"] == "assessment" and e["action"] == "read"]
        return bool(logged)

    await eventually(read_logged)
    assert [(e["actor"], e["organisation_id"], e["basis"], e["basis_reference"], e["resource_id"]) for e in logged] == [
        ("pw-alice", "org-social", "override", override["id"], assessment_id)
    ]


async def test_closing_an_override_early_stops_the_practitioners_access(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    alice = _social_worker(stack, "pw-alice")
    family_id, assessment_id = await stack.family_with_assessment(health)
    override = await _open(stack, alice, family_id, hours=1)
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=alice.headers)
    assert read.status_code == 200, read.text

    closed = await stack.consent.post(f"/safeguarding-overrides/{override['id']}/close", headers=alice.headers)
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_at"] is not None
    assert datetime.fromisoformat(closed.json()["closed_at"]) < datetime.fromisoformat(override["expires_at"])

    async def refused() -> bool:
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=alice.headers)
        if read.status_code == 200:
            return False
        assert_problem(read, 403, "access-refused")
        return True

    await eventually(refused, within=1.0)  # like a withdrawal, within a second in every service
    decided = await stack.consent.post(
        "/access-decisions", json={"family_id": family_id, "category": "assessment"}, headers=alice.headers
    )
    assert (decided.json()["decision"], decided.json()["basis"]) == ("deny", None)
    again = await stack.consent.post(f"/safeguarding-overrides/{override['id']}/close", headers=alice.headers)
    assert_problem(again, 409, "conflict")

    async def end_announced() -> bool:
        return bool(await published(stack, "override.expired"))

    await eventually(end_announced)
    (ended,) = await published(stack, "override.expired")
    assert (ended["override_id"], ended["family_id"], ended["organisation_id"]) == (
        override["id"],
        family_id,
        "org-social",
    )
    assert datetime.fromisoformat(ended["ended_at"]) == datetime.fromisoformat(closed.json()["closed_at"])


async def test_an_override_expires_its_hours_after_it_opened(stack: ConsentStack) -> None:
    alice = _social_worker(stack, "pw-alice")
    family_id, _ = await stack.family_with_assessment(stack.organisation("org-health", "health"))
    opened = []
    for terms, hours in (({"hours": 1}, 1), ({"hours": 72}, 72), ({}, 24)):
        override = await _open(stack, alice, family_id, **terms)
        opened_at, expires_at = (datetime.fromisoformat(override[key]) for key in ("opened_at", "expires_at"))
        assert expires_at - opened_at == timedelta(hours=hours), (terms, override)
        opened.append((override["id"], override["expires_at"]))
    listed = await stack.consent.get("/safeguarding-overrides", params={"family_id": family_id}, headers=alice.headers)
    assert [(o["id"], o["expires_at"]) for o in listed.json()] == opened

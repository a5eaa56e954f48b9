"""Families and their members: registered once, found by identifier, seen only by those who may."""

import asyncio
import json
from typing import Any

import pytest

from tests.support.assessment import RunningAssessments, post_assessment
from tests.support.problems import assert_problem
from tests.support.samples import family_body, sample
from tests.support.streams import data_of, stream_messages
from tests.support.waiting import eventually

# A young carer's record in full, each value one that nothing else in a test would write.
DEMOGRAPHICS: dict[str, Any] = {
    "sex": "indeterminate",
    "ethnicity": "white_roma",
    "first_language": "Tigrinya",
    "send_status": "ehc_plan",
    "young_carer": True,
    "postcode": " ls6  2ab",
}


async def test_registered_family_is_read_back_with_members_and_normalised_identifiers(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    body = family_body("943 476 5919")
    body["members"][0]["identifiers"].append({"system": "upn", "value": "b801200005001"})
    created = await assessments.client.post("/families", json=body, headers=health.headers)
    assert created.status_code == 201, created.text
    family_id = created.json()["id"]
    assert created.headers["location"] == f"/families/{family_id}"

    read = await assessments.client.get(f"/families/{family_id}", headers=health.headers)
    assert read.status_code == 200
    family = read.json()
    assert family["created_by_organisation"] == "org-health"
    child, mother = family["members"]
    assert (child["given_name"], child["date_of_birth"], child["role"]) == ("Amara", "2017-05-14", "child")
    assert {(i["system"], i["value"]) for i in child["identifiers"]} == {
        ("nhs", "9434765919"),
        ("upn", "B801200005001"),
    }
    assert (mother["relationship"], mother["identifiers"]) == ("mother", [])


async def test_invalid_nhs_number_is_refused_naming_the_field(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    response = await assessments.client.post("/families", json=family_body("9434765918"), headers=health.headers)
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"] == [
        {
            "pointer": "/members/0/identifiers/0/value",
            "detail": "Enter a valid NHS number: 10 digits, like 943 476 5919.",
        }
    ]
    assert "9434765918" not in response.text


async def test_known_nhs_number_answers_409_naming_no_family(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    school = assessments.organisation("org-school", "school")
    family_id = await assessments.register_family(health)

    again = await assessments.client.post("/families", json=family_body(), headers=school.headers)
    body = assert_problem(again, 409, "family-exists")
    assert "location" not in again.headers
    assert "family_id" not in body and family_id not in again.text and health.id not in again.text
    # Deciding by authorship alone, nobody is there to ask: the problem names no request either.
    assert body.get("access_request_id") is None
    found = await assessments.client.get("/families", params={"identifier": "nhs:9434765919"}, headers=health.headers)
    assert [family["id"] for family in found.json()] == [family_id]


async def test_concurrent_registrations_of_one_child_make_one_family(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    responses = await asyncio.gather(
        *(assessments.client.post("/families", json=family_body(), headers=health.headers) for _ in range(6))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    created = next(r for r in responses if r.status_code == 201)
    assert created.headers["location"] == f"/families/{created.json()['id']}"
    refused = [r.json() for r in responses if r.status_code == 409]
    assert all(created.json()["id"] not in str(problem) for problem in refused)


async def test_other_organisation_neither_reads_nor_finds_the_family(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    police = assessments.organisation("org-police", "police")
    family_id = await assessments.register_family(health)

    refused = await assessments.client.get(f"/families/{family_id}", headers=police.headers)
    body = assert_problem(refused, 403, "access-refused")
    assert "has not agreed to share" in str(body["detail"])
    assert "Amara" not in refused.text and "Okafor" not in refused.text
    found = await assessments.client.get("/families", params={"identifier": "nhs:9434765919"}, headers=police.headers)
    assert found.status_code == 200
    assert found.json() == []


async def test_local_ids_belong_to_the_organisation_that_issued_them(assessments: RunningAssessments) -> None:
    school = assessments.organisation("org-school", "school")
    other_school = assessments.organisation("org-school-2", "school")
    for org in (school, other_school):
        body = family_body("9434765870" if org is school else "4010232137")
        body["members"][0]["identifiers"] = [{"system": "local", "value": "PUPIL-0042"}]
        response = await assessments.client.post("/families", json=body, headers=org.headers)
        assert response.status_code == 201, response.text
    found = await assessments.client.get("/families", params={"identifier": "local:PUPIL-0042"}, headers=school.headers)
    (family,) = found.json()
    assert family["created_by_organisation"] == "org-school"
    assert family["members"][0]["identifiers"] == [{"system": "local", "value": "PUPIL-0042", "issuer": "org-school"}]


async def test_search_with_an_unknown_system_or_invalid_number_is_a_422(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    unknown = await assessments.client.get("/families", params={"identifier": "passport:123"}, headers=health.headers)
    assert assert_problem(unknown, 422, "validation-failed")["errors"] == [
        {"parameter": "identifier", "in": "query", "detail": "Unknown identifier system."}
    ]
    invalid = await assessments.client.get("/families", params={"identifier": "nhs:12"}, headers=health.headers)
    assert_problem(invalid, 422, "validation-failed")


async def test_retried_registration_with_the_same_key_returns_the_first_answer(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    headers = {**health.headers, "Idempotency-Key": "family-retry-1"}
    first = await assessments.client.post("/families", json=family_body(), headers=headers)
    second = await assessments.client.post("/families", json=family_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"

    other_body = await assessments.client.post("/families", json=family_body("9434765870"), headers=headers)
    assert_problem(other_body, 422, "idempotency-key-reused")


async def test_registering_needs_the_write_scope(assessments: RunningAssessments) -> None:
    reader = assessments.organisation("org-health", scopes="assessments:read")
    response = await assessments.client.post("/families", json=family_body(), headers=reader.headers)
    assert assert_problem(response, 403, "insufficient-scope")["missing_scope"] == "assessments:write"


def _with_demographics(**changes: Any) -> dict[str, Any]:
    body = family_body()
    body["members"][0] |= DEMOGRAPHICS | changes
    return body


async def test_members_sex_ethnicity_language_send_young_carer_and_postcode_are_kept_and_read_back(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    created = await assessments.client.post("/families", json=_with_demographics(), headers=health.headers)
    assert created.status_code == 201, created.text
    read = await assessments.client.get(f"/families/{created.json()['id']}", headers=health.headers)
    child, mother = read.json()["members"]
    assert {name: child[name] for name in DEMOGRAPHICS} == DEMOGRAPHICS | {"postcode": "LS6 2AB"}
    # All optional: a member without them has none.
    assert {name: mother[name] for name in DEMOGRAPHICS} == dict.fromkeys(DEMOGRAPHICS)


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("postcode", "LS6 2A", "Enter a real UK postcode, like SW1A 1AA."),
        ("postcode", "ZZ99 9ZZZ", "Enter a real UK postcode, like SW1A 1AA."),
        ("ethnicity", "white_english", "Input should be"),
        ("sex", "F", "Input should be"),
        ("send_status", "statement", "Input should be"),
        ("first_language", "3", "String should match pattern"),
        ("young_carer", "sometimes", "Input should be a valid boolean"),
    ],
)
async def test_a_member_detail_outside_its_list_or_format_is_refused_at_its_pointer(
    assessments: RunningAssessments, field: str, value: str, detail: str
) -> None:
    health = assessments.organisation("org-health")
    body = _with_demographics(**{field: value})
    response = await assessments.client.post("/families", json=body, headers=health.headers)
    assert_problem(response, 422, "validation-failed")
    (error,) = response.json()["errors"]
    assert error["pointer"] == f"/members/0/{field}"
    assert detail in error["detail"]
    if field == "postcode":
        assert value not in response.text


def test_the_ethnic_categories_are_the_ons_2021_nineteen_in_five_groups() -> None:
    from services.assessment.demographics import ETHNIC_CATEGORIES, Ethnicity

    assert set(ETHNIC_CATEGORIES) == set(Ethnicity) and len(Ethnicity) == 19
    groups: dict[str, int] = {}
    for group, _label in ETHNIC_CATEGORIES.values():
        groups[group] = groups.get(group, 0) + 1
    assert list(groups.values()) == [5, 3, 4, 5, 2]


async def test_member_details_are_never_in_events_or_logs(
    capsys: pytest.CaptureFixture[str],  # first, so that the service logs into it from its start
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    created = await assessments.client.post("/families", json=_with_demographics(), headers=health.headers)
    assert created.status_code == 201, created.text
    family_id = created.json()["id"]
    await assessments.client.get(f"/families/{family_id}", headers=health.headers)
    await post_assessment(assessments, health, family_id, sample("early-help-assessment", 2), "submitted",
                          {"key": "early-help-assessment", "version": 2})  # fmt: skip

    async def announced() -> bool:
        types = {message.event.get_type() for message in await stream_messages(assessments.nats.url)}
        return {"assessment.submitted", "audit.recorded"} <= types

    await eventually(announced)
    payloads = [json.dumps(data_of(m.event)) for m in await stream_messages(assessments.nats.url)]
    logged = capsys.readouterr().err
    assert '"path": "/families"' in logged  # the requests were logged
    for text in [*payloads, logged]:
        for personal in ("white_roma", "Tigrinya", "ehc_plan", "LS6 2AB", "ls6", "indeterminate", "young_carer"):
            assert personal not in text

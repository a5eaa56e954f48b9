"""Families and their members: registered once, found by identifier, seen only by those who may."""

import asyncio

from tests.assessment.conftest import RunningAssessments, family_body
from tests.services.test_every_service import assert_problem


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


async def test_known_nhs_number_answers_409_with_the_existing_family(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    school = assessments.organisation("org-school", "school")
    family_id = await assessments.register_family(health)

    again = await assessments.client.post("/families", json=family_body(), headers=school.headers)
    body = assert_problem(again, 409, "family-exists")
    assert again.headers["location"] == f"/families/{family_id}"
    assert body["family_id"] == family_id
    found = await assessments.client.get("/families", params={"identifier": "nhs:9434765919"}, headers=health.headers)
    assert [family["id"] for family in found.json()] == [family_id]


async def test_concurrent_registrations_of_one_child_make_one_family(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    responses = await asyncio.gather(
        *(assessments.client.post("/families", json=family_body(), headers=health.headers) for _ in range(6))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    created = next(r for r in responses if r.status_code == 201).json()["id"]
    assert {r.headers["location"] for r in responses} == {f"/families/{created}"}


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

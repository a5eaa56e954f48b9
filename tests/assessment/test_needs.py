"""A platform service, acting as itself, reads the needs a submitted assessment found: audited like any read."""

import httpx

from tests.support.assessment import RunningAssessments, post_assessment
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.samples import sample
from tests.support.streams import data_of, events_of


def services_client(assessments: RunningAssessments) -> Organisation:
    return assessments.organisation("org-services", "council", scopes="service")


async def read_needs(assessments: RunningAssessments, assessment_id: str, org: Organisation) -> httpx.Response:
    return await assessments.client.get(f"/internal/assessments/{assessment_id}/needs", headers=org.headers)


async def test_a_service_reads_the_needs_as_submitted_and_the_read_is_audited(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 2)
    submitted = await post_assessment(
        assessments, health, family_id, answers, "submitted", {"key": "early-help-assessment", "version": 2}
    )

    response = await read_needs(assessments, submitted["id"], services_client(assessments))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "assessment_id": submitted["id"],
        "family_id": family_id,
        "organisation_id": "org-health",
        "form": {"key": "early-help-assessment", "version": 2},
        "submitted_at": submitted["submitted_at"],
        "started_on": answers["about_the_assessment"]["date_started"],
        "children": 1,
        "needs": [{"description": n["description"], "outcome_area": n["outcome_area"]} for n in answers["needs"]],
        "level_of_need": "3",
        "next_step": "team_around_the_family",
    }

    shipped = 3
    # family: its audit entry; assessment: created, submitted, audit entry; the read of its needs: its audit entry
    events = await events_of(assessments, shipped + 1 + 3 + 1)
    (read,) = [
        data_of(event)
        for event in events
        if event.get_type() == "audit.recorded" and data_of(event)["action"] == "read_needs"
    ]
    assert read["resource_id"] == submitted["id"] and read["family_id"] == family_id
    assert (read["actor"], read["basis"], read["basis_reference"]) == (
        "client-org-services",
        "service",
        "client-org-services",
    )


async def test_a_form_without_needs_gives_none(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    request = await post_assessment(
        assessments,
        health,
        family_id,
        sample("request-for-support", 1),
        "submitted",
        {"key": "request-for-support", "version": 1},
    )
    response = await read_needs(assessments, request["id"], services_client(assessments))
    assert response.status_code == 200, response.text
    assert (response.json()["needs"], response.json()["level_of_need"], response.json()["next_step"]) == (
        [],
        None,
        None,
    )


async def test_a_draft_has_no_needs_yet_and_an_unknown_id_is_not_found(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    draft = await post_assessment(assessments, health, family_id, sample("early-help-assessment", 1))
    service = services_client(assessments)
    assert_problem(await read_needs(assessments, draft["id"], service), 409, "assessment-draft")
    assert_problem(await read_needs(assessments, "no-such-assessment", service), 404, "assessment-not-found")


async def test_only_the_service_scope_reads_needs_not_even_the_author(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    submitted = await post_assessment(
        assessments, health, family_id, sample("early-help-assessment", 1), status="submitted"
    )
    refused = await read_needs(assessments, submitted["id"], health)
    assert assert_problem(refused, 403, "insufficient-scope")["missing_scope"] == "service"

"""Sharing grants open a family's assessment to the organisations they name, until withdrawn."""

from tests.support.consent import ConsentStack
from tests.support.problems import assert_problem
from tests.support.waiting import eventually


async def test_granted_school_reads_the_health_visitors_assessment_until_the_family_withdraws(
    stack: ConsentStack,
) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    assert_problem(
        await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers), 403, "access-refused"
    )

    grant = await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=["org-school"])
    assert grant["status"] == "active"
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
    assert read.status_code == 200, read.text

    withdrawn = await stack.consent.post(f"/consents/{grant['id']}/withdraw", json={}, headers=health.headers)
    assert withdrawn.json()["status"] == "withdrawn"

    async def refused() -> bool:
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
        if read.status_code == 200:
            return False
        assert_problem(read, 403, "access-refused")
        return True

    await eventually(refused, within=1.0)  # withdrawal reaches every service within a second


async def test_only_a_platform_service_asks_about_another_practitioner_organisation_or_type(
    stack: ConsentStack,
) -> None:
    reader = stack.organisation("org-school", "school", scopes="assessments:read")
    council = stack.organisation("org-council", "council", scopes="consent:read consent:write")
    question = {"family_id": "any-family", "category": "assessment"}
    own = await stack.consent.post("/access-decisions", json=question, headers=reader.headers)
    assert own.json()["decision"] == "deny"
    for asker in (reader, council):
        for other in ({"practitioner": "someone-else"}, {"organisation_type": "health"}, {"organisation_id": "org-x"}):
            response = await stack.consent.post("/access-decisions", json={**question, **other}, headers=asker.headers)
            assert_problem(response, 403, "forbidden")
    service = stack.mint.headers("service")
    on_behalf = await stack.consent.post(
        "/access-decisions",
        json={**question, "organisation_id": "org-x", "organisation_type": "school"},
        headers=service,
    )
    assert on_behalf.status_code == 200 and on_behalf.json()["decision"] == "deny", on_behalf.text


async def test_the_question_cannot_name_authors_or_a_team(stack: ConsentStack) -> None:
    school = stack.organisation("org-school", "school")
    for claimed in ({"authors": ["org-school"]}, {"team": ["org-school"]}):
        question = {"family_id": "any-family", "category": "assessment", **claimed}
        response = await stack.consent.post("/access-decisions", json=question, headers=school.headers)
        assert_problem(response, 422, "validation-failed")

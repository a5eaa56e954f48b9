"""Sharing grants open a family's assessment to the organisations they name, until withdrawn."""

from tests.consent.conftest import Stack
from tests.kit.conftest import eventually
from tests.services.test_every_service import assert_problem


async def test_granted_school_reads_the_health_visitors_assessment_until_the_family_withdraws(stack: Stack) -> None:
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


async def test_asking_about_another_practitioner_or_type_needs_the_consent_read_scope(stack: Stack) -> None:
    reader = stack.organisation("org-school", "school", scopes="assessments:read")
    question = {"family_id": "any-family", "category": "assessment"}
    own = await stack.consent.post("/access-decisions", json=question, headers=reader.headers)
    assert own.json()["decision"] == "deny"
    for other in ({"practitioner": "someone-else"}, {"organisation_type": "health"}, {"organisation_id": "org-x"}):
        response = await stack.consent.post("/access-decisions", json={**question, **other}, headers=reader.headers)
        assert_problem(response, 403, "forbidden")

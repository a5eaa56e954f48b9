"""Carry-forward between organisations: the family's story travels, the first practitioner's sign-off does not."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from tests.support.assessment import RunningAssessments, post_assessment
from tests.support.consent import ConsentStack
from tests.support.samples import family_body, sample
from tests.support.stack import MigratedDatabase, started

# What the early help assessment marks as the assessor's own (`belongs_to: assessor`) in versions 1 and 2.
SIGN_OFF = {
    "/about_the_assessment/reason",
    "/about_the_assessment/date_started",
    "/about_the_assessment/consent_to_share",
    "/about_the_assessment/consent_date",
    "/completion/date_completed",
    "/completion/practitioner_name",
    "/completion/practitioner_role",
}


@pytest.fixture
async def shared(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[ConsentStack]:
    """The assessment service with the consent service, so that one organisation can share with another."""
    async with started(
        "consent", "assessment", nats=nats_server, database=migrated_database, data_dir=tmp_path, mint=token_mint
    ) as running_stack:
        yield ConsentStack.of(running_stack)


async def _school_assessment_shared_with_health(shared: ConsentStack, version: int) -> tuple[str, dict[str, object]]:
    school = shared.organisation("org-school", "school")
    health = shared.organisation("org-health", "health")
    family = await shared.assessment.post("/families", json=family_body(), headers=school.headers)
    assert family.status_code == 201, family.text
    family_id = family.json()["id"]
    answers = sample("early-help-assessment", version)
    body = {
        "family_id": family_id,
        "form": {"key": "early-help-assessment", "version": version},
        "answers": answers,
        "status": "submitted",
    }
    created = await shared.assessment.post("/assessments", json=body, headers=school.headers)
    assert created.status_code == 201, created.text
    await shared.grant(school, family_id, categories=["assessment"], recipient_organisations=[health.id])
    return created.json()["id"], answers


@pytest.mark.parametrize("version", [1, 2])
async def test_health_draft_from_the_school_assessment_carries_no_sign_off(shared: ConsentStack, version: int) -> None:
    health = shared.organisation("org-health", "health")
    source_id, answers = await _school_assessment_shared_with_health(shared, version)
    for value in ("reason", "date_started"):
        assert answers["about_the_assessment"][value]  # type: ignore[index]
    assert answers["completion"]["practitioner_name"]  # type: ignore[index]

    carried = await shared.assessment.post(
        f"/assessments/{source_id}/carry-forward", json={"form_version": version}, headers=health.headers
    )
    assert carried.status_code == 201, carried.text
    draft = carried.json()
    assert (draft["organisation_id"], draft["carried_from"]) == ("org-health", source_id)
    assert "completion" not in draft["answers"]
    assert set(draft["answers"]["about_the_assessment"]) <= {"other_agencies"}
    assert not SIGN_OFF & set(draft["carried_forward"])
    # The family's story is there: its members, the child's development, what the family said.
    assert draft["answers"]["family_members"] == answers["family_members"]
    assert draft["answers"]["child_development"]["health"] == answers["child_development"]["health"]  # type: ignore[index]
    assert draft["answers"]["parents_views"] == answers["parents_views"]
    assert "/family_members/0/name" in draft["carried_forward"]


async def test_the_form_says_which_questions_are_the_assessors(shared: ConsentStack) -> None:
    reader = shared.organisation("org-health", "health")
    version = await shared.assessment.get("/forms/early-help-assessment/versions/2", headers=reader.headers)
    marked = {
        question["pointer"]
        for page in version.json()["layout"]["pages"]
        for section in page["sections"]
        for question in section["questions"]
        if question.get("belongs_to") == "assessor"
    }
    assert marked == SIGN_OFF


def _question_patterns(version: dict[str, Any]) -> set[str]:
    """Every question a version asks, a repeating group's as `/group/*/question`; the groups themselves not counted."""
    patterns = set()
    for page in version["layout"]["pages"]:
        for section in page["sections"]:
            for question in section["questions"]:
                if question["widget"] == "repeating-group":
                    patterns |= {f"{question['pointer']}/*{item['pointer']}" for item in question["questions"]}
                else:
                    patterns.add(question["pointer"])
    return patterns


def _pattern(pointer: str) -> str:
    return "/".join("*" if token.isdigit() else token for token in pointer.split("/"))


@pytest.mark.parametrize(("version", "expected"), [(1, (35, 58)), (2, (39, 58))])
async def test_the_whole_family_assessment_is_prefilled_from_a_v1_or_v2_assessment(
    assessments: RunningAssessments, version: int, expected: tuple[int, int]
) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    old = sample("early-help-assessment", version)
    form = {"key": "early-help-assessment", "version": version}
    source = await post_assessment(assessments, health, family_id, old, "submitted", form)
    carried = await assessments.client.post(
        f"/assessments/{source['id']}/carry-forward", json={"form_version": 3}, headers=health.headers
    )
    assert carried.status_code == 201, carried.text
    draft = carried.json()
    assert draft["form"]["version"] == 3
    v3 = (await assessments.client.get("/forms/early-help-assessment/versions/3", headers=health.headers)).json()
    asked = _question_patterns(v3)
    prefilled = {_pattern(pointer) for pointer in draft["carried_forward"]} & asked
    print(
        f"early help assessment v3: {len(prefilled)} of its {len(asked)} questions "
        f"({len(prefilled) / len(asked):.0%}) pre-filled from a v{version} assessment"
    )
    assert (len(prefilled), len(asked)) == expected

    # The one child's developmental needs become the first child's; what the parents said, the family's view.
    answers = draft["answers"]
    (child,) = answers["children"]
    presentation = "social_presentation" if version == 1 else "presentation"
    assert child["presentation"] == old["child_development"][presentation]
    assert child["voice"] == old["voice_of_the_child"]
    assert answers["family_view"] == {"views": old["parents_views"]}
    assert answers["family_members"] == old["family_members"]
    assert answers["needs"] == old["needs"]
    assert not SIGN_OFF & set(draft["carried_forward"])
    # What is new is left for the practitioner, and the submission says so.
    submit = await assessments.client.post(f"/assessments/{draft['id']}/submit", headers=health.headers)
    missing = {error["pointer"] for error in submit.json()["errors"]}
    assert submit.status_code == 422
    assert {"/answers/children/0/name", "/answers/adults", "/answers/safeguarding/concern"} <= missing
    assert "/answers/children/0/health" not in missing

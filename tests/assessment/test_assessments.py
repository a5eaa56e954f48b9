"""Assessments: drafts and submissions, revisions, concurrency, idempotency, carry-forward, consent, events."""

import asyncio
import copy
import json

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from services.kit.events.envelope import BaseCloudEvent
from tests.support.assessment import EHA, RunningAssessments, post_assessment
from tests.support.problems import assert_problem
from tests.support.samples import family_body, sample
from tests.support.streams import data_of, events_of, published
from tests.support.waiting import eventually


async def test_submitted_assessment_is_stored_with_its_form_stamp_and_announced_thinly(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 1)
    created = await post_assessment(assessments, health, family_id, answers, status="submitted")
    forms = (await assessments.client.get("/forms", headers=health.headers)).json()
    eha = next(form for form in forms if form["key"] == "early-help-assessment")
    sha256 = next(v["sha256"] for v in eha["versions"] if v["version"] == 1)
    assert created["form"] == {**EHA, "sha256": sha256}
    assert (created["status"], created["revision"], created["answers"]) == ("submitted", 1, answers)

    read = await assessments.client.get(f"/assessments/{created['id']}", headers=health.headers)
    assert read.json() == created
    assert read.headers["etag"] == '"1"'

    # Wait for the last of them, the read's audit entry, rather than for a count: the stream also holds each
    # shipped form version's publication, and the relays publish each service's events in their own time.
    async def read_audited() -> bool:
        audits = await published(assessments, "audit.recorded")
        return any(data["action"] == "read" and data["resource_id"] == created["id"] for data in audits)

    await eventually(read_audited)
    events = await events_of(assessments, 1)
    by_type: dict[str, list[BaseCloudEvent]] = {}
    for event in events:
        by_type.setdefault(event.get_type(), []).append(event)
    (submitted,) = by_type["assessment.submitted"]
    assert submitted.get_data() == {
        "assessment_id": created["id"],
        "family_id": family_id,
        "organisation_id": "org-health",
        "organisation_type": "health",
        "form_key": "early-help-assessment",
        "form_version": 1,
        "revision": 1,
    }
    assert submitted.get_attributes()["familyid"] == family_id
    everything = str([event.get_data() for event in events])
    for personal in ("Amara", "Okafor", "2017-05-14", answers["child_development"]["health"][:30]):
        assert personal not in everything
    reads = [data for data in map(data_of, by_type["audit.recorded"]) if data["action"] == "read"]
    assert reads[-1]["resource_id"] == created["id"]
    assert (reads[-1]["basis"], reads[-1]["basis_reference"]) == ("authorship", "org-health")


async def test_incomplete_submission_lists_every_missing_answer_in_words_a_person_can_act_on(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 1)
    del answers["child_development"]["health"]
    del answers["level_of_need"]
    answers["needs"][0]["outcome_area"] = "astrology"
    answers["completion"]["date_completed"] = "2026-02-30"
    response = await assessments.client.post(
        "/assessments",
        json={"family_id": family_id, "form": EHA, "answers": answers, "status": "submitted"},
        headers=health.headers,
    )
    body = assert_problem(response, 422, "invalid-answers")
    errors = {error["pointer"]: error["detail"] for error in body["errors"]}  # type: ignore[attr-defined]
    assert errors == {
        "/answers/child_development/health": "Enter an answer for 'Health'.",
        "/answers/level_of_need": "Select an answer for 'Level of need'.",
        "/answers/needs/0/outcome_area": "Select one of the options for 'Outcome area'.",
        "/answers/completion/date_completed": (
            "'Date the assessment was completed' must be a real date, like 2026-03-27."
        ),
    }, errors
    assert "astrology" not in response.text and "2026-02-30" not in response.text


async def test_draft_may_be_incomplete_but_not_wrongly_typed(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    draft = await post_assessment(assessments, health, family_id, {"child_development": {"health": "Asthma."}})
    assert draft["status"] == "draft"
    wrong = await assessments.client.post(
        "/assessments",
        json={"family_id": family_id, "form": EHA, "answers": {"child_development": {"health": 7}, "colour": "red"}},
        headers=health.headers,
    )
    errors = assert_problem(wrong, 422, "invalid-answers")["errors"]
    assert errors == [
        {"pointer": "/answers/colour", "detail": "This is not a question on this form."},
        {"pointer": "/answers/child_development/health", "detail": "'Health' has the wrong kind of answer."},
    ] or errors == [
        {"pointer": "/answers/child_development/health", "detail": "'Health' has the wrong kind of answer."},
        {"pointer": "/answers/colour", "detail": "This is not a question on this form."},
    ]


async def test_unknown_form_version_and_unknown_family_are_named(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    unknown_form = await assessments.client.post(
        "/assessments",
        json={"family_id": family_id, "form": {"key": "early-help-assessment", "version": 99}, "answers": {}},
        headers=health.headers,
    )
    assert assert_problem(unknown_form, 422, "unknown-form-version")["errors"] == [
        {"pointer": "/form/version", "detail": "No such form version."}
    ]
    unknown_family = await assessments.client.post(
        "/assessments", json={"family_id": "no-such-family", "form": EHA, "answers": {}}, headers=health.headers
    )
    assert assert_problem(unknown_family, 422, "unknown-family")["errors"] == [
        {"pointer": "/family_id", "detail": "No family has this id."}
    ]


async def test_draft_changes_need_the_current_etag_and_each_is_kept_as_a_revision(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    draft = await post_assessment(assessments, health, family_id, {"child_development": {"health": "Asthma."}})
    url = f"/assessments/{draft['id']}"
    new_answers = {"child_development": {"health": "Asthma, well managed.", "education": "Attendance 82%."}}

    missing = await assessments.client.put(url, json={"answers": new_answers}, headers=health.headers)
    assert_problem(missing, 428, "precondition-required")
    changed = await assessments.client.put(
        url, json={"answers": new_answers}, headers={**health.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["answers"] == new_answers
    stale = await assessments.client.put(url, json={"answers": {}}, headers={**health.headers, "If-Match": '"1"'})
    assert assert_problem(stale, 412, "precondition-failed")["current_etag"] == '"2"'

    revisions = (await assessments.client.get(f"{url}/revisions", headers=health.headers)).json()
    assert [(r["number"], r["changed"], r["organisation_id"]) for r in revisions] == [
        (1, ["/child_development/health"], "org-health"),
        (2, ["/child_development/health", "/child_development/education"], "org-health"),
    ]


async def test_two_editors_with_the_same_etag_cannot_both_win(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    draft = await post_assessment(assessments, health, family_id, {})
    url = f"/assessments/{draft['id']}"
    headers = {**health.headers, "If-Match": '"1"'}
    results = await asyncio.gather(
        assessments.client.put(url, json={"answers": {"strengths": "Loving home."}}, headers=headers),
        assessments.client.put(url, json={"answers": {"strengths": "Supportive grandmother."}}, headers=headers),
    )
    assert sorted(r.status_code for r in results) == [200, 412]


async def test_submitted_assessment_changes_only_by_correction_with_a_reason(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 1)
    draft = await post_assessment(assessments, health, family_id, answers)
    url = f"/assessments/{draft['id']}"
    submitted = await assessments.client.post(f"{url}/submit", headers={**health.headers, "If-Match": '"1"'})
    assert submitted.status_code == 200, submitted.text
    assert (submitted.json()["status"], submitted.headers["etag"]) == ("submitted", '"2"')

    put = await assessments.client.put(url, json={"answers": answers}, headers={**health.headers, "If-Match": '"2"'})
    assert_problem(put, 409, "assessment-submitted")
    again = await assessments.client.post(f"{url}/submit", headers=health.headers)
    assert_problem(again, 409, "assessment-submitted")

    corrected_answers = copy.deepcopy(answers)
    corrected_answers["level_of_need"] = "3"
    no_reason = await assessments.client.post(
        f"{url}/corrections", json={"answers": corrected_answers}, headers={**health.headers, "If-Match": '"2"'}
    )
    assert_problem(no_reason, 422, "validation-failed")
    corrected = await assessments.client.post(
        f"{url}/corrections",
        json={"answers": corrected_answers, "reason": "Level agreed at the team meeting."},
        headers={**health.headers, "If-Match": '"2"'},
    )
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["revision"], corrected.json()["answers"]["level_of_need"]) == (3, "3")
    revisions = (await assessments.client.get(f"{url}/revisions", headers=health.headers)).json()
    assert [(r["status"], r["changed"], r["reason"]) for r in revisions] == [
        ("draft", revisions[0]["changed"], None),
        ("submitted", [], None),
        ("submitted", ["/level_of_need"], "Level agreed at the team meeting."),
    ]


async def test_another_organisation_can_neither_read_nor_change_nor_list_nor_add_to_it(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    school = assessments.organisation("org-school", "school")
    family_id = await assessments.register_family(health)
    mine = await post_assessment(assessments, health, family_id, sample("early-help-assessment", 1), "submitted")
    # Writing about a family needs a basis for it, as reading does.
    body = {"family_id": family_id, "form": EHA, "answers": {"strengths": "Good friendships."}, "status": "draft"}
    assert_problem(
        await assessments.client.post("/assessments", json=body, headers=school.headers), 403, "access-refused"
    )

    refused = await assessments.client.get(f"/assessments/{mine['id']}", headers=school.headers)
    assert_problem(refused, 403, "access-refused")
    assert "Amara" not in refused.text
    put = await assessments.client.put(
        f"/assessments/{mine['id']}", json={"answers": {}}, headers={**school.headers, "If-Match": '"1"'}
    )
    assert_problem(put, 403, "access-refused")
    listed = await assessments.client.get(f"/families/{family_id}/assessments", headers=school.headers)
    assert (listed.status_code, listed.json()) == (200, [])  # neither shown nor counted
    for path in ("revisions", "fhir"):
        assert_problem(
            await assessments.client.get(f"/assessments/{mine['id']}/{path}", headers=school.headers),
            403,
            "access-refused",
        )


async def test_retried_post_with_the_same_key_makes_one_assessment(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    body = {"family_id": family_id, "form": EHA, "answers": sample("early-help-assessment", 1), "status": "submitted"}
    headers = {**health.headers, "Idempotency-Key": "eha-2026-001"}
    responses = [await assessments.client.post("/assessments", json=body, headers=headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert responses[2].headers["location"] == responses[0].headers["location"]
    listed = await assessments.client.get(f"/families/{family_id}/assessments", headers=health.headers)
    assert len(listed.json()) == 1

    changed = await assessments.client.post("/assessments", json={**body, "status": "draft"}, headers=headers)
    assert_problem(changed, 422, "idempotency-key-reused")
    other_client = assessments.mint.headers(
        "assessments:read assessments:write", organisation_id="org-health", claims={"sub": "another-client"}
    )
    own_key = await assessments.client.post(
        "/assessments", json=body, headers={**other_client, "Idempotency-Key": "eha-2026-001"}
    )
    assert own_key.status_code == 201
    assert own_key.json()["id"] != responses[0].json()["id"]


async def test_carry_forward_to_a_newer_version_renames_and_keeps_every_answer_that_applies(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    v1 = sample("early-help-assessment", 1)
    source = await post_assessment(assessments, health, family_id, v1, "submitted")
    carried = await assessments.client.post(
        f"/assessments/{source['id']}/carry-forward", json={"form_version": 2}, headers=health.headers
    )
    assert carried.status_code == 201, carried.text
    draft = carried.json()
    assert (draft["status"], draft["form"]["version"], draft["carried_from"]) == ("draft", 2, source["id"])
    answers = draft["answers"]
    assert answers["child_development"]["presentation"] == v1["child_development"]["social_presentation"]
    assert "social_presentation" not in answers["child_development"]
    assert answers["parenting_capacity"]["safety"] == v1["parenting_capacity"]["ensuring_safety"]
    assert answers["needs"] == v1["needs"]
    assert answers["family_members"] == v1["family_members"]
    assert "/child_development/presentation" in draft["carried_forward"]
    assert "/needs/0/outcome_area" in draft["carried_forward"]
    if v1["next_step"] == "early_help_plan":
        assert answers["next_step"] == "single_agency_plan"
    # What v2 newly asks, and the practitioner's own sign-off, are left for them: the submission names exactly those.
    submit = await assessments.client.post(f"/assessments/{draft['id']}/submit", headers=health.headers)
    missing = {error["pointer"] for error in assert_problem(submit, 422, "invalid-answers")["errors"]}  # type: ignore[attr-defined]
    assert missing == {
        "/answers/child_development/online_safety",
        "/answers/family_environment/neighbourhood",
        "/answers/voice_of_the_child_how_gathered",
        "/answers/about_the_assessment/reason",
        "/answers/about_the_assessment/date_started",
        "/answers/about_the_assessment/consent_to_share",
        "/answers/completion/date_completed",
        "/answers/completion/practitioner_name",
        "/answers/completion/practitioner_role",
    }


async def test_carry_forward_for_another_organisation_needs_a_sharing_basis(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    school = assessments.organisation("org-school", "school")
    family_id = await assessments.register_family(health)
    source = await post_assessment(assessments, health, family_id, sample("early-help-assessment", 1), "submitted")
    refused = await assessments.client.post(
        f"/assessments/{source['id']}/carry-forward", json={}, headers=school.headers
    )
    assert_problem(refused, 403, "access-refused")


async def test_carry_forward_backwards_is_refused(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    v2 = await post_assessment(assessments, health, family_id, {}, form={"key": "early-help-assessment", "version": 2})
    response = await assessments.client.post(
        f"/assessments/{v2['id']}/carry-forward", json={"form_version": 1}, headers=health.headers
    )
    assert assert_problem(response, 422, "validation-failed")["errors"] == [
        {"pointer": "/form_version", "detail": "Use version 2 or newer."}
    ]


async def test_answers_are_offered_as_a_fhir_questionnaire_response(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 1)
    created = await post_assessment(assessments, health, family_id, answers, "submitted")
    response = await assessments.client.get(f"/assessments/{created['id']}/fhir", headers=health.headers)
    assert response.headers["content-type"] == "application/fhir+json"
    document = QuestionnaireResponse.model_validate(response.json())
    assert (document.id, document.status, document.questionnaire) == (
        created["id"],
        "completed",
        "urn:graduated-pathway:form:early-help-assessment|1",
    )
    assert answers["child_development"]["health"] in response.text


async def test_text_with_an_unpaired_surrogate_is_refused_and_nothing_is_stored(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    headers = {**health.headers, "content-type": "application/json"}
    answers = {"child_development": {"health": "Asthma \ud800"}}
    body = {"family_id": family_id, "form": EHA, "answers": answers}
    # json.dumps escapes the lone surrogate as \ud800, as a partner's JSON library may.
    response = await assessments.client.post("/assessments", content=json.dumps(body), headers=headers)
    assert_problem(response, 400, "invalid-unicode")
    family = family_body("9434765870")
    family["members"][0]["given_name"] = "Am\udc00ara"
    registered = await assessments.client.post("/families", content=json.dumps(family), headers=headers)
    errors = assert_problem(registered, 422, "validation-failed")["errors"]
    assert [error["pointer"] for error in errors] == ["/members/0/given_name"]  # type: ignore[attr-defined]
    listed = await assessments.client.get(f"/families/{family_id}/assessments", headers=health.headers)
    assert listed.json() == []
    found = await assessments.client.get("/families", params={"identifier": "nhs:9434765870"}, headers=health.headers)
    assert found.json() == []


async def test_a_failed_request_does_not_use_up_its_idempotency_key(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    headers = {**health.headers, "Idempotency-Key": "first-try-fails"}
    body = {"family_id": "no-such-family", "form": EHA, "answers": {}}
    failed = await assessments.client.post("/assessments", json=body, headers=headers)
    assert_problem(failed, 422, "unknown-family")
    corrected = await assessments.client.post("/assessments", json={**body, "family_id": family_id}, headers=headers)
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["family_id"] == family_id


async def test_an_organisation_lists_its_own_drafts_the_latest_changed_first_and_never_another_s(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    school = assessments.organisation("org-school", "school")
    family_id = await assessments.register_family(health)
    answers = sample("early-help-assessment", 1)
    first = await post_assessment(assessments, health, family_id, {})
    await post_assessment(assessments, health, family_id, answers, status="submitted")
    second = await post_assessment(assessments, health, family_id, {})
    their_family = await assessments.register_family(school, "9434765927")
    theirs = await post_assessment(assessments, school, their_family, {})
    changed = await assessments.client.put(
        f"/assessments/{first['id']}",
        json={"answers": {"about_the_assessment": {"reason": "Worries about attendance."}}},
        headers={**health.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text

    listed = await assessments.client.get("/assessments", params={"status": "draft"}, headers=health.headers)

    assert listed.status_code == 200, listed.text
    assert [(a["id"], a["status"], a["family_id"]) for a in listed.json()] == [
        (first["id"], "draft", family_id),
        (second["id"], "draft", family_id),
    ]
    assert "answers" not in listed.json()[0]  # a list of work to do, not the answers
    school_drafts = await assessments.client.get("/assessments", params={"status": "draft"}, headers=school.headers)
    assert [a["id"] for a in school_drafts.json()] == [theirs["id"]]
    # The navigation's number is the list's length, each organisation its own, without the list.
    for organisation, drafts in ((health, 2), (school, 1)):
        counted = await assessments.client.get("/assessments/drafts/count", headers=organisation.headers)
        assert counted.status_code == 200, counted.text
        assert counted.json() == {"count": drafts}
    for params in ({}, {"status": "submitted"}):
        assert_problem(
            await assessments.client.get("/assessments", params=params, headers=health.headers),
            422,
            "validation-failed",
        )

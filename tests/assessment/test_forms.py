"""Form versions: shipped ones loaded and published, new ones drafted, checked, published once and retired."""

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from services.assessment.config import SHIPPED_FORMS
from services.assessment.main import create_app
from services.kit.natsserver import NatsServer
from services.kit.testing import DatabaseFactory, TokenMint, serve
from tests.support.assessment import RunningAssessments, assessment_settings
from tests.support.problems import assert_problem
from tests.support.samples import sample
from tests.support.streams import stream_messages
from tests.support.waiting import eventually


def shipped(key: str, version: int) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads((SHIPPED_FORMS / key / f"{version}.json").read_text())
    return definition


def content_of(definition: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in definition.items() if name not in ("key", "version")}


async def test_shipped_forms_are_listed_as_published_versions(assessments: RunningAssessments) -> None:
    reader = assessments.organisation("org-school", "school", scopes="assessments:read")
    forms = (await assessments.client.get("/forms", headers=reader.headers)).json()
    assert {form["key"]: form["latest_published"] for form in forms} == {
        "early-help-assessment": 3,
        "request-for-support": 1,
    }
    eha = next(form for form in forms if form["key"] == "early-help-assessment")
    assert [(v["version"], v["status"], len(v["sha256"])) for v in eha["versions"]] == [
        (1, "published", 64),
        (2, "published", 64),
        (3, "published", 64),
    ]
    version = (await assessments.client.get("/forms/early-help-assessment/versions/3", headers=reader.headers)).json()
    assert version["schema"] == shipped("early-help-assessment", 3)["schema"]
    pages = shipped("early-help-assessment", 3)["layout"]["pages"]
    assert [page["id"] for page in version["layout"]["pages"]] == [page["id"] for page in pages]
    assert version["carry_forward"]["from_version"] == 2


async def test_unknown_form_version_is_a_404_problem(assessments: RunningAssessments) -> None:
    reader = assessments.organisation("org-school", "school", scopes="assessments:read")
    response = await assessments.client.get("/forms/early-help-assessment/versions/9", headers=reader.headers)
    assert_problem(response, 404, "form-version-not-found")


async def test_new_version_is_a_draft_until_published_and_never_changes_after(assessments: RunningAssessments) -> None:
    admin = assessments.organisation("org-council", "council", scopes="forms:admin assessments:read assessments:write")
    content = content_of(shipped("request-for-support", 1))
    created = await assessments.client.post("/forms/request-for-support/versions", json=content, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["status"]) == (2, "draft")
    assert created.headers["location"] == "/forms/request-for-support/versions/2"

    family_id = await assessments.register_family(admin)
    on_draft = await assessments.client.post(
        "/assessments",
        json={"family_id": family_id, "form": {"key": "request-for-support", "version": 2}, "answers": {}},
        headers=admin.headers,
    )
    assert_problem(on_draft, 422, "form-version-not-open")

    content["title"] = "Request for early help"
    rewritten = await assessments.client.put(
        "/forms/request-for-support/versions/2", json=content, headers=admin.headers
    )
    assert rewritten.json()["title"] == "Request for early help"
    published = await assessments.client.post("/forms/request-for-support/versions/2/publish", headers=admin.headers)
    assert published.json()["status"] == "published"
    content["title"] = "Changed after publication"
    changed = await assessments.client.put("/forms/request-for-support/versions/2", json=content, headers=admin.headers)
    assert_problem(changed, 409, "form-version-published")
    still = (await assessments.client.get("/forms/request-for-support/versions/2", headers=admin.headers)).json()
    assert (still["title"], still["sha256"]) == ("Request for early help", published.json()["sha256"])

    async def announced() -> bool:
        return any(
            m.event.get_type() == "form.version_published" and m.event.get_subject() == "form/request-for-support/2"
            for m in await stream_messages(assessments.nats.url)
        )

    await eventually(announced)


async def test_definition_that_is_not_json_schema_is_refused_naming_the_problem(
    assessments: RunningAssessments,
) -> None:
    admin = assessments.organisation("org-council", "council", scopes="forms:admin")
    content = content_of(shipped("request-for-support", 1))
    content["schema"]["properties"]["why_now"] = {"type": "strnig"}
    response = await assessments.client.post("/forms/request-for-support/versions", json=content, headers=admin.headers)
    body = assert_problem(response, 422, "invalid-form-definition")
    errors = body["errors"]
    assert isinstance(errors, list) and len(errors) == 1
    error = errors[0]
    assert error["pointer"] == "/schema/properties/why_now/type"
    assert "Not valid JSON Schema" in error["detail"] and "strnig" in error["detail"]


async def test_layout_that_disagrees_with_the_schema_is_refused_at_each_place(assessments: RunningAssessments) -> None:
    admin = assessments.organisation("org-council", "council", scopes="forms:admin")
    content = content_of(shipped("request-for-support", 1))
    questions = content["layout"]["pages"][0]["sections"][0]["questions"]
    removed = questions.pop(0)
    questions.append({"pointer": "/no/such/answer", "label": "Ghost", "widget": "text"})
    response = await assessments.client.post("/forms/request-for-support/versions", json=content, headers=admin.headers)
    errors = assert_problem(response, 422, "invalid-form-definition")["errors"]
    details = {error["pointer"]: error["detail"] for error in errors}  # type: ignore[attr-defined]
    ghost = f"/layout/pages/0/sections/0/questions/{len(questions) - 1}/pointer"
    assert details[ghost] == "No answer at this pointer in the schema."
    assert "The layout does not ask this question." in [
        detail for pointer, detail in details.items() if pointer.endswith(removed["pointer"].rsplit("/", 1)[-1])
    ]


async def test_forms_admin_scope_is_needed_to_write_forms(assessments: RunningAssessments) -> None:
    writer = assessments.organisation("org-health")
    content = content_of(shipped("request-for-support", 1))
    response = await assessments.client.post(
        "/forms/request-for-support/versions", json=content, headers=writer.headers
    )
    assert assert_problem(response, 403, "insufficient-scope")["missing_scope"] == "forms:admin"


async def test_retired_version_takes_no_new_assessments_but_old_ones_stay_readable(
    assessments: RunningAssessments,
) -> None:
    admin = assessments.organisation("org-council", "council", scopes="forms:admin assessments:read assessments:write")
    family_id = await assessments.register_family(admin)
    body = {
        "family_id": family_id,
        "form": {"key": "early-help-assessment", "version": 1},
        "answers": sample("early-help-assessment", 1),
        "status": "submitted",
    }
    existing = await assessments.client.post("/assessments", json=body, headers=admin.headers)
    retired = await assessments.client.post("/forms/early-help-assessment/versions/1/retire", headers=admin.headers)
    assert retired.json()["status"] == "retired"

    refused = await assessments.client.post("/assessments", json=body, headers=admin.headers)
    assert assert_problem(refused, 422, "form-version-not-open")["errors"] == [
        {"pointer": "/form/version", "detail": "This version is retired."}
    ]
    read = await assessments.client.get(f"/assessments/{existing.json()['id']}", headers=admin.headers)
    assert read.json()["answers"] == body["answers"]


async def test_form_version_is_offered_as_a_fhir_questionnaire(assessments: RunningAssessments) -> None:
    reader = assessments.organisation("org-health", scopes="assessments:read")
    response = await assessments.client.get("/forms/early-help-assessment/versions/1/fhir", headers=reader.headers)
    assert response.headers["content-type"] == "application/fhir+json"
    questionnaire = Questionnaire.model_validate(response.json())
    assert (questionnaire.url, questionnaire.version, questionnaire.status) == (
        "urn:graduated-pathway:form:early-help-assessment",
        "1",
        "active",
    )


async def test_service_refuses_to_start_when_a_published_form_file_was_edited(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    forms = tmp_path / "forms"
    (forms / "request-for-support").mkdir(parents=True)
    definition = shipped("request-for-support", 1)
    (forms / "request-for-support" / "1.json").write_text(json.dumps(definition))
    settings = assessment_settings(nats_server.url, await database_factory("assessment"), tmp_path)
    settings.forms_dir = forms
    async with serve(create_app(settings)):
        pass
    definition["title"] = "Edited in place"
    (forms / "request-for-support" / "1.json").write_text(json.dumps(definition))
    with pytest.raises(RuntimeError, match="differs from the published version"):
        async with serve(create_app(settings)):
            pass


async def test_marking_a_published_versions_question_as_the_assessors_keeps_its_hash_and_is_taken_at_start(
    nats_server: NatsServer, database_factory: DatabaseFactory, tmp_path: Path, token_mint: TokenMint
) -> None:
    forms = tmp_path / "forms"
    (forms / "request-for-support").mkdir(parents=True)
    definition = shipped("request-for-support", 1)
    for page in definition["layout"]["pages"]:  # as it was published, before any question was marked
        for section in page["sections"]:
            for question in section["questions"]:
                question.pop("belongs_to", None)
    (forms / "request-for-support" / "1.json").write_text(json.dumps(definition))
    settings = assessment_settings(nats_server.url, await database_factory("assessment"), tmp_path)
    settings.forms_dir = forms
    headers = token_mint.headers("assessments:read")
    before_app, after_app = create_app(settings), create_app(settings)
    async with serve(before_app) as before:
        token_mint.trust(before_app)
        listed = (await before.get("/forms", headers=headers)).json()
    question = definition["layout"]["pages"][0]["sections"][0]["questions"][0]
    question["belongs_to"] = "assessor"
    (forms / "request-for-support" / "1.json").write_text(json.dumps(definition))
    async with serve(after_app) as after:
        token_mint.trust(after_app)
        relisted = (await after.get("/forms", headers=headers)).json()
        version = (await after.get("/forms/request-for-support/versions/1", headers=headers)).json()
    assert relisted == listed  # the same sha256: what its assessments recorded still names it
    assert version["layout"]["pages"][0]["sections"][0]["questions"][0]["belongs_to"] == "assessor"

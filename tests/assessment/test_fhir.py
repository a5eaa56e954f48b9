"""The FHIR renderings of form definitions and assessments: every form file in `schemas/forms`, every
sample in `tests/assessment/samples`, and a small inline form that pins the mapping down exactly."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from services.assessment import fhir
from tests.support.assessment import RunningAssessments
from tests.support.samples import family_body

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "assessment" / "samples"
FORM_FILES = sorted(ROOT.glob("schemas/forms/*/*.json"))

INLINE_FORM: dict[str, Any] = {
    "key": "fhir-test-form",
    "version": 3,
    "title": "A form to test the FHIR rendering",
    "description": "Every widget once.",
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["child", "level_of_need"],
        "properties": {
            "child": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "date_of_birth"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "date_of_birth": {"type": "string", "format": "date"},
                    "email": {"type": "string", "format": "email", "maxLength": 254},
                    "school/nursery": {"type": "string", "maxLength": 200},
                    "siblings": {"type": "integer", "minimum": 0},
                    "height_m": {"type": "number"},
                    "has_gp": {"type": "boolean"},
                },
            },
            "support": {
                "type": "object",
                "additionalProperties": False,
                "required": ["summary"],
                "properties": {"summary": {"type": "string", "maxLength": 2000}},
            },
            "level_of_need": {"type": "string", "enum": ["1", "2", "3", "4"]},
            "contact_by": {"type": "string", "enum": ["phone", "letter"]},
            "worries": {
                "type": "array",
                "items": {"type": "string", "enum": ["money", "housing", "school"]},
                "uniqueItems": True,
            },
            "family_members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 100},
                        "relationship": {"type": "string", "enum": ["parent", "sibling", "other"]},
                    },
                },
            },
        },
    },
    "layout": {
        "pages": [
            {
                "id": "child",
                "title": "The child",
                "sections": [
                    {
                        "title": "About the child",
                        "description": "What the family told you.",
                        "questions": [
                            {"pointer": "/child/name", "label": "Name", "widget": "text"},
                            {
                                "pointer": "/child/date_of_birth",
                                "label": "Date of birth",
                                "hint": "For example, 27 3 2015",
                                "widget": "date",
                            },
                            {"pointer": "/child/email", "label": "E-mail", "widget": "email"},
                            {"pointer": "/child/school~1nursery", "label": "School or nursery", "widget": "text"},
                            {"pointer": "/child/siblings", "label": "Brothers and sisters", "widget": "number"},
                            {"pointer": "/child/height_m", "label": "Height in metres", "widget": "number"},
                            {"pointer": "/child/has_gp", "label": "Registered with a GP?", "widget": "yes-no"},
                        ],
                    },
                    {
                        "title": "Support",
                        "questions": [{"pointer": "/support/summary", "label": "Summary", "widget": "textarea"}],
                    },
                ],
            },
            {
                "id": "family",
                "title": "The family",
                "sections": [
                    {
                        "title": "Need",
                        "questions": [
                            {
                                "pointer": "/level_of_need",
                                "label": "Level of need",
                                "widget": "radios",
                                "options": [
                                    {"value": "1", "label": "Level 1: universal"},
                                    {"value": "2", "label": "Level 2: early help"},
                                    {"value": "3", "label": "Level 3: targeted"},
                                    {"value": "4", "label": "Level 4: specialist"},
                                ],
                            },
                            {
                                "pointer": "/contact_by",
                                "label": "Contact by",
                                "widget": "select",
                                "options": [
                                    {"value": "phone", "label": "Phone"},
                                    {"value": "letter", "label": "Letter"},
                                ],
                            },
                            {
                                "pointer": "/worries",
                                "label": "Worries",
                                "widget": "checkboxes",
                                "options": [
                                    {"value": "money", "label": "Money"},
                                    {"value": "housing", "label": "Housing", "hint": "Including overcrowding."},
                                    {"value": "school", "label": "School"},
                                ],
                            },
                            {
                                "pointer": "/family_members",
                                "label": "Family members",
                                "widget": "repeating-group",
                                "item_label": "Family member",
                                "questions": [
                                    {"pointer": "/name", "label": "Name", "widget": "text"},
                                    {
                                        "pointer": "/relationship",
                                        "label": "Relationship to the child",
                                        "widget": "radios",
                                        "options": [
                                            {"value": "parent", "label": "Parent"},
                                            {"value": "sibling", "label": "Brother or sister"},
                                            {"value": "other", "label": "Someone else"},
                                        ],
                                    },
                                ],
                            },
                        ],
                    }
                ],
            },
        ]
    },
}

INLINE_ANSWERS: dict[str, Any] = {
    "child": {
        "name": "Sam",
        "date_of_birth": "2015-03-27",
        "email": "",
        "school/nursery": "Hill Primary",
        "siblings": 2,
        "height_m": 1.25,
        "has_gp": False,
    },
    "support": {},
    "level_of_need": "2",
    "worries": ["money", "school"],
    "family_members": [{"name": "Alex", "relationship": "parent"}, {"name": "Jo"}],
}

AUTHORED = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)


def _form_cases() -> list[Any]:
    return [pytest.param(None, id="inline"), *(pytest.param(path, id=_case_id(path)) for path in FORM_FILES)]


def _sample_cases() -> list[Any]:
    cases = [pytest.param(None, None, id="inline")]
    for path in FORM_FILES:
        sample = SAMPLES / f"{path.parent.name}-{path.stem}.json"
        if sample.exists():
            cases.append(pytest.param(path, sample, id=_case_id(path)))
    return cases


def _case_id(path: Path) -> str:
    return f"{path.parent.name}-{path.stem}"


def _definition(path: Path | None) -> dict[str, Any]:
    if path is None:
        return INLINE_FORM
    definition: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return definition


def _answers(path: Path | None) -> dict[str, Any]:
    if path is None:
        return INLINE_ANSWERS
    answers: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return answers


def _questionnaire(definition: dict[str, Any], status: str = "published") -> dict[str, Any]:
    return fhir.questionnaire(
        key=definition["key"],
        version=definition["version"],
        title=definition["title"],
        status=status,
        schema=definition["schema"],
        layout=definition["layout"],
        description=definition.get("description"),
    )


def _response(definition: dict[str, Any], answers: dict[str, Any], status: str = "submitted") -> dict[str, Any]:
    return fhir.questionnaire_response(
        assessment_id="0b8a6f1e-6a1d-4d7e-9d38-2f4b1c0e9a11",
        key=definition["key"],
        version=definition["version"],
        status=status,
        authored=AUTHORED,
        organisation_id="org-1",
        family_id="family-1",
        layout=definition["layout"],
        schema=definition["schema"],
        answers=answers,
    )


def _layout_questions(questions: list[dict[str, Any]], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(linkId, question) for every question, repeating groups' questions included."""
    for question in questions:
        yield prefix + question["pointer"], question
        if question["widget"] == "repeating-group":
            yield from _layout_questions(question["questions"], prefix + question["pointer"])


def _all_layout_questions(layout: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for page in layout["pages"]:
        for section in page["sections"]:
            yield from _layout_questions(section["questions"])


def _items(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of a Questionnaire or QuestionnaireResponse, depth first."""
    stack = list(reversed(resource.get("item", [])))
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(item.get("item", [])))


def _items_by_link_id(resource: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in _items(resource):
        found.setdefault(item["linkId"], []).append(item)
    return found


def _prune(value: Any) -> Any:
    """The answers with what counts as unanswered taken out (null, blank text, empty lists and objects), or None."""
    if isinstance(value, dict):
        kept = {key: pruned for key, inner in value.items() if (pruned := _prune(inner)) is not None}
        return kept or None
    if isinstance(value, list):
        return [pruned for entry in value if (pruned := _prune(entry)) is not None] or None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _set(document: dict[str, Any], pointer: str, value: Any) -> None:
    tokens = fhir.pointer_tokens(pointer)
    for token in tokens[:-1]:
        document = document.setdefault(token, {})
    document[tokens[-1]] = value


def _answer_value(answer: dict[str, Any]) -> Any:
    (kind, value), *_ = answer.items()
    return value["code"] if kind == "valueCoding" else value


def _map_back(
    items: list[dict[str, Any]], questions: dict[str, dict[str, Any]], document: dict[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Our answers again, from a response's items and the Questionnaire's items by linkId, with no other table."""
    for item in items:
        link_id = item["linkId"]
        if not link_id.startswith("/"):  # a page or a section
            _map_back(item["item"], questions, document, prefix)
            continue
        pointer = link_id.removeprefix(prefix)
        question = questions[link_id]
        if question["type"] == "group":  # one entry of a repeating group
            entries = fhir.read_pointer(document, pointer)
            if entries is fhir.MISSING:
                entries = []
                _set(document, pointer, entries)
            entries.append(_map_back(item["item"], questions, {}, link_id))
        elif question.get("repeats"):
            _set(document, pointer, [_answer_value(answer) for answer in item["answer"]])
        else:
            (answer,) = item["answer"]
            _set(document, pointer, _answer_value(answer))
    return document


VALUE_TYPE = {
    "string": "valueString",
    "text": "valueString",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "date": "valueDate",
    "boolean": "valueBoolean",
    "choice": "valueCoding",
}


# -- every form: the Questionnaire


@pytest.mark.parametrize("path", _form_cases())
def test_questionnaire_is_a_valid_fhir_r4_questionnaire(path: Path | None) -> None:
    definition = _definition(path)
    rendered = _questionnaire(definition)

    Questionnaire.model_validate(rendered)
    assert rendered["id"] == f"{definition['key']}-{definition['version']}"
    assert rendered["url"] == f"urn:graduated-pathway:form:{definition['key']}"
    assert rendered["version"] == str(definition["version"])


@pytest.mark.parametrize("path", _form_cases())
def test_every_question_is_an_item_whose_link_id_is_its_answers_pointer(path: Path | None) -> None:
    definition = _definition(path)
    items = _items_by_link_id(_questionnaire(definition))

    for link_id, question in _all_layout_questions(definition["layout"]):
        assert len(items.get(link_id, [])) == 1, link_id
        assert items[link_id][0]["text"] == question["label"]


@pytest.mark.parametrize("path", _form_cases())
def test_link_ids_are_unique(path: Path | None) -> None:
    link_ids = [item["linkId"] for item in _items(_questionnaire(_definition(path)))]

    assert len(link_ids) == len(set(link_ids))


@pytest.mark.parametrize("path", _form_cases())
def test_choice_questions_offer_every_option_in_order(path: Path | None) -> None:
    definition = _definition(path)
    items = _items_by_link_id(_questionnaire(definition))

    for link_id, question in _all_layout_questions(definition["layout"]):
        if question["widget"] in {"radios", "select", "checkboxes"}:
            (item,) = items[link_id]
            assert item["type"] == "choice"
            assert [option["valueCoding"]["code"] for option in item["answerOption"]] == [
                option["value"] for option in question["options"]
            ]
            assert [option["valueCoding"]["display"] for option in item["answerOption"]] == [
                option["label"] for option in question["options"]
            ]
            assert item.get("repeats", False) is (question["widget"] == "checkboxes")


# -- every sample: the QuestionnaireResponse


@pytest.mark.parametrize(("form", "sample"), _sample_cases())
def test_response_is_a_valid_fhir_r4_questionnaire_response(form: Path | None, sample: Path | None) -> None:
    definition = _definition(form)

    for status in ("draft", "submitted"):
        QuestionnaireResponse.model_validate(_response(definition, _answers(sample), status))


@pytest.mark.parametrize(("form", "sample"), _sample_cases())
def test_every_answer_has_the_value_type_of_its_question(form: Path | None, sample: Path | None) -> None:
    definition = _definition(form)
    questions = {item["linkId"]: item for item in _items(_questionnaire(definition))}
    response = _response(definition, _answers(sample))

    answered = [item for item in _items(response) if "answer" in item]
    assert answered
    for item in answered:
        expected = VALUE_TYPE[questions[item["linkId"]]["type"]]
        assert [next(iter(answer)) for answer in item["answer"]] == [expected] * len(item["answer"]), item


@pytest.mark.parametrize(("form", "sample"), _sample_cases())
def test_response_maps_back_to_every_answered_leaf_by_link_id(form: Path | None, sample: Path | None) -> None:
    definition = _definition(form)
    answers = _answers(sample)
    questions = {item["linkId"]: item for item in _items(_questionnaire(definition))}
    response = _response(definition, answers)

    assert _map_back(response.get("item", []), questions, {}) == (_prune(answers) or {})


@pytest.mark.parametrize(("form", "sample"), _sample_cases())
def test_response_has_no_empty_groups_and_no_unanswered_questions(form: Path | None, sample: Path | None) -> None:
    response = _response(_definition(form), _answers(sample), "draft")

    for item in _items(response):
        assert item.get("item") or item.get("answer"), item
        assert not ("item" in item and "answer" in item), item


# -- the inline form, exactly


def test_form_statuses_map_to_questionnaire_statuses() -> None:
    for ours, theirs in {"draft": "draft", "published": "active", "retired": "retired"}.items():
        assert _questionnaire(INLINE_FORM, ours)["status"] == theirs
    with pytest.raises(ValueError, match="status"):
        _questionnaire(INLINE_FORM, "archived")


def test_questionnaire_has_a_computer_friendly_name_and_the_form_title() -> None:
    rendered = _questionnaire(INLINE_FORM)

    assert rendered["name"] == "FhirTestForm"
    assert rendered["title"] == "A form to test the FHIR rendering"
    assert rendered["description"] == "Every widget once."


def test_pages_and_sections_become_nested_groups_in_layout_order() -> None:
    rendered = _questionnaire(INLINE_FORM)

    assert [(page["linkId"], page["type"], page["text"]) for page in rendered["item"]] == [
        ("child", "group", "The child"),
        ("family", "group", "The family"),
    ]
    about, support = rendered["item"][0]["item"]
    assert (about["type"], about["text"], support["text"]) == ("group", "About the child", "Support")
    assert [item["linkId"] for item in about["item"]] == [
        "child/section-1-description",
        "/child/name",
        "/child/date_of_birth",
        "/child/email",
        "/child/school~1nursery",
        "/child/siblings",
        "/child/height_m",
        "/child/has_gp",
    ]
    assert about["item"][0] == {
        "linkId": "child/section-1-description",
        "text": "What the family told you.",
        "type": "display",
    }


def test_widgets_map_to_fhir_item_types() -> None:
    items = _items_by_link_id(_questionnaire(INLINE_FORM))

    assert {link_id: items[link_id][0]["type"] for link_id, _ in _all_layout_questions(INLINE_FORM["layout"])} == {
        "/child/name": "string",
        "/child/date_of_birth": "date",
        "/child/email": "string",
        "/child/school~1nursery": "string",
        "/child/siblings": "integer",
        "/child/height_m": "decimal",
        "/child/has_gp": "boolean",
        "/support/summary": "text",
        "/level_of_need": "choice",
        "/contact_by": "choice",
        "/worries": "choice",
        "/family_members": "group",
        "/family_members/name": "string",
        "/family_members/relationship": "choice",
    }


def test_options_are_codings_in_the_forms_system() -> None:
    (item,) = _items_by_link_id(_questionnaire(INLINE_FORM))["/level_of_need"]

    assert item["answerOption"][1] == {
        "valueCoding": {
            "system": "urn:graduated-pathway:form:fhir-test-form",
            "code": "2",
            "display": "Level 2: early help",
        }
    }


def test_required_follows_the_schema_from_the_root_and_within_a_repeating_groups_entry() -> None:
    items = _items_by_link_id(_questionnaire(INLINE_FORM))
    required = {link_id for link_id, found in items.items() if found[0].get("required")}

    # /support/summary is required within its section, but the section itself is optional.
    assert required == {"/child/name", "/child/date_of_birth", "/level_of_need", "/family_members/name"}


def test_max_length_comes_from_the_schema() -> None:
    items = _items_by_link_id(_questionnaire(INLINE_FORM))

    assert items["/child/name"][0]["maxLength"] == 100
    assert items["/support/summary"][0]["maxLength"] == 2000
    assert items["/family_members/name"][0]["maxLength"] == 100
    assert "maxLength" not in items["/child/date_of_birth"][0]


def test_hint_is_a_nested_display_item() -> None:
    (item,) = _items_by_link_id(_questionnaire(INLINE_FORM))["/child/date_of_birth"]

    assert item["item"] == [
        {"linkId": "/child/date_of_birth-hint", "text": "For example, 27 3 2015", "type": "display"}
    ]


def test_checkboxes_and_repeating_groups_repeat() -> None:
    items = _items_by_link_id(_questionnaire(INLINE_FORM))

    assert items["/worries"][0]["repeats"] is True
    group = items["/family_members"][0]
    assert group["repeats"] is True
    assert [child["linkId"] for child in group["item"]] == ["/family_members/name", "/family_members/relationship"]


def test_response_names_the_questionnaire_version_family_and_organisation() -> None:
    response = _response(INLINE_FORM, INLINE_ANSWERS)

    assert response["resourceType"] == "QuestionnaireResponse"
    assert response["id"] == "0b8a6f1e-6a1d-4d7e-9d38-2f4b1c0e9a11"
    assert response["questionnaire"] == "urn:graduated-pathway:form:fhir-test-form|3"
    assert response["subject"] == {"reference": "Group/family-1"}
    assert response["author"] == {"reference": "Organization/org-1"}
    assert response["authored"] == "2025-05-01T09:30:00+00:00"


def test_draft_is_in_progress_and_submitted_is_completed() -> None:
    assert _response(INLINE_FORM, INLINE_ANSWERS, "draft")["status"] == "in-progress"
    assert _response(INLINE_FORM, INLINE_ANSWERS, "submitted")["status"] == "completed"
    with pytest.raises(ValueError, match="status"):
        _response(INLINE_FORM, INLINE_ANSWERS, "withdrawn")


def test_naive_authored_time_is_taken_as_utc() -> None:
    response = fhir.questionnaire_response(
        assessment_id="a-1",
        key="fhir-test-form",
        version=3,
        status="draft",
        authored=datetime(2025, 5, 1, 9, 30),
        organisation_id="org-1",
        family_id="family-1",
        layout=INLINE_FORM["layout"],
        schema=INLINE_FORM["schema"],
        answers={},
    )

    assert response["authored"] == "2025-05-01T09:30:00+00:00"
    assert "item" not in response
    QuestionnaireResponse.model_validate(response)


def test_answers_carry_typed_values() -> None:
    items = _items_by_link_id(_response(INLINE_FORM, INLINE_ANSWERS))

    assert items["/child/name"][0]["answer"] == [{"valueString": "Sam"}]
    assert items["/child/date_of_birth"][0]["answer"] == [{"valueDate": "2015-03-27"}]
    assert items["/child/school~1nursery"][0]["answer"] == [{"valueString": "Hill Primary"}]
    assert items["/child/siblings"][0]["answer"] == [{"valueInteger": 2}]
    assert items["/child/height_m"][0]["answer"] == [{"valueDecimal": 1.25}]
    assert items["/child/has_gp"][0]["answer"] == [{"valueBoolean": False}]
    assert items["/level_of_need"][0]["answer"] == [
        {
            "valueCoding": {
                "system": "urn:graduated-pathway:form:fhir-test-form",
                "code": "2",
                "display": "Level 2: early help",
            }
        }
    ]


def test_checkboxes_give_one_coding_per_choice() -> None:
    (item,) = _items_by_link_id(_response(INLINE_FORM, INLINE_ANSWERS))["/worries"]

    assert [answer["valueCoding"]["code"] for answer in item["answer"]] == ["money", "school"]
    assert [answer["valueCoding"]["display"] for answer in item["answer"]] == ["Money", "School"]


def test_repeating_group_gives_one_group_item_per_entry() -> None:
    entries = _items_by_link_id(_response(INLINE_FORM, INLINE_ANSWERS))["/family_members"]

    assert len(entries) == 2
    assert entries[0]["item"] == [
        {"linkId": "/family_members/name", "text": "Name", "answer": [{"valueString": "Alex"}]},
        {
            "linkId": "/family_members/relationship",
            "text": "Relationship to the child",
            "answer": [
                {
                    "valueCoding": {
                        "system": "urn:graduated-pathway:form:fhir-test-form",
                        "code": "parent",
                        "display": "Parent",
                    }
                }
            ],
        },
    ]
    assert entries[1]["item"] == [{"linkId": "/family_members/name", "text": "Name", "answer": [{"valueString": "Jo"}]}]


def test_unanswered_questions_and_empty_groups_are_left_out() -> None:
    response = _response(INLINE_FORM, INLINE_ANSWERS, "draft")
    items = _items_by_link_id(response)

    # A blank e-mail, an empty section, an unanswered select and a section with nothing answered.
    for link_id in ("/child/email", "/support/summary", "/contact_by", "child/section-2"):
        assert link_id not in items
    assert "type" not in next(_items(response))


def test_response_items_follow_the_layout_order() -> None:
    response = _response(INLINE_FORM, INLINE_ANSWERS)

    assert [item["linkId"] for item in _items(response) if item["linkId"].startswith("/")] == [
        "/child/name",
        "/child/date_of_birth",
        "/child/school~1nursery",
        "/child/siblings",
        "/child/height_m",
        "/child/has_gp",
        "/level_of_need",
        "/worries",
        "/family_members",
        "/family_members/name",
        "/family_members/relationship",
        "/family_members",
        "/family_members/name",
    ]


# -- the pointer reader


def test_read_pointer_unescapes_tilde_and_slash() -> None:
    document = {"a/b": {"c~d": 1}, "list": [{"x": 2}], "": 3}

    assert fhir.read_pointer(document, "/a~1b/c~0d") == 1
    assert fhir.read_pointer(document, "/list/0/x") == 2
    assert fhir.read_pointer(document, "/") == 3
    assert fhir.read_pointer(document, "") == document
    assert fhir.read_pointer(document, "/list/1") is fhir.MISSING
    assert fhir.read_pointer(document, "/list/01") is fhir.MISSING
    assert fhir.read_pointer(document, "/a~1b/c~0d/deeper") is fhir.MISSING
    assert fhir.pointer_tokens("/~01") == ["~1"]


async def test_family_is_a_bundle_of_its_group_and_patients_with_the_members_details(
    assessments: RunningAssessments,
) -> None:
    health = assessments.organisation("org-health")
    body = family_body()
    body["members"][0] |= {
        "sex": "female",
        "ethnicity": "mixed_white_and_black_african",
        "first_language": "English",
        "send_status": "sen_support",
        "young_carer": True,
        "postcode": "ls6 2ab",
    }
    created = await assessments.client.post("/families", json=body, headers=health.headers)
    assert created.status_code == 201, created.text
    family_id = created.json()["id"]
    response = await assessments.client.get(f"/families/{family_id}/fhir", headers=health.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    document = response.json()
    Bundle.model_validate(document)  # a valid R4 resource, extensions and all
    group, child, mother = (entry["resource"] for entry in document["entry"])
    assert (group["resourceType"], group["id"], group["quantity"]) == ("Group", family_id, 2)
    assert [m["entity"]["reference"] for m in group["member"]] == [
        f"urn:uuid:{child['id']}",
        f"urn:uuid:{mother['id']}",
    ]
    assert child["identifier"] == [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}]
    assert (child["gender"], child["birthDate"]) == ("female", "2017-05-14")
    assert child["address"] == [{"use": "home", "postalCode": "LS6 2AB"}]
    assert child["communication"] == [{"language": {"text": "English"}}]
    extensions = {extension["url"]: extension for extension in child["extension"]}
    ethnicity = extensions["https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"]
    assert ethnicity["valueCodeableConcept"] == {
        "coding": [
            {
                "system": "urn:graduated-pathway:ons-2021-ethnic-group",
                "code": "mixed_white_and_black_african",
                "display": "White and Black African",
            }
        ],
        "text": "Mixed or Multiple ethnic groups: White and Black African",
    }
    assert extensions["urn:graduated-pathway:fhir:extension:send-status"]["valueCode"] == "sen_support"
    assert extensions["urn:graduated-pathway:fhir:extension:young-carer"]["valueBoolean"] is True
    # What was not recorded is left out, not guessed.
    assert "gender" not in mother and "address" not in mother
    assert mother["extension"] == [
        {"url": "urn:graduated-pathway:fhir:extension:relationship", "valueString": "mother"}
    ]

    other = assessments.organisation("org-school", "school")
    refused = await assessments.client.get(f"/families/{family_id}/fhir", headers=other.headers)
    assert refused.status_code == 403


def test_the_whole_family_assessment_repeats_each_childs_section_in_its_response() -> None:
    definition = json.loads((ROOT / "schemas/forms/early-help-assessment/3.json").read_text())
    answers = json.loads((SAMPLES / "early-help-assessment-3.json").read_text())
    questionnaire = _questionnaire(definition)
    Questionnaire.model_validate(questionnaire)
    children_page = next(item for item in questionnaire["item"] if item["linkId"] == "children")
    group = children_page["item"][0]["item"][-1]
    assert (group["linkId"], group["type"], group["repeats"]) == ("/children", "group", True)
    assert "/children/health" in {item["linkId"] for item in group["item"]}

    response = _response(definition, answers)
    QuestionnaireResponse.model_validate(response)
    page = next(item for item in response["item"] if item["linkId"] == "children")
    entries = [item for item in page["item"][0]["item"] if item["linkId"] == "/children"]
    assert len(entries) == 2
    names = [
        next(i["answer"][0]["valueString"] for i in entry["item"] if i["linkId"] == "/children/name")
        for entry in entries
    ]
    assert names == ["Tyler Walsh", "Ellie Walsh"]
    health = [
        next(i["answer"][0]["valueString"] for i in entry["item"] if i["linkId"] == "/children/health")
        for entry in entries
    ]
    assert health == [child["health"] for child in answers["children"]]

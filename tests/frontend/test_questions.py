"""A layout page to GOV.UK components and a posted page back to answers, for every kind of question."""

from typing import Any

from starlette.datastructures import FormData

from gateway.frontend.questions import PageForm, display, page_of

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "about": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "integer"},
                "income": {"type": "number"},
                "born": {"type": "string", "format": "date"},
                "tenure": {"enum": ["owned", "rented"]},
                "worries": {"type": "array", "items": {"enum": ["money", "school"]}},
                "agrees": {"type": "boolean"},
            },
        },
        "members": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}},
        },
    },
}
QUESTIONS: list[dict[str, Any]] = [
    {"pointer": "/about/name", "label": "Name", "widget": "text"},
    {"pointer": "/about/children", "label": "Children", "widget": "number"},
    {"pointer": "/about/income", "label": "Income", "widget": "number"},
    {"pointer": "/about/born", "label": "Born", "widget": "date"},
    {"pointer": "/about/tenure", "label": "Tenure", "widget": "select",
     "options": [{"value": "owned", "label": "Owned"}, {"value": "rented", "label": "Rented"}]},
    {"pointer": "/about/worries", "label": "Worries", "widget": "checkboxes",
     "options": [{"value": "money", "label": "Money"}, {"value": "school", "label": "School"}]},
    {"pointer": "/about/agrees", "label": "Agrees", "widget": "yes-no"},
    {"pointer": "/members", "label": "Members", "widget": "repeating-group", "item_label": "Member",
     "questions": [{"pointer": "/name", "label": "Name", "widget": "text"},
                   {"pointer": "/age", "label": "Age", "widget": "number"}]},
]  # fmt: skip
LAYOUT = {"pages": [{"id": "all", "title": "All", "sections": [{"title": "All", "questions": QUESTIONS}]}]}
FORM = PageForm({"schema": SCHEMA, "layout": LAYOUT}, LAYOUT["pages"][0])


def posted(*pairs: tuple[str, str]) -> FormData:
    return FormData(list(pairs))


def test_every_kind_of_question_is_read_into_the_answers_the_schema_wants() -> None:
    answers, _typed, errors = FORM.read(
        posted(
            ("/about/name", "  Sam  "), ("/about/children", "3"), ("/about/income", "120.50"),
            ("/about/born-day", "9"), ("/about/born-month", "2"), ("/about/born-year", "2019"),
            ("/about/tenure", "rented"), ("/about/worries", "money"), ("/about/worries", "school"),
            ("/about/agrees", "no"), ("/members-count", "3"),
            ("/members/0/name", "Ava"), ("/members/0/age", "4"),
            ("/members/1/name", ""), ("/members/1/age", ""),
            ("/members/2/name", "Leo"),
        ),
        {"unrelated": "kept"},
    )  # fmt: skip
    assert errors == {}
    assert answers == {
        "unrelated": "kept",
        "about": {"name": "Sam", "children": 3, "income": 120.5, "born": "2019-02-09", "tenure": "rented",
                  "worries": ["money", "school"], "agrees": False},
        "members": [{"name": "Ava", "age": 4}, {"name": "Leo"}],  # the empty item is dropped
    }  # fmt: skip


def test_a_cleared_page_removes_its_answers_and_the_sections_left_empty() -> None:
    answers, _, errors = FORM.read(posted(("/members-count", "1")), {"about": {"name": "Sam"}, "members": [{}]})
    assert (answers, errors) == ({}, {})


def test_what_cannot_be_sent_is_an_error_beside_the_field_and_what_was_typed_is_shown_again() -> None:
    form = posted(
        ("/about/children", "three"), ("/about/born-day", "30"), ("/about/born-month", "2"),
        ("/about/born-year", "2019"), ("/members-count", "2"), ("/members/0/name", "Ava"), ("/members/1/age", "x"),
    )  # fmt: skip
    _, typed, errors = FORM.read(form, {})
    assert errors == {
        "/about/children": "'Children' must be a number, like 12.",
        "/about/born": "'Born' must be a real date, like 27 3 2026.",
        "/members/1/age": "'Age' must be a number, like 12.",
    }
    fields = {f.pointer: f for f in FORM.fields({}, errors, typed=typed)}
    assert fields["/about/children"].params["value"] == "three"
    assert fields["/about/children"].params["errorMessage"] == {"text": "'Children' must be a number, like 12."}
    born = fields["/about/born"]
    assert [item["value"] for item in born.params["items"]] == ["30", "2", "2019"]
    assert all("govuk-input--error" in item["classes"] for item in born.params["items"])
    assert born.first_input_id == "q-about-born-day"
    members = fields["/members"].items
    assert [[sub.params.get("value") for sub in item] for item in members] == [["Ava", ""], ["", "x"]]


def test_removing_an_item_of_a_group_renumbers_the_rest() -> None:
    form = posted(
        ("/members-count", "3"), ("/members/0/name", "Ava"), ("/members/1/name", "Bo"), ("/members/2/name", "Cy"),
        ("remove", "/members/1"),
    )  # fmt: skip
    answers, typed, _ = FORM.read(form, {})
    assert answers["members"] == [{"name": "Ava"}, {"name": "Cy"}]
    assert typed["/members/1/name"] == "Cy"


def test_saved_answers_are_shown_in_the_govuk_components_with_carried_forward_marked() -> None:
    saved = {"about": {"born": "2019-02-09", "tenure": "owned", "worries": ["school"], "agrees": True, "income": 9.5}}
    fields = {f.pointer: f for f in FORM.fields(saved, {}, carried=frozenset({"/about/tenure"}))}
    assert fields["/about/tenure"].macro == "govukSelect"
    assert [i["value"] for i in fields["/about/tenure"].params["items"] if i["selected"]] == ["owned"]
    assert "Carried forward" in str(fields["/about/tenure"].params["hint"]["html"])
    assert "hint" not in fields["/about/name"].params
    assert [i["value"] for i in fields["/about/worries"].params["items"] if i["checked"]] == ["school"]
    assert [i["value"] for i in fields["/about/agrees"].params["items"] if i["checked"]] == ["yes"]
    assert fields["/about/children"].params["inputmode"] == "numeric"
    assert fields["/about/income"].params == fields["/about/income"].params | {"inputmode": "decimal", "value": "9.5"}
    assert [item["value"] for item in fields["/about/born"].params["items"]] == ["9", "2", "2019"]
    assert len(fields["/members"].items) == 1  # an empty group offers one item to fill


def test_answers_read_back_in_words_and_errors_find_their_page() -> None:
    assert display(QUESTIONS[3], "2019-02-09") == "9 February 2019"
    assert display(QUESTIONS[5], ["money", "school"]) == "Money, School"
    assert display(QUESTIONS[6], False) == "No"
    assert display(QUESTIONS[4], "rented") == "Rented"
    assert page_of(LAYOUT, "/members/0/age") == "all"
    assert page_of(LAYOUT, "/about") == "all"
    assert page_of(LAYOUT, "/elsewhere") is None


def test_a_two_digit_year_is_not_taken_for_a_date() -> None:
    _, typed, errors = FORM.read(
        posted(("/about/born-day", "3"), ("/about/born-month", "4"), ("/about/born-year", "24")), {}
    )
    assert errors == {"/about/born": "'Born' must be a real date, like 27 3 2026."}
    assert typed["/about/born"] == {"day": "3", "month": "4", "year": "24"}

"""An assessment's questions as GOV.UK components: from a form version's layout to the page, and back.

A form version (its JSON Schema and layout, as `GET /forms/{key}/versions/{n}`
answers it) says what to ask and how. This module turns one layout page and the
current answers into the parameters of GOV.UK Frontend's macros, and a posted
page back into answers. It reads the layout as plain JSON, not through the
assessment service's models, because the gateway imports no service.

Names and ids come from JSON pointers: an answer at `/needs/0/target_date` is
posted as the field `/needs/0/target_date` (a date as `-day`, `-month` and
`-year`) and shown in an element with the id `q-needs-0-target_date`, which
is what an error summary links to.
"""

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from starlette.datastructures import FormData

from services.kit.jsonpointer import pointer_tokens, read_pointer

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def field_id(pointer: str) -> str:
    return "q" + pointer.replace("/", "-").replace("~", "_")


def get_answer(answers: Any, pointer: str) -> Any:
    """The answer at a pointer, or None where there is none."""
    return read_pointer(answers, pointer, None)


def set_answer(answers: dict[str, Any], pointer: str, value: Any) -> None:
    """Put a value at a pointer of objects, making the sections on the way."""
    *parents, last = pointer_tokens(pointer)
    node = answers
    for token in parents:
        node = node.setdefault(token, {})
    node[last] = value


def remove_answer(answers: dict[str, Any], pointer: str) -> None:
    """Take out the answer at a pointer, and any section it leaves empty."""
    *parents, last = pointer_tokens(pointer)
    trail: list[tuple[dict[str, Any], str]] = []
    node: Any = answers
    for token in parents:
        if not isinstance(node, dict) or not isinstance(node.get(token), dict):
            return
        trail.append((node, token))
        node = node[token]
    node.pop(last, None)
    for parent, token in reversed(trail):
        if parent[token]:
            break
        del parent[token]


def format_date(value: str) -> str:
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return value
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def display(question: Mapping[str, Any], value: Any) -> str:
    """An answer as a person reads it: option labels rather than values, dates written out."""
    if value is None or value == "" or value == []:
        return ""
    widget = question["widget"]
    labels = {option["value"]: option["label"] for option in question.get("options") or []}
    if widget == "yes-no":
        return "Yes" if value else "No"
    if widget == "date" and isinstance(value, str):
        return format_date(value)
    if widget == "checkboxes" and isinstance(value, list):
        return ", ".join(labels.get(item, str(item)) for item in value)
    if widget in ("radios", "select"):
        return str(labels.get(value, value))
    return str(value)


@dataclass
class Field:
    """One question on a page: the macro to call, its parameters, and for a group its items."""

    question: Mapping[str, Any]
    pointer: str
    macro: str
    params: dict[str, Any] = field(default_factory=dict)
    items: list[list["Field"]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return field_id(self.pointer)

    @property
    def first_input_id(self) -> str:
        """Where an error summary's link lands: the first thing to type in or choose."""
        return self.id + "-day" if self.question["widget"] == "date" else self.id


def page_questions(page: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for section in page["sections"]:
        yield from section["questions"]


def page_of(layout: Mapping[str, Any], pointer: str) -> str | None:
    """The id of the page that asks the answer at `pointer`, or holds the section or group it is under."""
    for page in layout["pages"]:
        for question in page_questions(page):
            asked = question["pointer"]
            if pointer == asked or pointer.startswith(asked + "/") or asked.startswith(pointer + "/"):
                return str(page["id"])
    return None


def _is_integer(schema: Mapping[str, Any], pointer: str) -> bool:
    """Whether the schema wants a whole number at a concrete pointer (indices step into a group's items)."""
    node: Any = schema
    for token in pointer_tokens(pointer):
        if not isinstance(node, dict):
            return False
        node = node.get("items") if node.get("type") == "array" else (node.get("properties") or {}).get(token)
    return isinstance(node, dict) and node.get("type") == "integer"


class PageForm:
    """One page of an assessment's form: shown with answers and errors, and read back from a post."""

    def __init__(self, version: Mapping[str, Any], page: Mapping[str, Any]) -> None:
        self.schema: Mapping[str, Any] = version["schema"]
        self.page = page

    # --- showing -------------------------------------------------------------------

    def fields(
        self,
        answers: Mapping[str, Any],
        errors: Mapping[str, str],
        carried: frozenset[str] = frozenset(),
        typed: Mapping[str, Any] | None = None,
        extra_items: Mapping[str, int] | None = None,
    ) -> list[Field]:
        """Every question of the page, showing `typed` (what was posted) where given, else the saved answers."""
        shown = typed if typed is not None else {}
        return [
            self._field(question, question["pointer"], answers, errors, carried, shown, extra_items or {})
            for question in page_questions(self.page)
        ]

    def _field(
        self,
        question: Mapping[str, Any],
        pointer: str,
        answers: Mapping[str, Any],
        errors: Mapping[str, str],
        carried: frozenset[str],
        typed: Mapping[str, Any],
        extra_items: Mapping[str, int],
    ) -> Field:
        widget = question["widget"]
        value = typed[pointer] if pointer in typed else get_answer(answers, pointer)
        hint = escape(question.get("hint") or "")
        if pointer in carried:
            tag = Markup('<strong class="govuk-tag govuk-tag--grey">Carried forward</strong>')
            hint = Markup("{} {}").format(tag, hint) if hint else tag
        common: dict[str, Any] = {"hint": {"html": hint}} if hint else {}
        if error := errors.get(pointer):
            common["errorMessage"] = {"text": error}
        label = {"text": question["label"], "classes": "govuk-label--s"}
        legend = {"text": question["label"], "classes": "govuk-fieldset__legend--s"}
        id_, name = field_id(pointer), pointer
        if widget == "repeating-group":
            # As posted: the number of items kept; as saved: the list itself.
            count = value if isinstance(value, int) else len(value) if isinstance(value, list) else 0
            count += extra_items.get(pointer, 0)
            items = [
                [
                    self._field(sub, f"{pointer}/{index}{sub['pointer']}", answers, errors, carried, typed, {})
                    for sub in question["questions"]
                ]
                for index in range(max(count, 1))
            ]
            params = {**common, "legend": question["label"], "item_label": question.get("item_label") or "Item"}
            return Field(question, pointer, "group", params, items)
        if widget == "date":
            parts = value if isinstance(value, dict) else _date_parts(value)
            date_items = [
                {"name": "day", "classes": "govuk-input--width-2", "value": parts.get("day", "")},
                {"name": "month", "classes": "govuk-input--width-2", "value": parts.get("month", "")},
                {"name": "year", "classes": "govuk-input--width-4", "value": parts.get("year", "")},
            ]
            if "errorMessage" in common:
                for item in date_items:
                    item["classes"] += " govuk-input--error"
            params = {**common, "id": id_, "namePrefix": name, "fieldset": {"legend": legend}, "items": date_items}
            return Field(question, pointer, "govukDateInput", params)
        if widget in ("radios", "checkboxes", "yes-no"):
            chosen = value if isinstance(value, list) else [value]
            options = question.get("options") or [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]
            if widget == "yes-no":
                chosen = ["yes" if item is True else "no" if item is False else item for item in chosen]
            choices = [
                {"value": option["value"], "text": option["label"], "checked": option["value"] in chosen}
                | ({"hint": {"text": option["hint"]}} if option.get("hint") else {})
                for option in options
            ]
            params = {**common, "idPrefix": id_, "name": name, "fieldset": {"legend": legend}, "items": choices}
            if widget == "yes-no":
                params["classes"] = "govuk-radios--inline"
            return Field(question, pointer, "govukCheckboxes" if widget == "checkboxes" else "govukRadios", params)
        text = "" if value is None else str(value)
        params = {**common, "id": id_, "name": name, "label": label, "value": text}
        if widget == "select":
            params["items"] = [{"value": "", "text": "Choose an answer", "selected": not text}] + [
                {"value": option["value"], "text": option["label"], "selected": option["value"] == text}
                for option in question.get("options") or []
            ]
            return Field(question, pointer, "govukSelect", params)
        if widget == "textarea":
            params["rows"] = 4
            return Field(question, pointer, "govukTextarea", params)
        if widget == "number":
            params |= {"inputmode": "numeric" if _is_integer(self.schema, pointer) else "decimal"}
            params["classes"] = "govuk-input--width-5"
        if widget == "email":
            params |= {"type": "email", "autocomplete": "off", "spellcheck": False}
        return Field(question, pointer, "govukInput", params)

    # --- reading a post ------------------------------------------------------------

    def read(self, form: FormData, answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
        """The answers with this page's replaced by what was posted, what was typed, and errors of form.

        A date that is not a real date, or a number that is not a number, cannot
        be sent to the service: it is an error here, and what was typed is kept
        so the person can correct it.
        """
        updated = dict(answers)
        typed: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for question in page_questions(self.page):
            pointer = question["pointer"]
            remove_answer(updated, pointer)
            if question["widget"] == "repeating-group":
                items = self._read_group(form, question, typed, errors)
                if items:
                    set_answer(updated, pointer, items)
                continue
            value = self._read_one(form, question, pointer, typed, errors)
            if value is not None:
                set_answer(updated, pointer, value)
        return updated, typed, errors

    def _read_group(
        self, form: FormData, question: Mapping[str, Any], typed: dict[str, Any], errors: dict[str, str]
    ) -> list[dict[str, Any]]:
        pointer = question["pointer"]
        count = _count(form.get(f"{pointer}-count"))
        removed = form.get("remove")
        items: list[dict[str, Any]] = []
        for index in range(count):
            if removed == f"{pointer}/{index}":
                continue
            item: dict[str, Any] = {}
            for sub in question["questions"]:
                # Typed values and errors are kept under the index the item will have once saved.
                posted = f"{pointer}/{index}{sub['pointer']}"
                shown = f"{pointer}/{len(items)}{sub['pointer']}"
                sub_typed: dict[str, Any] = {}
                sub_errors: dict[str, str] = {}
                value = self._read_one(form, sub, posted, sub_typed, sub_errors, shown_as=shown)
                typed.update(sub_typed)
                errors.update(sub_errors)
                if value is not None:
                    set_answer(item, sub["pointer"], value)
            if item or any(key.startswith(f"{pointer}/{len(items)}/") for key in errors):
                items.append(item)
        typed[pointer] = len(items)
        return items

    def _read_one(
        self,
        form: FormData,
        question: Mapping[str, Any],
        pointer: str,
        typed: dict[str, Any],
        errors: dict[str, str],
        shown_as: str | None = None,
    ) -> Any:
        shown = shown_as or pointer
        widget = question["widget"]
        label = question["label"]
        if widget == "checkboxes":
            chosen = [value for value in form.getlist(pointer) if isinstance(value, str)]
            typed[shown] = chosen
            return chosen or None
        if widget == "date":
            parts, day, real = read_date(form, pointer)
            typed[shown] = parts
            if not real:
                errors[shown] = f"'{label}' must be a real date, like 27 3 2026."
            return day.isoformat() if day else None
        raw = form.get(pointer)
        text = raw.strip() if isinstance(raw, str) else ""
        typed[shown] = text
        if not text:
            return None
        if widget == "yes-no":
            return {"yes": True, "no": False}.get(text, text)
        if widget == "number":
            try:
                return int(text) if _is_integer(self.schema, pointer) else float(text)
            except ValueError:
                errors[shown] = f"'{label}' must be a number, like 12."
                return None
        return text


def read_date(form: Any, name: str) -> tuple[dict[str, str], datetime.date | None, bool]:
    """A GOV.UK date input posted as `<name>-day`, `-month` and `-year`: what was typed, the date, and whether
    it is a real one (a date left empty is real, and None). A year is four digits, so "24" is not 2024 or year 24."""
    parts = {part: str(form.get(f"{name}-{part}") or "").strip() for part in ("day", "month", "year")}
    if not any(parts.values()):
        return parts, None, True
    if not all(part.isdigit() for part in parts.values()) or len(parts["year"]) != 4:
        return parts, None, False
    try:
        return parts, datetime.date(int(parts["year"]), int(parts["month"]), int(parts["day"])), True
    except ValueError:
        return parts, None, False


def _count(raw: Any) -> int:
    text = raw if isinstance(raw, str) else ""
    return min(int(text), 100) if text.isdigit() else 0


def _date_parts(value: Any) -> dict[str, str]:
    if not isinstance(value, str):
        return {}
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return {}
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}

"""Form definitions: their shape, the checks a definition must pass, and compiled answer validation.

A definition is a JSON Schema (draft 2020-12) for the answers and a layout for
the front end (`schemas/forms/README.md`). Definitions are checked with the
`jsonschema` package against the meta-schema; answers are validated with
`jsonschema-rs`, which has the same draft 2020-12 semantics at 2 to 4 µs per
answer set instead of 250 to 650 µs (`bench/validation.py`), because validation
sits on the hot path of every assessment posted. A differential test keeps the
two in agreement; where jsonschema-rs is stricter (e-mail syntax) that is safe,
and the one place it was looser, `date`, is replaced by `is_calendar_date`.

Validation messages are written here from the kind of failure and the
question's label, not taken from the validator: the validator's messages quote
the value sent, and the values are a child's answers.
"""

import copy
import datetime
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import jsonschema
import jsonschema_rs
from pydantic import BaseModel, ConfigDict, Field

from services.kit.jsonpointer import join_pointer, pointer_tokens

Widget = Literal[
    "text", "textarea", "number", "date", "email", "radios", "checkboxes", "select", "yes-no", "repeating-group"
]
CHOICE_WIDGETS = frozenset({"radios", "checkboxes", "select"})
ITEM = "*"  # stands for any index of a repeating group in a pattern pointer
# Keywords that make an answer complete rather than well-formed; drafts are checked without them.
COMPLETENESS_KEYWORDS = frozenset({"required", "minItems", "minLength", "minProperties"})


DATE_FORMAT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def is_calendar_date(value: str) -> bool:
    """A `date` answer: YYYY-MM-DD on the calendar Python, PostgreSQL and FHIR share (year 0001 onwards).

    jsonschema-rs alone accepts year 0000, which RFC 3339 allows but no record
    of a child's life needs and FHIR's `date` refuses.
    """
    if not DATE_FORMAT.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def fast_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema-rs validator for answers, formats checked."""
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats={"date": is_calendar_date})


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str
    label: str = Field(min_length=1, max_length=500)
    hint: str | None = Field(default=None, max_length=1000)


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pointer: str = Field(pattern=r"^(/[^/]+)+$", max_length=500)
    label: str = Field(min_length=1, max_length=500)
    hint: str | None = Field(default=None, max_length=2000)
    widget: Widget
    options: list[Option] | None = None
    item_label: str | None = Field(default=None, max_length=200)
    questions: list["Question"] | None = None  # a repeating group's, relative to one item
    belongs_to: Literal["assessor"] | None = Field(
        default=None,
        description="assessor: the answer is the practitioner's own (sign-off, dates, reason), never carried forward",
    )


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=2000)
    questions: list[Question] = Field(min_length=1)


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)
    title: str = Field(min_length=1, max_length=500)
    sections: list[Section] = Field(min_length=1)


class Layout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pages: list[Page] = Field(min_length=1)


class CarryForward(BaseModel):
    """How answers to `from_version` carry into this version: pointers renamed, choice values renamed."""

    model_config = ConfigDict(extra="forbid")

    from_version: int = Field(ge=1)
    renamed: dict[str, str] = Field(default_factory=dict, description="new pointer -> old pointer")
    values: dict[str, dict[str, str]] = Field(default_factory=dict, description="new pointer -> {old: new}")


class FormContent(BaseModel):
    """What an author writes: everything of a version but its key and number."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    answer_schema: dict[str, Any] = Field(alias="schema")
    layout: Layout
    carry_forward: CarryForward | None = None


class FormDefinition(FormContent):
    key: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)
    version: int = Field(ge=1)

    @cached_property
    def sha256(self) -> str:
        """Of the canonical JSON of the whole definition but its `belongs_to` markers: what every assessment records.

        A marker changes no answer and no question, only what a later draft copies, so it can be added to a
        published version without changing the hash its assessments recorded.
        """
        document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for page in document["layout"]["pages"]:
            for section in page["sections"]:
                for question in section["questions"]:
                    question.pop("belongs_to", None)
                    for item in question.get("questions", []):
                        item.pop("belongs_to", None)
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Problem:
    """One failing place: a JSON pointer and a message a person can act on."""

    pointer: str
    detail: str

    def as_dict(self, prefix: str = "") -> dict[str, str]:
        return {"pointer": prefix + self.pointer, "detail": self.detail}


# --- reading a schema ---------------------------------------------------------------


def _is_group(node: dict[str, Any]) -> bool:
    items = node.get("items")
    return node.get("type") == "array" and isinstance(items, dict) and items.get("type") == "object"


def _is_section(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" and isinstance(node.get("properties"), dict)


def schema_at(schema: dict[str, Any], pattern: str) -> dict[str, Any] | None:
    """The subschema of the answer at a pattern pointer (`*` for a group's items), or None."""
    node: Any = schema
    for token in pointer_tokens(pattern):
        if not isinstance(node, dict):
            return None
        if token == ITEM and node.get("type") == "array":
            node = node.get("items")
        else:
            node = (node.get("properties") or {}).get(token)
    return node if isinstance(node, dict) else None


def answer_patterns(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every answer the schema allows, as pattern pointers: leaves, and each repeating group itself."""
    for name, node in (schema.get("properties") or {}).items():
        pointer = prefix + join_pointer([name])
        if not isinstance(node, dict):
            continue
        if _is_section(node):
            yield from answer_patterns(node, pointer)
        elif _is_group(node):
            yield pointer
            yield from answer_patterns(node["items"], f"{pointer}/{ITEM}")
        else:
            yield pointer


def pattern_of(schema: dict[str, Any], path: list[str | int]) -> str:
    """The pattern pointer of a concrete path in the answers: indices into arrays become `*`."""
    tokens: list[str] = []
    node: Any = schema
    for part in path:
        if isinstance(node, dict) and node.get("type") == "array":
            tokens.append(ITEM)
            node = node.get("items")
        else:
            tokens.append(str(part))
            node = (node.get("properties") or {}).get(str(part)) if isinstance(node, dict) else None
    return join_pointer(tokens)


def without_completeness(schema: Any) -> Any:
    """The schema a draft must meet: the same types, formats and choices, nothing demanded."""
    if isinstance(schema, list):
        return [without_completeness(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    stripped: dict[str, Any] = {}
    for name, value in schema.items():
        if name in COMPLETENESS_KEYWORDS:
            continue
        if name in ("properties", "$defs", "patternProperties"):
            stripped[name] = {key: without_completeness(sub) for key, sub in value.items()}
        elif name in ("items", "additionalProperties", "not", "if", "then", "else", "contains"):
            stripped[name] = without_completeness(value)
        elif name in ("allOf", "anyOf", "oneOf", "prefixItems"):
            stripped[name] = [without_completeness(sub) for sub in value]
        else:
            stripped[name] = value
    return stripped


# --- checking a definition ---------------------------------------------------------


def _layout_questions(layout: Layout) -> Iterator[tuple[str, str, Question]]:
    """(pattern pointer, where in the layout, question) for every question, group items included."""
    for p, page in enumerate(layout.pages):
        for s, section in enumerate(page.sections):
            for q, question in enumerate(section.questions):
                where = f"/layout/pages/{p}/sections/{s}/questions/{q}"
                yield question.pointer, where, question
                for i, item in enumerate(question.questions or []):
                    yield f"{question.pointer}/{ITEM}{item.pointer}", f"{where}/questions/{i}", item


def definition_problems(content: FormContent) -> list[Problem]:
    """Everything wrong with a definition, each at its place in the definition; empty when it is sound."""
    schema = content.answer_schema
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return [Problem("/schema" + join_pointer(list(error.absolute_path)), f"Not valid JSON Schema: {error.message}")]
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return [Problem("/schema", "The answers must be an object with properties.")]
    problems: list[Problem] = []
    patterns = set(answer_patterns(schema))
    asked: set[str] = set()
    for pattern, where, question in _layout_questions(content.layout):
        node = schema_at(schema, pattern)
        if node is None or pattern not in patterns:
            problems.append(Problem(where + "/pointer", "No answer at this pointer in the schema."))
            continue
        if pattern in asked:
            problems.append(Problem(where + "/pointer", "This answer is already asked elsewhere."))
        asked.add(pattern)
        problems.extend(_widget_problems(question, node, where))
    for pattern in sorted(patterns - asked):
        problems.append(Problem("/schema" + _schema_location(pattern), "The layout does not ask this question."))
    if content.carry_forward is not None:
        for new_pointer in list(content.carry_forward.renamed) + list(content.carry_forward.values):
            if new_pointer not in patterns:
                problems.append(Problem(f"/carry_forward/renamed{join_pointer([new_pointer])}", "Not in this schema."))
    return problems


def _schema_location(pattern: str) -> str:
    return "".join(
        "/items" if token == ITEM else "/properties" + join_pointer([token]) for token in pointer_tokens(pattern)
    )


def _widget_problems(question: Question, node: dict[str, Any], where: str) -> list[Problem]:
    if question.widget == "repeating-group":
        if not _is_group(node) or not question.questions:
            return [Problem(where + "/widget", "A repeating group needs an array of objects and its own questions.")]
        return []
    if question.widget in CHOICE_WIDGETS:
        enum = (node.get("items") or {}).get("enum") if question.widget == "checkboxes" else node.get("enum")
        values = [option.value for option in question.options or []]
        if enum != values:
            return [Problem(where + "/options", "The options must list the schema's enum values, in order.")]
    elif question.options:
        return [Problem(where + "/options", "Only radios, checkboxes and select have options.")]
    return []


# --- validating answers -----------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A question as the messages name it."""

    label: str
    widget: str
    item_label: str | None = None


@dataclass
class CompiledForm:
    """One definition, ready to validate answers many times over."""

    definition: FormDefinition
    _complete: Any = field(init=False, repr=False)
    _draft: Any = field(init=False, repr=False)
    questions: dict[str, Asked] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        schema = self.definition.answer_schema
        self._complete = fast_validator(schema)
        self.draft_schema: dict[str, Any] = without_completeness(schema)
        self._draft = fast_validator(self.draft_schema)
        self.questions = {
            pattern: Asked(question.label, question.widget, question.item_label)
            for pattern, _where, question in _layout_questions(self.definition.layout)
        }
        self.assessors_own: frozenset[str] = frozenset(
            pattern
            for pattern, _where, question in _layout_questions(self.definition.layout)
            if question.belongs_to == "assessor"
        )

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def version(self) -> int:
        return self.definition.version

    def problems(self, answers: dict[str, Any], *, complete: bool) -> list[Problem]:
        """Every failing answer, with a message; `complete` demands what a submission must answer."""
        validator = self._complete if complete else self._draft
        if validator.is_valid(answers):
            return []
        problems: list[Problem] = []
        for error in validator.iter_errors(answers):
            problems.extend(self._explain(list(error.instance_path), error.kind))
        return list(dict.fromkeys(problems))  # one message per place, in order

    def _explain(self, path: list[str | int], kind: Any) -> list[Problem]:
        schema = self.definition.answer_schema
        name = type(kind).__name__
        if name == "Required":
            missing = [*path, kind.property]
            node = schema_at(schema, pattern_of(schema, missing))
            if node is not None and _is_section(node):
                return [self._required([*missing, *leaf]) for leaf in _required_leaves(node)]
            return [self._required(missing)]
        if name == "AdditionalProperties":
            return [
                Problem(join_pointer([*path, unexpected]), "This is not a question on this form.")
                for unexpected in kind.unexpected
            ]
        asked = self._asked(path)
        label = asked.label if asked else "This answer"
        limit = getattr(kind, "limit", "")
        item = (asked.item_label or "answer").lower() if asked else "answer"
        kind_of_answer = "must be a number" if asked and asked.widget == "number" else "has the wrong kind of answer"
        message = {
            "Type": f"'{label}' {kind_of_answer}.",
            "Enum": f"Select one of the options for '{label}'.",
            "Format": _format_message(label, getattr(kind, "format", "")),
            "MaxLength": f"'{label}' must be {limit} characters or fewer.",
            "MinLength": f"Enter an answer for '{label}'.",
            "Minimum": f"'{label}' must be {limit} or more.",
            "Maximum": f"'{label}' must be {limit} or less.",
            "MaxItems": f"'{label}' allows at most {limit}.",
            "MinItems": f"Add at least one {item} to '{label}'.",
            "UniqueItems": f"Each choice for '{label}' can be chosen only once.",
        }.get(name, f"'{label}' is not a valid answer.")
        return [Problem(join_pointer(path), message)]

    def _required(self, path: list[str | int]) -> Problem:
        asked = self._asked(path)
        if asked is None:
            return Problem(join_pointer(path), "Answer this question.")
        if asked.widget == "repeating-group":
            return Problem(
                join_pointer(path), f"Add at least one {(asked.item_label or 'answer').lower()} to '{asked.label}'."
            )
        verb = "Select" if asked.widget in CHOICE_WIDGETS or asked.widget == "yes-no" else "Enter"
        return Problem(join_pointer(path), f"{verb} an answer for '{asked.label}'.")

    def _asked(self, path: list[str | int]) -> Asked | None:
        return self.questions.get(pattern_of(self.definition.answer_schema, path))


def _required_leaves(node: dict[str, Any]) -> Iterator[list[str]]:
    """The paths under a section that a submission must answer (nested sections flattened)."""
    for name in node.get("required", []):
        child = (node.get("properties") or {}).get(name)
        if isinstance(child, dict) and _is_section(child):
            yield from ([name, *leaf] for leaf in _required_leaves(child))
        else:
            yield [name]


def _format_message(label: str, format_name: str) -> str:
    examples = {"date": "a real date, like 2026-03-27", "email": "an email address, like name@example.com"}
    return f"'{label}' must be {examples.get(format_name, 'in the right format')}."


# --- carrying answers forward -------------------------------------------------------


def carry_forward(
    answers: dict[str, Any], source: CompiledForm, target: CompiledForm, steps: list[CarryForward]
) -> tuple[dict[str, Any], list[str]]:
    """The answers that still apply on `target`, and the pointers of those carried.

    `steps` are the target side's declared mappings, oldest first, from
    `source.version` up to `target.version`; a version that declares none
    keeps every pointer. An answer the target no longer allows, or whose value
    it no longer accepts, is left out rather than guessed; so is an answer that
    either form marks as the assessor's own (`belongs_to`), which the next
    practitioner gives afresh.
    """
    renamed_back: dict[str, str] = {}  # target pattern -> source pattern
    value_maps: dict[str, list[dict[str, str]]] = {}
    for pattern in answer_patterns(target.definition.answer_schema):
        current, maps = pattern, []
        for step in reversed(steps):
            if current in step.values:
                maps.append(step.values[current])
            current = step.renamed.get(current, current)
        renamed_back[pattern] = current
        value_maps[pattern] = list(reversed(maps))
    forward = {old: new for new, old in renamed_back.items()}

    carried: dict[str, Any] = {}
    pointers: list[str] = []
    checkers: dict[str, Any] = {}
    source_schema = source.definition.answer_schema
    for path, value in _leaves(answers, source_schema):
        old_pattern = pattern_of(source_schema, path)
        new_pattern = forward.get(old_pattern)
        if new_pattern is None or old_pattern in source.assessors_own or new_pattern in target.assessors_own:
            continue
        for mapping in value_maps[new_pattern]:
            value = [mapping.get(v, v) for v in value] if isinstance(value, list) else mapping.get(value, value)
        new_path = _concrete(new_pattern, path)
        if new_pattern not in checkers:
            node = schema_at(target.draft_schema, new_pattern) or {}
            checkers[new_pattern] = fast_validator(node)
        if checkers[new_pattern].is_valid(value):
            _put(carried, new_path, copy.deepcopy(value))
            pointers.append(join_pointer(new_path))
    return carried, pointers


def _leaves(
    value: Any, node: dict[str, Any], path: list[str | int] | None = None
) -> Iterator[tuple[list[str | int], Any]]:
    path = path or []
    if isinstance(value, dict) and _is_section(node):
        for name, child in value.items():
            yield from _leaves(child, (node["properties"] or {}).get(name) or {}, [*path, name])
    elif isinstance(value, list) and _is_group(node):
        for index, item in enumerate(value):
            yield from _leaves(item, node["items"], [*path, index])
    elif path:
        yield path, value


def _concrete(pattern: str, source_path: list[str | int]) -> list[str | int]:
    """The target path of a pattern, taking each `*` index from the source path, in order.

    A `*` the source path has no index for is 0: a single answer carried into a repeating group
    (one child's developmental needs into the first child's entry) becomes its first entry.
    """
    indices = iter(part for part in source_path if isinstance(part, int))
    return [next(indices, 0) if token == ITEM else token for token in pointer_tokens(pattern)]


def _put(answers: dict[str, Any], path: list[str | int], value: Any) -> None:
    """Set an answer, making the sections and group entries on the way. A leaf is always a named answer."""
    node: Any = answers
    for part, following in itertools.pairwise(path):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            node = node.setdefault(part, [] if isinstance(following, int) else {})
    node[path[-1]] = value


# --- shipped definitions ------------------------------------------------------------


def read_definition_files(folder: Path) -> list[FormDefinition]:
    """Every `<key>/<version>.json` under `folder`, by key and version."""
    definitions = []
    for path in sorted(folder.glob("*/*.json")):
        definition = FormDefinition.model_validate_json(path.read_bytes())
        if (definition.key, str(definition.version)) != (path.parent.name, path.stem):
            raise ValueError(f"{path} holds {definition.key} version {definition.version}")
        definitions.append(definition)
    return sorted(definitions, key=lambda definition: (definition.key, definition.version))

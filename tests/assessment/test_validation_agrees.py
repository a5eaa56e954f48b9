"""The fast validator (jsonschema-rs) and the reference (jsonschema) agree on every shipped form's answers.

Answers are validated with jsonschema-rs because it is fast; `jsonschema` is the
reference. For the full schema and the draft schema of each shipped form, the
two must agree on whether answers are valid and on which places fail: for the
sample answers, for systematic mutations of them and for random answers built
from the schema. The few inputs on which they are known to differ are pinned by
the tests at the end, each with its reason.
"""

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import jsonschema.protocols
import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.assessment.config import SHIPPED_FORMS
from services.assessment.forms import (
    ITEM,
    answer_patterns,
    fast_validator,
    pattern_of,
    read_definition_files,
    schema_at,
    without_completeness,
)
from services.kit.problems import json_pointer
from tests.support.samples import sample

AnswerPath = list[str | int]  # a concrete place in the answers: names and group indices

UNKNOWN = "not_a_question"
IMPOSSIBLE_DATES = ["2026-02-30", "2026-13-01", "27/03/2026", "2026-3-7"]
# Both refuse the first and accept the second; the emails only the fast validator refuses are pinned below.
AGREED_EMAILS = ["no-at-sign", "name@example.com"]
EMAILS_ONLY_THE_FAST_VALIDATOR_REFUSES = [
    "two@@example.com",
    "a@",
    "@example.com",
    "a b@example.com",
    "a..b@example.com",
]
ONE_OF_EACH_TYPE: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 7,
    "number": 2.5,
    "string": "text",
    "array": [],
    "object": {},
}


# --- the two validators ------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether answers are valid, and the JSON pointers of the places that fail."""

    valid: bool
    failing: frozenset[str]


@dataclass(frozen=True)
class Case:
    """One shipped form's full or draft schema, with both validators for it."""

    name: str
    schema: dict[str, Any]
    sample: dict[str, Any]
    fast: jsonschema_rs.Validator
    reference: jsonschema.protocols.Validator

    def fast_verdict(self, answers: Any) -> Verdict:
        failing = frozenset(json_pointer(error.instance_path) for error in self.fast.iter_errors(answers))
        return Verdict(self.fast.is_valid(answers), failing)

    def reference_verdict(self, answers: Any) -> Verdict:
        failing = frozenset(json_pointer(list(error.absolute_path)) for error in self.reference.iter_errors(answers))
        return Verdict(self.reference.is_valid(answers), failing)


def shipped_cases() -> list[Case]:
    cases = []
    for definition in read_definition_files(SHIPPED_FORMS):
        answers = sample(definition.key, definition.version)
        full = definition.answer_schema
        for mode, schema in (("full", full), ("draft", without_completeness(full))):
            cases.append(
                Case(
                    name=f"{definition.key}-{definition.version}-{mode}",
                    schema=schema,
                    sample=answers,
                    fast=fast_validator(schema),
                    reference=jsonschema.Draft202012Validator(
                        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
                    ),
                )
            )
    return cases


CASES = shipped_cases()
each_case = pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])


# --- reading and changing answers -----------------------------------------------------


def first_instance(pattern: str) -> AnswerPath:
    """The concrete path of a pattern pointer, taking the first item of each repeating group."""
    return [0 if token == ITEM else token for token in pattern.split("/")[1:]]


def tokens(pointer: str) -> AnswerPath:
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]


def value_at(answers: Any, path: AnswerPath) -> Any:
    node = answers
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def has(answers: Any, path: AnswerPath) -> bool:
    try:
        value_at(answers, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def with_value(answers: dict[str, Any], path: AnswerPath, value: Any) -> dict[str, Any]:
    """A copy of the answers with one answer set; the sections on the way are made if missing."""
    changed = copy.deepcopy(answers)
    node: Any = changed
    for part in path[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(value)
    return changed


def without(answers: dict[str, Any], path: AnswerPath) -> dict[str, Any]:
    changed = copy.deepcopy(answers)
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return changed


def node_at(schema: dict[str, Any], path: AnswerPath) -> dict[str, Any]:
    """The subschema of the answer at a concrete path, or {} when the schema has none there."""
    return schema_at(schema, pattern_of(schema, path)) or {}


# --- what a subschema asks for ----------------------------------------------------------


def is_section(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" and "properties" in node


def is_group(node: dict[str, Any]) -> bool:
    return node.get("type") == "array" and is_section(node.get("items") or {})


def is_checkboxes(node: dict[str, Any]) -> bool:
    return node.get("type") == "array" and "enum" in (node.get("items") or {})


def allowed_types(node: dict[str, Any]) -> set[str]:
    declared = node.get("type")
    if declared is None:
        names = {"string" if isinstance(value, str) else "other" for value in node.get("enum", [])}
    else:
        names = {declared} if isinstance(declared, str) else set(declared)
    return names | {"integer"} if "number" in names else names


def wrongly_typed(node: dict[str, Any]) -> list[Any]:
    return [value for name, value in ONE_OF_EACH_TYPE.items() if name not in allowed_types(node)]


def values_to_try(node: dict[str, Any], current: Any) -> list[Any]:
    """Right-typed values on either side of each constraint of the answer."""
    values: list[Any] = []
    if "maxLength" in node:
        values += ["x" * node["maxLength"], "x" * (node["maxLength"] + 1)]
    if node.get("format") == "date":
        values += [*IMPOSSIBLE_DATES, "2026-03-27"]
    if node.get("format") == "email":
        values += AGREED_EMAILS
    if "pattern" in node:
        values += ["12345", "999 234 5675"]
    if "enum" in node:
        values += ["not-an-option", *node["enum"]]
    if is_checkboxes(node):
        choices = node["items"]["enum"]
        values += [[choices[0], choices[0]], ["not-an-option"], *([choice] for choice in choices), choices]
    if is_group(node):
        values += [[], [*(current or []), {}]]  # an empty group; an item with none of its fields
    return values


# --- mutations of the sample -------------------------------------------------------------


def object_paths(node: dict[str, Any], answers: Any, path: AnswerPath) -> Iterator[AnswerPath]:
    """Every object in the answers the schema describes: sections, and the first item of each group."""
    for name, child in node.get("properties", {}).items():
        if is_section(child) and has(answers, [*path, name]):
            yield [*path, name]
            yield from object_paths(child, answers, [*path, name])
        elif is_group(child) and has(answers, [*path, name, 0]):
            yield [*path, name, 0]
            yield from object_paths(child["items"], answers, [*path, name, 0])


def answer_mutations(answers: dict[str, Any], path: AnswerPath, node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    pointer = json_pointer(path)
    current = value_at(answers, path) if has(answers, path) else None
    if has(answers, path):
        yield f"{pointer} removed", without(answers, path)
    for value in [*wrongly_typed(node), *values_to_try(node, current)]:
        yield f"{pointer} = {value!r:.60}", with_value(answers, path, value)


def object_mutations(answers: dict[str, Any], path: AnswerPath) -> Iterator[tuple[str, Any]]:
    pointer = json_pointer(path)
    yield f"{pointer}/{UNKNOWN} added", with_value(answers, [*path, UNKNOWN], "x")
    if path:
        yield f"{pointer} removed", without(answers, path)


def mutations(schema: dict[str, Any], answers: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what changed, the changed answers) for every answer and every object of the schema."""
    yield "no answers", {}
    for pattern in answer_patterns(schema):
        node = schema_at(schema, pattern) or {}
        yield from answer_mutations(answers, first_instance(pattern), node)
    for path in [[], *object_paths(schema, answers, [])]:
        yield from object_mutations(answers, path)


# --- random answers from the schema --------------------------------------------------------


def any_json_scalar() -> st.SearchStrategy[Any]:
    return st.sampled_from(list(ONE_OF_EACH_TYPE.values())) | st.integers() | st.text(max_size=10)


def dates() -> st.SearchStrategy[str]:
    """Real dates, and dates with any year, month and day up to one past the calendar's."""
    real = st.dates().map(lambda day: day.isoformat())
    shaped = st.builds(
        lambda year, month, day: f"{year:04d}-{month:02d}-{day:02d}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
    )
    return real | shaped


def right_typed(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from(node["enum"]) | st.text(max_size=10)
    if is_checkboxes(node):
        return st.lists(st.sampled_from(node["items"]["enum"]) | st.text(max_size=5), max_size=4)
    if node.get("format") == "date":
        return dates() | st.text(max_size=12)
    if node.get("format") == "email":
        return st.emails() | st.sampled_from(AGREED_EMAILS) | st.text(max_size=20)
    if "pattern" in node:
        return st.from_regex(node["pattern"]) | st.text(max_size=14)
    if node.get("type") == "string":
        limit = node.get("maxLength", 100)
        around_the_limit = st.integers(max(limit - 1, 0), limit + 1).map(lambda length: "x" * length)
        return st.text(max_size=30) | around_the_limit
    if node.get("type") == "boolean":
        return st.booleans()
    if node.get("type") == "integer":
        return st.integers()
    if node.get("type") == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    return any_json_scalar()


def random_answers(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any subset of the answers (and sometimes an unknown one), each right-typed or not."""
    if is_section(node):
        optional = {name: random_answers(child) for name, child in node["properties"].items()}
        return st.fixed_dictionaries({}, optional={**optional, UNKNOWN: st.just("x")})
    if is_group(node):
        return st.lists(random_answers(node["items"]), max_size=3) | any_json_scalar()
    return right_typed(node) | any_json_scalar()


# --- what the two may differ on ----------------------------------------------------------------


def known_difference(node: dict[str, Any], value: Any) -> str | None:
    """Which of the differences pinned below covers this value, with the validator that refuses it."""
    if not isinstance(value, str):
        return None
    if node.get("format") == "email" and "@" in value:
        return "fast"  # the reference's email check is only "contains an @"
    if "pattern" in node and value.endswith("\n"):
        return "fast"  # Python's `$` also matches before a final newline
    return None


def unexplained_differences(case: Case, answers: Any) -> set[str]:
    """The places where one validator fails the answers and the other does not, for no known reason."""
    fast, reference = case.fast_verdict(answers), case.reference_verdict(answers)
    assert fast.valid == (not fast.failing) and reference.valid == (not reference.failing)
    unexplained = set()
    for pointer in fast.failing ^ reference.failing:
        refusing = "fast" if pointer in fast.failing else "reference"
        path = tokens(pointer)
        if known_difference(node_at(case.schema, path), value_at(answers, path)) != refusing:
            unexplained.add(pointer)
    return unexplained


# --- agreement -----------------------------------------------------------------------------------


@each_case
def test_both_validators_accept_the_sample_answers(case: Case) -> None:
    assert case.fast_verdict(case.sample) == case.reference_verdict(case.sample) == Verdict(True, frozenset())


@each_case
def test_validators_agree_on_every_mutation_of_the_sample(case: Case) -> None:
    disagreements = {}
    failing_patterns = set()
    for change, answers in mutations(case.schema, case.sample):
        fast, reference = case.fast_verdict(answers), case.reference_verdict(answers)
        if fast != reference:
            disagreements[change] = (fast, reference)
        failing_patterns |= {pattern_of(case.schema, tokens(pointer)) for pointer in reference.failing}
    assert disagreements == {}
    assert set(answer_patterns(case.schema)) <= failing_patterns, "some answer was never made to fail"


@each_case
@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data())
def test_validators_agree_on_random_answers(case: Case, data: st.DataObject) -> None:
    answers = data.draw(random_answers(case.schema), label="answers")
    assert unexplained_differences(case, answers) == set()


# --- known differences -----------------------------------------------------------------------------


def is_email(node: dict[str, Any]) -> bool:
    return node.get("format") == "email"


def is_date(node: dict[str, Any]) -> bool:
    return node.get("format") == "date"


def has_pattern(node: dict[str, Any]) -> bool:
    return "pattern" in node


def answers_where(asks: Callable[[dict[str, Any]], bool]) -> list[tuple[Case, AnswerPath]]:
    """Each case with the first instance of every answer whose subschema `asks`; never empty."""
    found = [
        (case, first_instance(pattern))
        for case in CASES
        for pattern in answer_patterns(case.schema)
        if asks(schema_at(case.schema, pattern) or {})
    ]
    assert found
    return found


def only_refused_by(validator: str, values: list[str], asks: Callable[[dict[str, Any]], bool]) -> None:
    """Each value, put in every answer whose subschema `asks`, fails there for that validator only."""
    for case, path in answers_where(asks):
        for value in values:
            answers = with_value(case.sample, path, value)
            refusal, acceptance = Verdict(False, frozenset({json_pointer(path)})), Verdict(True, frozenset())
            fast, reference = case.fast_verdict(answers), case.reference_verdict(answers)
            assert (fast, reference) == ((refusal, acceptance) if validator == "fast" else (acceptance, refusal)), value


def test_fast_validator_is_stricter_on_email_syntax() -> None:
    # Acceptable: stricter is safe, and the fast validator is the one that decides.
    only_refused_by("fast", EMAILS_ONLY_THE_FAST_VALIDATOR_REFUSES, is_email)


def test_fast_validator_refuses_a_trailing_newline_after_a_pattern() -> None:
    # Acceptable: Python's `$` also matches before a final newline and Rust's does not; stricter is safe.
    only_refused_by("fast", ["9992345675\n", "999 2345675\n"], has_pattern)


def test_both_refuse_year_zero_which_no_record_of_a_child_needs() -> None:
    for case, path in answers_where(is_date):
        answers = with_value(case.sample, path, "0000-01-01")
        refused = Verdict(False, frozenset({json_pointer(path)}))
        assert case.fast_verdict(answers) == case.reference_verdict(answers) == refused

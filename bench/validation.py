"""Validating one answer set per shipped form: jsonschema-rs, as the service runs it, next to jsonschema.

In this process, for each shipped form (`schemas/forms`) and its sample answers
(`tests/assessment/samples`): the fast validator the service uses
(`jsonschema_rs.Draft202012Validator`, formats checked) on the full schema and
on the draft schema, next to the reference, `jsonschema.Draft202012Validator`
with its format checker, on the same schemas in the same run. Then the
service's own call, `CompiledForm.problems(answers, complete=True)`, on the
valid sample and on the sample with three wrong answers (an impossible date, a
choice the form does not offer and a number for a text answer), which also
writes the three messages; its baselines are the reference saying the sample
is valid and the reference listing the three errors. Each round times every
call `--iterations` times in a loop, the order of the calls alternating from
round to round; the figures are µs per answer set as the median and the range
over rounds, and the reference's time over the call's as the median of the
rounds' ratios.
"""

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs

from bench.common import print_table
from services.assessment.config import SHIPPED_FORMS
from services.assessment.forms import (
    ITEM,
    CompiledForm,
    FormDefinition,
    answer_patterns,
    read_definition_files,
    schema_at,
    without_completeness,
)

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "assessment" / "samples"
WRONG_ANSWERS = {"date": "2026-02-30", "choice": "not-an-option", "text": 7}


@dataclass(frozen=True)
class Timed:
    """One call timed in every round, and the baseline call its ratio is taken against (None for a baseline)."""

    name: str
    call: Callable[[], object]
    baseline: str | None = None


def per_call_microseconds(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1_000_000


def sample_answers(definition: FormDefinition) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads((SAMPLES / f"{definition.key}-{definition.version}.json").read_text())
    return answers


def kind_of_answer(node: dict[str, Any]) -> str | None:
    if node.get("format") == "date":
        return "date"
    if "enum" in node:
        return "choice"
    if node.get("type") == "string" and "format" not in node and "pattern" not in node:
        return "text"
    return None


def with_three_errors(schema: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers with the first date, choice and text answer of the schema each wrong (in a group, its first item)."""
    first_of_kind: dict[str, str] = {}
    for pattern in answer_patterns(schema):
        kind = kind_of_answer(schema_at(schema, pattern) or {})
        if kind is not None:
            first_of_kind.setdefault(kind, pattern)
    wrong = copy.deepcopy(answers)
    for kind, pattern in first_of_kind.items():
        *parents, name = [0 if token == ITEM else token for token in pattern.split("/")[1:]]
        node: Any = wrong
        for part in parents:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        node[name] = WRONG_ANSWERS[kind]
    return wrong


def calls_for(definition: FormDefinition) -> list[Timed]:
    """The calls timed for one form, each checked once first to give the answer it should."""
    answers = sample_answers(definition)
    full = definition.answer_schema
    draft = without_completeness(full)
    form = CompiledForm(definition)
    wrong = with_three_errors(full, answers)
    schemas = {"full": full, "draft": draft}
    fast = {name: jsonschema_rs.Draft202012Validator(schema, validate_formats=True) for name, schema in schemas.items()}
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    reference = {
        name: jsonschema.Draft202012Validator(schema, format_checker=checker) for name, schema in schemas.items()
    }
    valid = [validator.is_valid(answers) for validator in fast.values()]
    valid += [validator.is_valid(answers) for validator in reference.values()]
    if not all(valid):
        raise RuntimeError(f"the sample answers of {definition.key} {definition.version} are not valid")
    if len(form.problems(wrong, complete=True)) != 3 or len(list(reference["full"].iter_errors(wrong))) != 3:
        raise RuntimeError(f"the answers made wrong for {definition.key} {definition.version} do not have 3 errors")
    return [
        Timed("jsonschema-rs, full schema", lambda: fast["full"].is_valid(answers), "reference, full schema"),
        Timed("jsonschema-rs, draft schema", lambda: fast["draft"].is_valid(answers), "reference, draft schema"),
        Timed(
            "CompiledForm.problems(complete=True), valid answers",
            lambda: form.problems(answers, complete=True),
            "reference, full schema",
        ),
        Timed(
            "CompiledForm.problems(complete=True), 3 errors",
            lambda: form.problems(wrong, complete=True),
            "reference, full schema, 3 errors listed",
        ),
        Timed("reference, full schema", lambda: reference["full"].is_valid(answers)),
        Timed("reference, draft schema", lambda: reference["draft"].is_valid(answers)),
        Timed("reference, full schema, 3 errors listed", lambda: list(reference["full"].iter_errors(wrong))),
    ]


def timed_rounds(calls: list[Timed], rounds: int, iterations: int) -> dict[str, list[float]]:
    """Each call's µs per answer set in every round, the order of the calls alternating from round to round."""
    figures: dict[str, list[float]] = {timed.name: [] for timed in calls}
    for round_number in range(rounds):
        for timed in calls if round_number % 2 == 0 else calls[::-1]:
            figures[timed.name].append(per_call_microseconds(timed.call, iterations))
    return figures


def row(timed: Timed, iterations: int, figures: dict[str, list[float]]) -> list[object]:
    per_call = figures[timed.name]
    name = timed.name if timed.baseline else f"baseline: jsonschema{timed.name.removeprefix('reference')}"
    ratio = ""
    if timed.baseline:
        ratios = [slow / fast for slow, fast in zip(figures[timed.baseline], per_call, strict=True)]
        ratio = f"{statistics.median(ratios):,.1f}x"
    return [name, iterations, len(per_call), statistics.median(per_call), min(per_call), max(per_call), ratio]


def main(rounds: int, iterations: int) -> None:
    for number, definition in enumerate(read_definition_files(SHIPPED_FORMS)):
        calls = calls_for(definition)
        for timed in calls:  # untimed, so every validator has run once before its first round
            timed.call()
        figures = timed_rounds(calls, rounds, iterations)
        size = len(json.dumps(sample_answers(definition)).encode())
        if number:
            print()
        print(f"{definition.key} v{definition.version}: sample answers, {size:,} bytes of JSON, in this process")
        print_table(
            ["call", "answer sets", "rounds", "median µs", "min", "max", "reference / this"],
            [row(timed, iterations, figures) for timed in calls],
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each measurement (default: %(default)s)")
    parser.add_argument(
        "--iterations", type=int, default=1_000, help="answer sets validated per call and round (default: %(default)s)"
    )
    arguments = parser.parse_args()
    main(arguments.rounds, arguments.iterations)

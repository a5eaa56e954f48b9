"""`make demo-data` fills a stack started by `make up`, and the councils' reports show what it printed."""

import json
import re
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from deploy.demo_data import (
    CLOSE_REASONS,
    LEADS,
    OUTCOMES_MET,
    STEPPED_UP,
    Story,
    as_of_today,
    assessment_answers,
    plan_story,
    request_answers,
)
from services.assessment.identifiers import normalise_nhs_number
from services.kit.natsserver import free_port
from tests.e2e.conftest import REPOSITORY, MakeUp, bearer, fresh_copy

FAMILIES = 30
LOADED_WITHIN_SECONDS = 300


def form(key: str) -> Draft202012Validator:
    definition = json.loads((REPOSITORY / f"schemas/forms/{key}/1.json").read_text())
    return Draft202012Validator(definition["schema"], format_checker=FormatChecker())


def takes_every_path(stories: list[Story]) -> bool:
    return (
        any(len(story.episodes) > 1 for story in stories)
        and any(story.stepped_down for story in stories)
        and any(story.request_for_support for story in stories)
        and any(story.episodes[0].ending == OUTCOMES_MET for story in stories)
    )


def test_a_seed_tells_the_same_believable_stories_with_valid_answers_and_unique_nhs_numbers() -> None:
    as_of = as_of_today()
    stories = [plan_story(7, index, as_of) for index in range(2000)]
    assert stories == [plan_story(7, index, as_of) for index in range(2000)]
    assert stories[:50] != [plan_story(8, index, as_of) for index in range(50)]

    numbers = [member.nhs_number for story in stories for member in story.members]
    assert len(set(numbers)) == len(numbers)
    assert all(normalise_nhs_number(number) == number for number in numbers)
    other_seed = {member.nhs_number for index in range(2000) for member in plan_story(8, index, as_of).members}
    assert not other_seed & set(numbers), "seeds draw numbers from blocks of their own"

    assessment, request = form("early-help-assessment"), form("request-for-support")
    for story in stories[:300]:
        for episode in story.episodes:
            assert list(assessment.iter_errors(assessment_answers(story, episode))) == []
            assert episode.started >= as_of - timedelta(days=548)
            assert (
                max([episode.started, *(r.held_on for r in episode.reviews), episode.ended or episode.started]) <= as_of
            )
        if story.request_for_support:
            assert list(request.iter_errors(request_answers(story, "Hill Top Primary School", story.referrer))) == []

    endings = Counter(episode.ending for story in stories for episode in story.episodes if episode.ending)
    closed = sum(endings.values())
    assert 0.60 < endings[OUTCOMES_MET] / closed < 0.72, "about two thirds close with outcomes met"
    assert 0.07 < endings[STEPPED_UP] / closed < 0.13, "about one in ten steps up to social care"
    re_referred = sum(len(story.episodes) - 1 for story in stories)
    assert 0.03 < re_referred / (closed - endings[STEPPED_UP]) < 0.09, "6-9% once six months have passed"


def summary_counts(printed: str) -> dict[str, int]:
    return {
        label: int(count.replace(",", ""))
        for label, count in re.findall(r"^  (\S.*?)\s{2,}([\d,]+)(?:  \(.*\))?$", printed, re.MULTILINE)
    }


@pytest.mark.e2e
def test_make_demo_data_fills_the_stack_and_the_reports_count_what_it_printed(tmp_path: Path) -> None:
    as_of = as_of_today()
    seed = next(s for s in range(100) if takes_every_path([plan_story(s, i, as_of) for i in range(FAMILIES)]))
    checkout, data = tmp_path / "checkout", tmp_path / "data"
    fresh_copy(checkout)
    stack = MakeUp(checkout, data, free_port(), tmp_path / "stack.log")
    try:
        stack.wait_ready()
        loaded = subprocess.run(
            ["make", "--no-print-directory", "demo-data", f"ARGS=--families {FAMILIES} --seed {seed}"],
            cwd=checkout, env=stack.env, capture_output=True, text=True, timeout=LOADED_WITHIN_SECONDS,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        printed = summary_counts(loaded.stdout)
        assert printed["families registered"] == FAMILIES
        assert printed["re-referred"] > 0 and printed[f"closed: {STEPPED_UP}"] > 0 and printed["stepped down"] > 0
        names = {f"{m.given_name} {m.family_name}" for i in range(FAMILIES) for m in plan_story(seed, i, as_of).members}
        assert not [name for name in names if name in loaded.stdout + loaded.stderr], "names are never printed"

        council_credentials = json.loads((data / "demo-credentials.json").read_text())[0]
        council = bearer(stack.url, council_credentials)
        period = {"from": (as_of - timedelta(days=2 * 365)).isoformat(), "to": (as_of + timedelta(days=1)).isoformat()}

        def report(name: str, **params: str) -> Any:
            answer = httpx.get(f"{stack.url}/reports/{name}", params=params, headers=council, timeout=30)
            assert answer.status_code == 200, answer.text
            return answer.json()

        closures = report("closures", **period)
        assert closures["closed"] == printed["plans closed"] > 0
        by_reason = {row["reason"]: row["plans"] for row in closures["by_reason"]}
        assert by_reason == {r: printed[f"closed: {r}"] for r in CLOSE_REASONS if printed[f"closed: {r}"]}
        assert OUTCOMES_MET in by_reason
        re_referrals = report("re-referrals", **period)
        assert re_referrals["closed"] == printed["plans closed"] - printed[f"closed: {STEPPED_UP}"]
        assert re_referrals["re_referred_within_6_months"] == printed["re-referred"]
        assert report("time-to-plan", **period)["plans_activated"] == printed["plans activated"]
        assert report("assessments-started", **period)["total"] == printed["early help assessments"]
        leads = report("caseload")["leads"]
        assert sum(lead["families"] for lead in leads) == printed["plans active"] > 0
        assert {lead["lead_name"] for lead in leads} <= set(LEADS)

        again = subprocess.run(
            ["make", "--no-print-directory", "demo-data", f"ARGS=--families 1 --seed {seed}"],
            cwd=checkout, env=stack.env, capture_output=True, text=True, timeout=LOADED_WITHIN_SECONDS,
        )  # fmt: skip
        assert again.returncode != 0
        assert "POST /families answered 409" in again.stderr and "choose another --seed" in again.stderr
    finally:
        stack.stop()

"""The front door's report: decisions by outcome and the share within 10 working days of the request, counted in
the working days of England (weekends and bank holidays left out), as wide as the caller may see."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.assessment.service import assessments, front_door
from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from tests.support.consent import EVERY_SCOPE, ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.samples import family_body, nhs_numbers, submitted_sample
from tests.support.stack import MigratedDatabase, started

REPORT = "/reports/front-door"
MAY = {"from": "2025-05-01", "to": "2025-05-31"}
READS_REPORTS = f"{EVERY_SCOPE} reports:read"
PRIVATE = ("Amara", "Okafor", "2017-05-14", "Alder Road")


@pytest.fixture
async def stack(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[ConsentStack]:
    async with started(
        "consent", "assessment", nats=nats_server, database=migrated_database, data_dir=tmp_path, mint=token_mint
    ) as running:
        yield ConsentStack.of(running)


async def _decided(
    stack: ConsentStack,
    monkeypatch: pytest.MonkeyPatch,
    requester: Organisation,
    hub: Organisation,
    nhs_number: str,
    submitted: datetime,
    decided: datetime,
    **decision: Any,
) -> None:
    """A request `requester` submitted at `submitted`, decided by the hub at `decided`."""
    with monkeypatch.context() as clock:
        clock.setattr(assessments, "now", lambda: submitted)
        family = await stack.assessment.post("/families", json=family_body(nhs_number), headers=requester.headers)
        assert family.status_code == 201, family.text
        body = submitted_sample(family.json()["id"], "request-for-support")
        request = await stack.assessment.post("/assessments", json=body, headers=requester.headers)
        assert request.status_code == 201, request.text
        clock.setattr(front_door, "now", lambda: decided)
        path = f"/requests-for-support/{request.json()['id']}/decision"
        answer = await stack.assessment.post(path, json=decision, headers=hub.headers)
        assert answer.status_code == 201, answer.text


async def _report(stack: ConsentStack, who: Organisation, **params: str) -> dict[str, Any]:
    response = await stack.assessment.get(REPORT, params={**MAY, **params}, headers=who.headers)
    assert response.status_code == 200, response.text
    assert not any(private in response.text for private in PRIVATE)
    report: dict[str, Any] = response.json()
    return report


async def test_decisions_by_outcome_and_the_share_within_ten_working_days(
    stack: ConsentStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = stack.organisation("org-hub", "council", READS_REPORTS, "duty-worker@hub", ("coordinator",))
    health = stack.organisation("org-health", "health", READS_REPORTS)
    school = stack.organisation("org-school", "school", READS_REPORTS)
    first, second, third = nhs_numbers(3)
    # Friday 2 May 2025, before the early May bank holiday; decided the next Thursday: 3 working days.
    await _decided(stack, monkeypatch, health, hub, first, datetime(2025, 5, 2, 10, tzinfo=UTC),
                   datetime(2025, 5, 8, 15, tzinfo=UTC), outcome="early_help_assessment",
                   allocated_organisation_id="org-school")  # fmt: skip
    # The same Friday, decided on Tuesday 20 May: 11 working days, outside the 10.
    await _decided(stack, monkeypatch, health, hub, second, datetime(2025, 5, 2, 11, tzinfo=UTC),
                   datetime(2025, 5, 20, 9, tzinfo=UTC), outcome="no_further_action")  # fmt: skip
    # Decided the day it came: 0 working days.
    await _decided(stack, monkeypatch, school, hub, third, datetime(2025, 5, 6, 9, tzinfo=UTC),
                   datetime(2025, 5, 6, 16, tzinfo=UTC), outcome="signpost")  # fmt: skip

    report = await _report(stack, hub)

    assert report["period"] == {"start": "2025-05-01", "end": "2025-05-31"}
    assert (report["decided"], report["within_10_working_days"], report["share_within_10_working_days"]) == (
        3, 2, 0.6667,
    )  # fmt: skip
    assert report["median_working_days"] == 3
    assert report["outcomes"] == [
        {"group": None, "outcome": "early_help_assessment", "decisions": 1},
        {"group": None, "outcome": "no_further_action", "decisions": 1},
        {"group": None, "outcome": "signpost", "decisions": 1},
    ]
    assert "bank holidays" in report["definition"] and report["groups"] == []

    by_agency = await _report(stack, hub, by="agency")
    assert by_agency["groups"] == [
        {"group": "org-health", "decided": 2, "within_10_working_days": 1, "share_within_10_working_days": 0.5,
         "median_working_days": 7},
        {"group": "org-school", "decided": 1, "within_10_working_days": 1, "share_within_10_working_days": 1.0,
         "median_working_days": 0},
    ]  # fmt: skip
    assert [(row["group"], row["outcome"]) for row in by_agency["outcomes"]][3:] == [
        ("org-health", "early_help_assessment"),
        ("org-health", "no_further_action"),
        ("org-school", "signpost"),
    ]

    as_csv = await stack.assessment.get(REPORT, params=MAY, headers={**hub.headers, "Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert [(r["outcome"], r["decisions"]) for r in csv.DictReader(io.StringIO(as_csv.text))] == [
        ("early_help_assessment", "1"),
        ("no_further_action", "1"),
        ("signpost", "1"),
    ]

    # The health visitor's team counts the requests it made; the school, its own and the one allocated to it.
    assert (await _report(stack, health))["decided"] == 2
    assert [row["outcome"] for row in (await _report(stack, school))["outcomes"]] == [
        "early_help_assessment",
        "signpost",
    ]
    assert (await _report(stack, hub, **{"from": "2025-06-01", "to": "2025-06-30"}))["decided"] == 0

    unsupported = await stack.assessment.get(REPORT, params={"by": "level_of_need"}, headers=hub.headers)
    assert assert_problem(unsupported, 400, "unsupported-breakdown")["supported"] == ["agency"]
    no_scope = await stack.assessment.get(REPORT, headers=stack.organisation("org-hub", "council").headers)
    assert_problem(no_scope, 403, "insufficient-scope")

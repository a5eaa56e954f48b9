"""The front door's report: decisions by outcome and the share within 10 working days of the request, counted in
the working days of England (weekends and bank holidays left out), as wide as the caller may see, by agency or by
the family's locality, and narrowed to one locality."""

import csv
import io
import logging
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
    postcodes: tuple[str | None, ...] = (),
    **decision: Any,
) -> None:
    """A request `requester` submitted at `submitted`, decided by the hub at `decided`; the family's members, in
    order, live at `postcodes` (none recorded when left out)."""
    body = family_body(nhs_number)
    for member, postcode in zip(body["members"], postcodes, strict=False):
        if postcode is not None:
            member["postcode"] = postcode
    with monkeypatch.context() as clock:
        clock.setattr(assessments, "now", lambda: submitted)
        family = await stack.assessment.post("/families", json=body, headers=requester.headers)
        assert family.status_code == 201, family.text
        request_body = submitted_sample(family.json()["id"], "request-for-support")
        request = await stack.assessment.post("/assessments", json=request_body, headers=requester.headers)
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
    assert assert_problem(unsupported, 400, "unsupported-breakdown")["supported"] == ["agency", "locality"]
    no_scope = await stack.assessment.get(REPORT, headers=stack.organisation("org-hub", "council").headers)
    assert_problem(no_scope, 403, "insufficient-scope")


# The demo lookup places LS6 and LS7 in Northfield and LS8 in Eastgate; it places no YO postcode.
POSTCODES = ("YO1 7HH", "LS6 2AB", "LS8 1AA", "LS7 3AA")


async def test_by_locality_and_narrowed_to_one_the_family_is_placed_by_its_first_member_the_lookup_places(
    stack: ConsentStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what the services log; the database driver's debug lines echo every query
    hub = stack.organisation("org-hub", "council", READS_REPORTS, "duty-worker@hub", ("coordinator",))
    health = stack.organisation("org-health", "health", READS_REPORTS)
    school = stack.organisation("org-school", "school", READS_REPORTS)
    north, east, nowhere, north_in_june = nhs_numbers(4, start=943478000)
    # Northfield: the child's York postcode is placed nowhere, so the mother's LS6 places the family. 3 working days.
    await _decided(stack, monkeypatch, health, hub, north, datetime(2025, 5, 2, 10, tzinfo=UTC),
                   datetime(2025, 5, 8, 15, tzinfo=UTC), ("YO1 7HH", "LS6 2AB"), outcome="early_help_assessment",
                   allocated_organisation_id="org-school")  # fmt: skip
    # Eastgate: the child's LS8 comes first, whatever the mother's. 11 working days.
    await _decided(stack, monkeypatch, health, hub, east, datetime(2025, 5, 2, 11, tzinfo=UTC),
                   datetime(2025, 5, 20, 9, tzinfo=UTC), ("LS8 1AA", "LS6 2AB"),
                   outcome="no_further_action")  # fmt: skip
    # No postcode recorded: not_recorded. Decided the day it came, 0 working days.
    await _decided(stack, monkeypatch, school, hub, nowhere, datetime(2025, 5, 6, 9, tzinfo=UTC),
                   datetime(2025, 5, 6, 16, tzinfo=UTC), outcome="signpost")  # fmt: skip
    # Northfield again, but decided in June: outside May. Submitted Monday 2 June, decided Wednesday: 2 days.
    await _decided(stack, monkeypatch, school, hub, north_in_june, datetime(2025, 6, 2, 9, tzinfo=UTC),
                   datetime(2025, 6, 4, 9, tzinfo=UTC), ("LS7 3AA",), outcome="signpost")  # fmt: skip
    private = (*PRIVATE, *POSTCODES, "YO1", "LS6", "LS7", "LS8")

    by_place = await _report(stack, hub, by="locality")
    assert not any(postcode in by_place["definition"] for postcode in private)
    assert (by_place["by"], by_place["locality"], by_place["decided"], by_place["within_10_working_days"]) == (
        "locality", None, 3, 2,
    )  # fmt: skip
    assert by_place["groups"] == [
        {"group": "eastgate", "decided": 1, "within_10_working_days": 0, "share_within_10_working_days": 0.0,
         "median_working_days": 11},
        {"group": "northfield", "decided": 1, "within_10_working_days": 1, "share_within_10_working_days": 1.0,
         "median_working_days": 3},
        {"group": "not_recorded", "decided": 1, "within_10_working_days": 1, "share_within_10_working_days": 1.0,
         "median_working_days": 0},
    ]  # fmt: skip
    assert by_place["outcomes"] == [
        {"group": None, "outcome": "early_help_assessment", "decisions": 1},
        {"group": None, "outcome": "no_further_action", "decisions": 1},
        {"group": None, "outcome": "signpost", "decisions": 1},
        {"group": "eastgate", "outcome": "no_further_action", "decisions": 1},
        {"group": "northfield", "outcome": "early_help_assessment", "decisions": 1},
        {"group": "not_recorded", "outcome": "signpost", "decisions": 1},
    ]
    assert "first of its members" in by_place["definition"] and "not_recorded" in by_place["definition"]

    northfield = await _report(stack, hub, locality="northfield")
    assert (northfield["by"], northfield["locality"], northfield["groups"]) == (None, "northfield", [])
    assert (northfield["decided"], northfield["median_working_days"], northfield["outcomes"]) == (
        1, 3, [{"group": None, "outcome": "early_help_assessment", "decisions": 1}],
    )  # fmt: skip
    assert "first of its members" in northfield["definition"]
    june = await _report(stack, hub, locality="northfield", **{"from": "2025-06-01", "to": "2025-06-30"})
    assert (june["decided"], june["median_working_days"]) == (1, 2)
    # Narrowed and broken down by agency: Eastgate's one request, made by the health visitors.
    eastgate = await _report(stack, hub, locality="eastgate", by="agency")
    assert [(row["group"], row["decided"]) for row in eastgate["groups"]] == [("org-health", 1)]
    # The school sees its own request and the one allocated to it: Northfield's.
    assert (await _report(stack, school, locality="northfield"))["decided"] == 1
    assert (await _report(stack, school, locality="eastgate"))["decided"] == 0
    # A code the lookup does not have counts nothing, as in the plan service's reports.
    assert (await _report(stack, hub, locality="no-such-place"))["outcomes"] == []

    as_csv = await stack.assessment.get(
        REPORT, params={**MAY, "by": "locality"}, headers={**hub.headers, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200 and as_csv.text.splitlines() == [
        "group,outcome,decisions",
        ",early_help_assessment,1",
        ",no_further_action,1",
        ",signpost,1",
        "eastgate,no_further_action,1",
        "northfield,early_help_assessment,1",
        "not_recorded,signpost,1",
    ]
    too_long = await stack.assessment.get(REPORT, params={"locality": "x" * 41}, headers=hub.headers)
    assert_problem(too_long, 422, "validation-failed")
    assert not any(postcode in record.getMessage() for record in caplog.records for postcode in POSTCODES)

"""The Supporting Families ledger: a family joins on two or more headline areas of the council's outcomes plan, is
claimed for once per episode by significant and sustained progress or continuous employment, and the year's claims
are counted against the plan's target; kept by the family's council and a coordinator, audited and announced."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.plan.config import PlanSettings
from services.plan.main import create_app
from services.plan.outcomes_plan import DEMO_PLAN, OutcomesPlanInvalid
from services.plan.service.supporting_families import months_after
from tests.support.organisations import Organisation
from tests.support.plan import PlanStack, grant
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers
from tests.support.streams import published
from tests.support.waiting import eventually

NHS_NUMBERS = ("9434765919", "9434761018", "9434761026")
STARTED = "2025-01-06"  # the assessment started, so the plan and its first episode opened, on this day
EDUCATION, DOMESTIC_ABUSE, HOUSING = "education_and_attendance", "domestic_abuse", "housing"
ATTENDANCE = "attendance_at_least_90_percent"
NO_INCIDENTS = "no_further_incidents"
TENANCY = "tenancy_sustained"


def _coordinator(stack: PlanStack) -> Organisation:
    return stack.organisation("org-hub", roles=("coordinator",))


async def _planned(stack: PlanStack, council: Organisation, nhs_number: str = NHS_NUMBERS[0]) -> dict[str, Any]:
    """A family with an active plan of the council's, opened on `STARTED`."""
    family_id = await stack.family(council, nhs_number)
    await stack.submit(council, family_id, assessment_answers(started=STARTED))
    return await stack.active_plan(council, family_id, activated_on="2025-01-13")


async def _enrol(stack: PlanStack, who: Organisation, family_id: str, *areas: str, **more: Any) -> Any:
    body = {"family_id": family_id, "areas": list(areas), **more}
    return await stack.plans.post("/supporting-families/enrolments", json=body, headers=who.headers)


async def _enrolled(stack: PlanStack, who: Organisation, family_id: str, *areas: str, **more: Any) -> dict[str, Any]:
    response = await _enrol(stack, who, family_id, *areas, **more)
    assert response.status_code == 201, response.text
    enrolment: dict[str, Any] = response.json()
    return enrolment


async def _claim(stack: PlanStack, who: Organisation, enrolment_id: str, route: str, **evidence: Any) -> Any:
    body = {"enrolment_id": enrolment_id, "route": route, **evidence}
    return await stack.plans.post("/supporting-families/claims", json=body, headers=who.headers)


def _progress(area: str, indicator: str, achieved_on: str, sustained_until: str) -> dict[str, str]:
    return {"area": area, "indicator": indicator, "achieved_on": achieved_on, "sustained_until": sustained_until}


def _work(started_on: str, sustained_until: str) -> dict[str, Any]:
    return {"employment": {"started_on": started_on, "sustained_until": sustained_until}}


def _pointers(response: Any) -> list[str]:
    return [error["pointer"] for error in response.json()["errors"]]


async def _ledger(stack: PlanStack, who: Organisation, year: str) -> dict[str, Any]:
    response = await stack.plans.get("/supporting-families/claims", params={"year": year}, headers=who.headers)
    assert response.status_code == 200, response.text
    ledger: dict[str, Any] = response.json()
    return ledger


async def _announced(stack: PlanStack, event_type: str, family_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = [e for e in await published(stack, event_type) if e["family_id"] == family_id]
        return bool(found)

    await eventually(arrived)
    return found


async def _audited(stack: PlanStack, resource_id: str, count: int) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []

    async def recorded() -> bool:
        entries = await published(stack, "audit.recorded")
        found[:] = [(e["organisation_id"], e["action"], e["basis"]) for e in entries if e["resource_id"] == resource_id]
        return len(found) >= count

    await eventually(recorded)
    return found


async def test_a_family_joins_its_open_episode_on_two_or_more_headline_areas_of_the_outcomes_plan(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    plan = await _planned(plan_stack, council)
    family_id = plan["family_id"]

    one = await _enrol(plan_stack, council, family_id, EDUCATION)
    assert assert_problem(one, 422, "not-eligible")["minimum_areas"] == 2
    unknown = await _enrol(plan_stack, council, family_id, EDUCATION, "gardening")
    assert_problem(unknown, 422, "invalid-enrolment")
    assert _pointers(unknown) == ["/areas/1"]
    assert_problem(await _enrol(plan_stack, council, family_id, EDUCATION, EDUCATION), 422, "invalid-enrolment")
    early = await _enrol(plan_stack, council, family_id, EDUCATION, HOUSING, enrolled_on="2025-01-05")
    assert "2025-01-06" in assert_problem(early, 422, "invalid-enrolment")["detail"]  # type: ignore[operator]

    enrolment = await _enrolled(plan_stack, council, family_id, EDUCATION, HOUSING, enrolled_on="2025-01-20")
    assert enrolment == {
        "id": enrolment["id"],
        "family_id": family_id,
        "plan_id": plan["id"],
        "episode": 1,
        "areas": [EDUCATION, HOUSING],
        "enrolled_on": "2025-01-20",
        "organisation_id": "org-council",
        "claim_id": None,
    }
    again = await _enrol(plan_stack, council, family_id, EDUCATION, DOMESTIC_ABUSE)
    assert assert_problem(again, 409, "already-enrolled")["enrolment_id"] == enrolment["id"]
    listed = await plan_stack.plans.get(
        "/supporting-families/enrolments", params={"family_id": family_id}, headers=council.headers
    )
    assert (listed.status_code, listed.json()) == (200, [enrolment])

    (event,) = await _announced(plan_stack, "supporting_families.enrolled", family_id)
    assert event == {
        "enrolment_id": enrolment["id"],
        "family_id": family_id,
        "plan_id": plan["id"],
        "episode": 1,
        "organisation_id": "org-council",
    }
    assert await _audited(plan_stack, enrolment["id"], 1) == [("org-council", "create", "authorship")]

    # A family with no open plan has no episode to join in, even for the coordinator.
    unplanned = await plan_stack.family(council, NHS_NUMBERS[1])
    assert_problem(
        await _enrol(plan_stack, _coordinator(plan_stack), unplanned, EDUCATION, HOUSING), 409, "no-open-plan"
    )


async def test_significant_and_sustained_progress_is_evidenced_in_every_area_enrolled_for_its_months_and_claimed_once(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    plan = await _planned(plan_stack, council)
    family_id = plan["family_id"]
    enrolment = await _enrolled(plan_stack, council, family_id, EDUCATION, DOMESTIC_ABUSE, enrolled_on="2025-01-20")
    route = "significant_and_sustained"
    attendance = _progress(EDUCATION, ATTENDANCE, "2025-02-03", "2025-08-03")  # six months, the plan's rule

    missing = await _claim(plan_stack, council, enrolment["id"], route, outcomes=[attendance], claimed_on="2026-02-10")
    assert_problem(missing, 422, "claim-not-evidenced")
    assert _pointers(missing) == ["/outcomes"]
    assert DOMESTIC_ABUSE in missing.json()["detail"]

    six_months = _progress(DOMESTIC_ABUSE, NO_INCIDENTS, "2025-02-03", "2025-08-03")  # the area asks for twelve
    short = await _claim(
        plan_stack, council, enrolment["id"], route, outcomes=[attendance, six_months], claimed_on="2026-02-10"
    )
    assert_problem(short, 422, "claim-not-evidenced")
    assert _pointers(short) == ["/outcomes/1/sustained_until"]
    assert "12 months" in short.json()["errors"][0]["detail"]

    wrong = [
        _progress(EDUCATION, TENANCY, "2025-01-02", "2025-08-03"),  # another area's indicator, before the episode
        _progress(DOMESTIC_ABUSE, NO_INCIDENTS, "2025-02-03", "2026-03-01"),  # held past the day of the claim
        _progress(HOUSING, TENANCY, "2025-02-03", "2025-08-03"),  # an area the family was not enrolled on
    ]
    refused = await _claim(plan_stack, council, enrolment["id"], route, outcomes=wrong, claimed_on="2026-02-10")
    assert_problem(refused, 422, "claim-not-evidenced")
    assert _pointers(refused) == [
        "/outcomes/0/indicator",
        "/outcomes/0/achieved_on",
        "/outcomes/1/sustained_until",
        "/outcomes/2/area",
    ]
    with_work = await _claim(
        plan_stack, council, enrolment["id"], route, outcomes=[attendance], claimed_on="2026-02-10",
        **_work("2025-02-03", "2025-08-03"),
    )  # fmt: skip
    assert _pointers(with_work) == ["/employment"]
    future = await _claim(plan_stack, council, enrolment["id"], route, outcomes=[attendance], claimed_on="2099-01-01")
    assert "/claimed_on" in _pointers(future)

    held = _progress(DOMESTIC_ABUSE, NO_INCIDENTS, "2025-02-03", "2026-02-03")
    made = await _claim(
        plan_stack, council, enrolment["id"], route, outcomes=[attendance, held], claimed_on="2026-02-10"
    )
    assert made.status_code == 201, made.text
    claim = made.json()
    assert claim == {
        "id": claim["id"],
        "enrolment_id": enrolment["id"],
        "family_id": family_id,
        "plan_id": plan["id"],
        "episode": 1,
        "route": route,
        "outcomes": [attendance, held],
        "employment": None,
        "claimed_on": "2026-02-10",
        "financial_year": "2025-26",
        "payment": 800,
        "organisation_id": "org-council",
    }

    # Once per family and episode, whatever the route.
    second = await _claim(plan_stack, council, enrolment["id"], route, outcomes=[attendance, held])
    assert assert_problem(second, 409, "already-claimed")["claim_id"] == claim["id"]
    by_work = await _claim(
        plan_stack, council, enrolment["id"], "continuous_employment", **_work("2025-02-03", "2025-09-03")
    )
    assert_problem(by_work, 409, "already-claimed")
    listed = await plan_stack.plans.get(
        "/supporting-families/enrolments", params={"family_id": family_id}, headers=council.headers
    )
    assert [e["claim_id"] for e in listed.json()] == [claim["id"]]

    (event,) = await _announced(plan_stack, "supporting_families.claimed", family_id)
    assert event == {
        "claim_id": claim["id"],
        "enrolment_id": enrolment["id"],
        "family_id": family_id,
        "plan_id": plan["id"],
        "episode": 1,
        "organisation_id": "org-council",
        "route": route,
        "financial_year": "2025-26",
    }
    assert await _audited(plan_stack, claim["id"], 1) == [("org-council", "create", "authorship")]
    # The claim's attempts were audited against the enrolment, the refused ones rolled back with their requests.
    assert ("org-council", "claim", "authorship") in await _audited(plan_stack, enrolment["id"], 2)


async def test_continuous_employment_needs_the_plan_s_months_of_work_and_a_retried_claim_is_answered_once(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    plan = await _planned(plan_stack, council)
    enrolment = await _enrolled(plan_stack, council, plan["family_id"], HOUSING, "financial_stability_and_work")
    route = "continuous_employment"

    five_months = await _claim(plan_stack, council, enrolment["id"], route, **_work("2025-03-01", "2025-07-31"))
    assert_problem(five_months, 422, "claim-not-evidenced")
    assert _pointers(five_months) == ["/employment/sustained_until"]
    assert "6 months" in five_months.json()["detail"]
    before = await _claim(plan_stack, council, enrolment["id"], route, **_work("2024-12-01", "2025-09-01"))
    assert _pointers(before) == ["/employment/started_on"]
    no_work = await _claim(plan_stack, council, enrolment["id"], route)
    assert _pointers(no_work) == ["/employment"]
    progress = [_progress(HOUSING, TENANCY, "2025-02-03", "2025-08-03")]
    mixed = await _claim(
        plan_stack, council, enrolment["id"], route, outcomes=progress, **_work("2025-03-01", "2025-09-01")
    )
    assert _pointers(mixed) == ["/outcomes"]

    body = {"enrolment_id": enrolment["id"], "route": route, **_work("2025-03-01", "2025-09-01")}
    retried = {**council.headers, "Idempotency-Key": "claim-2025-0001"}
    first = await plan_stack.plans.post("/supporting-families/claims", json=body, headers=retried)
    again = await plan_stack.plans.post("/supporting-families/claims", json=body, headers=retried)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["route"] == route and first.json()["outcomes"] == []
    other = {**body, "claimed_on": "2025-12-01"}
    assert_problem(
        await plan_stack.plans.post("/supporting-families/claims", json=other, headers=retried),
        422,
        "idempotency-key-reused",
    )


async def test_the_year_s_claims_count_against_its_target_with_the_payment_due(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    other_council = plan_stack.organisation("org-other-council")
    hub = _coordinator(plan_stack)
    work = _work("2025-02-03", "2025-08-03")
    claims = []
    for nhs_number, claimed_on in zip(NHS_NUMBERS, ("2026-02-10", "2026-03-31", "2026-04-01"), strict=True):
        plan = await _planned(plan_stack, council, nhs_number)
        enrolment = await _enrolled(
            plan_stack, council, plan["family_id"], EDUCATION, HOUSING, enrolled_on="2025-01-20"
        )
        made = await _claim(
            plan_stack, council, enrolment["id"], "continuous_employment", claimed_on=claimed_on, **work
        )
        assert made.status_code == 201, made.text
        claims.append(made.json())
    assert [c["financial_year"] for c in claims] == ["2025-26", "2025-26", "2026-27"]

    ledger = await _ledger(plan_stack, hub, "2025-26")
    assert {k: v for k, v in ledger.items() if k != "claims"} == {
        "year": "2025-26",
        "starts_on": "2025-04-01",
        "ends_on": "2026-03-31",
        "target": 975,
        "claimed": 2,
        "by_route": {"significant_and_sustained": 0, "continuous_employment": 2},
        "share_of_target": 0.0021,
        "remaining_to_target": 973,
        "payment_per_claim": 800,
        "payment_due": 1600,
    }
    assert ledger["claims"] == claims[:2]
    assert [c["id"] for c in (await _ledger(plan_stack, council, "2026-27"))["claims"]] == [claims[2]["id"]]
    gloucestershire_year_one = await _ledger(plan_stack, hub, "2022-23")
    assert (gloucestershire_year_one["target"], gloucestershire_year_one["claimed"]) == (487, 0)
    untargeted = await _ledger(plan_stack, hub, "2019-20")
    assert (untargeted["target"], untargeted["share_of_target"], untargeted["remaining_to_target"]) == (
        None,
        None,
        None,
    )

    # A council reads the claims it made; another council's ledger holds none of them.
    assert (await _ledger(plan_stack, other_council, "2025-26"))["claims"] == []
    for year in ("2025-27", "2025", "20x5-26"):
        response = await plan_stack.plans.get("/supporting-families/claims", params={"year": year}, headers=hub.headers)
        assert_problem(response, 422, "validation-failed")
    # Every claim the coordinator read is in the access log, on its public task.
    assert ("org-hub", "read", "public_task") in await _audited(plan_stack, claims[0]["id"], 2)


async def test_only_the_family_s_council_and_a_coordinator_keep_its_supporting_families_records(
    plan_stack: PlanStack,
) -> None:
    school = plan_stack.organisation("org-school", "school")
    stranger = plan_stack.organisation("org-stranger-council")
    granted_council = plan_stack.organisation("org-granted-council")
    hub = _coordinator(plan_stack)
    plan = await _planned(plan_stack, school)  # the school wrote and leads the plan
    family_id = plan["family_id"]

    by_school = await _enrol(plan_stack, school, family_id, EDUCATION, HOUSING)
    assert "council" in assert_problem(by_school, 403, "not-the-council")["detail"]  # type: ignore[operator]
    by_stranger = await _enrol(plan_stack, stranger, family_id, EDUCATION, HOUSING)
    assert_problem(by_stranger, 403, "access-refused")
    assert family_id not in by_stranger.text
    unknown_family = await _enrol(plan_stack, stranger, "0f0e0d0c-0b0a-4908-8706-050403020100", EDUCATION, HOUSING)
    assert_problem(unknown_family, 403, "access-refused")

    enrolment = await _enrolled(plan_stack, hub, family_id, EDUCATION, HOUSING)
    assert enrolment["organisation_id"] == "org-hub"

    params = {"family_id": family_id}
    path = "/supporting-families/enrolments"
    assert_problem(await plan_stack.plans.get(path, params=params, headers=school.headers), 403, "not-the-council")
    assert_problem(await plan_stack.plans.get(path, params=params, headers=stranger.headers), 403, "access-refused")
    assert_problem(
        await _claim(
            plan_stack, stranger, enrolment["id"], "continuous_employment", **_work("2025-02-03", "2025-08-03")
        ),
        403,
        "access-refused",
    )

    # A council the school shares the family's plan with reads the enrolment, but a grant does not let it claim.
    await grant(plan_stack, school, family_id, categories=["plan"], recipient_organisations=[granted_council.id])

    async def reads() -> bool:
        response = await plan_stack.plans.get(path, params=params, headers=granted_council.headers)
        return response.status_code == 200 and [e["id"] for e in response.json()] == [enrolment["id"]]

    await eventually(reads)
    by_grantee = await _claim(
        plan_stack, granted_council, enrolment["id"], "continuous_employment", **_work("2025-02-03", "2025-08-03")
    )
    assert_problem(by_grantee, 403, "not-the-council")
    assert_problem(
        await plan_stack.plans.get("/supporting-families/claims", headers=school.headers), 403, "not-the-council"
    )
    # A coordinator claims; the refusals wrote nothing.
    made = await _claim(plan_stack, hub, enrolment["id"], "continuous_employment", **_work("2025-02-03", "2025-08-03"))
    assert made.status_code == 201, made.text
    assert [c["id"] for c in (await _ledger(plan_stack, hub, made.json()["financial_year"]))["claims"]] == [
        made.json()["id"]
    ]


async def test_the_claims_report_says_it_is_an_estimate_and_points_at_the_ledger(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    report = await plan_stack.plans.get("/reports/claims", headers=council.headers)
    assert report.status_code == 200, report.text
    assert report.json()["estimate"] is True
    assert report.json()["ledger"] == "/supporting-families/claims"
    assert "estimate" in report.json()["note"]
    outcomes = await plan_stack.plans.get("/supporting-families/outcomes-plan", headers=council.headers)
    assert outcomes.status_code == 200, outcomes.text
    areas = {area["key"]: area for area in outcomes.json()["headline_areas"]}
    assert (areas[EDUCATION]["sustained_months"], areas[DOMESTIC_ABUSE]["sustained_months"]) == (6, 12)
    assert outcomes.json()["targets"][:3] == [
        {"year": "2022-23", "families": 487},
        {"year": "2023-24", "families": 789},
        {"year": "2024-25", "families": 975},
    ]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda text: text.replace("minimum_areas: 2", "minimum_areas: two"), "/minimum_areas: 'two' is not of type"),
        (
            lambda text: text.replace("key: early_years", "key: education_and_attendance"),
            "'education_and_attendance' is listed twice",
        ),
        (lambda text: text.replace("{year: 2024-25", "{year: 2024-26"), "/targets/2/year"),
        (lambda text: text.replace("payment_per_claim: 800", "payment_per_claim: -800"), "/payment_per_claim"),
        (lambda text: text + "\n  - {year: 2022-23\n", "neither YAML nor JSON"),
    ],
)
def test_a_council_s_outcomes_plan_that_does_not_hold_together_stops_the_service_at_start(
    tmp_path: Path, change: Any, where: str
) -> None:
    broken = tmp_path / "outcomes-plan.yaml"
    broken.write_text(change(DEMO_PLAN.read_text()))
    with pytest.raises(OutcomesPlanInvalid) as stopped:
        create_app(PlanSettings(supporting_families_plan=broken))
    assert str(broken) in str(stopped.value)
    assert where in str(stopped.value)
    with pytest.raises(OutcomesPlanInvalid, match="cannot be read"):
        create_app(PlanSettings(supporting_families_plan=tmp_path / "missing.yaml"))


@pytest.mark.parametrize(
    ("achieved_on", "months", "held_until"),
    [
        (date(2025, 2, 3), 6, date(2025, 8, 3)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),  # no 31 February: the month's last day
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2025, 2, 3), 12, date(2026, 2, 3)),
        (date(9999, 12, 1), 6, date.max),  # beyond the calendar: no claim could be made after it
    ],
)
def test_progress_must_hold_to_the_same_day_months_later_or_that_month_s_last_day(
    achieved_on: date, months: int, held_until: date
) -> None:
    assert months_after(achieved_on, months) == held_until

"""Reports by place and people: the plan service keeps each family's locality and its children's age bands, sex and
ethnicity (read from the assessment service when a plan opens or reopens), breaks the plan reports down by them,
narrows them to a locality, and lists the localities with the council's child population. No reporting table and
no answer holds a name, date of birth, NHS number or postcode."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, inspect, select, text
from sqlmodel import col

from services.plan.models import AssessmentRecord, ReportingChild, ReportingFamily
from services.plan.service.reporting_profiles import fill_missing_profiles
from tests.support.organisations import Organisation
from tests.support.plan import EVERY_SCOPE, PlanStack
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers, nhs_numbers, submitted_sample
from tests.support.waiting import eventually

TODAY = date.today()


def _born(years: int) -> str:
    """A birth date `years` whole years (and ten days) before today, whatever today is."""
    return (TODAY - timedelta(days=365 * years + 10)).isoformat()


def _child(nhs: str, given: str, born: str | None, **details: str) -> dict[str, Any]:
    return {
        "role": "child",
        "given_name": given,
        "family_name": "Okafor",
        **({"date_of_birth": born} if born else {}),
        "identifiers": [{"system": "nhs", "value": nhs}],
        **details,
    }


A_NHS, A2_NHS, B_NHS, C_NHS = nhs_numbers(4, start=943477000)
# A: in LS6 (Northfield), a girl of 9 and a boy of 4; B: in LS8 (Eastgate), a girl of 17; C: nothing recorded.
FAMILIES = {
    "a": [
        _child(A_NHS, "Amara", _born(9), sex="female", ethnicity="white_british", postcode="LS6 2AB"),
        _child(A2_NHS, "Tobi", _born(4), sex="male", ethnicity="black_african"),
        {"role": "adult", "given_name": "Grace", "family_name": "Okafor", "postcode": "LS6 2AB"},
    ],
    "b": [_child(B_NHS, "Chidi", _born(17), sex="female", ethnicity="asian_indian", postcode="LS8 1AA")],
    "c": [_child(C_NHS, "Ife", None)],
}
PRIVATE = ("Amara", "Tobi", "Grace", "Chidi", "Ife", "Okafor", _born(9), _born(4), _born(17), "LS6", "LS8",
           A_NHS, A2_NHS, B_NHS, C_NHS)  # fmt: skip


def _council(stack: PlanStack) -> Organisation:
    return stack.organisation("org-council", scopes=f"{EVERY_SCOPE} reports:all")


async def _report(stack: PlanStack, who: Organisation, name: str, **params: str) -> dict[str, Any]:
    response = await stack.plans.get(f"/reports/{name}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    assert not any(private in response.text for private in PRIVATE)
    report: dict[str, Any] = response.json()
    return report


async def _profiled(stack: PlanStack, families: int) -> None:
    async def kept() -> bool:
        async with stack.plan_app.state.database.sessionmaker() as session:
            return bool(await session.scalar(select(func.count()).select_from(ReportingFamily)) == families)

    await eventually(kept)


async def _family_a_profiled_today(stack: PlanStack, family_id: str) -> None:
    """Family A's profile as its events would keep it today: Northfield, a boy of 4 and a girl of 9."""
    async with stack.plan_app.state.database.sessionmaker() as session:
        kept = await session.get(ReportingFamily, family_id)
        children = (
            await session.scalars(select(ReportingChild).where(col(ReportingChild.family_id) == family_id))
        ).all()
    assert kept is not None and (kept.locality_code, kept.profiled_on) == ("northfield", TODAY)
    assert sorted((c.age_band, c.sex, c.ethnicity) for c in children) == [
        ("1_to_4", "male", "black_african"),
        ("5_to_9", "female", "white_british"),
    ]


async def _active_plans(stack: PlanStack, council: Organisation) -> dict[str, dict[str, Any]]:
    plans = {}
    for name, members in FAMILIES.items():
        response = await stack.assessment.post("/families", json={"members": members}, headers=council.headers)
        assert response.status_code == 201, response.text
        family_id = response.json()["id"]
        await stack.submit(council, family_id)
        plans[name] = await stack.active_plan(council, family_id)
    await _profiled(stack, len(FAMILIES))
    return plans


def _groups(report: dict[str, Any], *counts: str) -> dict[str, tuple[int, ...]]:
    return {row["group"]: tuple(row[count] for count in counts) for row in report["groups"]}


async def test_open_work_by_locality_and_by_a_childs_breakdown_and_narrowed_to_a_locality(
    plan_stack: PlanStack,
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    await _active_plans(stack, council)

    by_place = await _report(stack, council, "open-work", by="locality")
    assert (by_place["plans"], by_place["families"], by_place["children"]) == (3, 3, 4)
    assert _groups(by_place, "plans", "families", "children") == {
        "eastgate": (1, 1, 1),
        "northfield": (1, 1, 2),  # A's two children
        "not_recorded": (1, 1, 1),  # C has no postcode
    }
    assert "By locality, a group counts the plans" in by_place["definition"]

    # Each child in their band: A's plan is in two groups, so the groups' plans (4) add up to more than the total.
    by_age = await _report(stack, council, "open-work", by="age_band")
    assert (by_age["plans"], by_age["children"]) == (3, 4)
    assert _groups(by_age, "plans", "children") == {
        "1_to_4": (1, 1),
        "5_to_9": (1, 1),
        "16_to_17": (1, 1),
        "not_recorded": (1, 1),  # Ife's birth date is not recorded
    }
    assert "add up to more than the total" in by_age["definition"]

    northfield = await _report(stack, council, "open-work", by="sex", locality="northfield")
    assert (northfield["plans"], northfield["families"], northfield["children"]) == (1, 1, 2)
    assert _groups(northfield, "plans", "children") == {"female": (1, 1), "male": (1, 1)}

    nowhere = await _report(stack, council, "open-work", locality="no-such-place")
    assert (nowhere["plans"], nowhere["children"], nowhere["groups"]) == (0, 0, [])

    rows = await stack.plans.get(
        "/reports/open-work", params={"by": "locality"}, headers={**council.headers, "Accept": "text/csv"}
    )
    assert rows.status_code == 200 and rows.text.splitlines() == [
        "group,plans,families,children",
        ",3,3,4",
        "eastgate,1,1,1",
        "northfield,1,1,2",
        "not_recorded,1,1,1",
    ]


async def test_reviews_overdue_by_ethnicity_counts_children_and_by_locality_plans(plan_stack: PlanStack) -> None:
    stack, council = plan_stack, _council(plan_stack)
    await _active_plans(stack, council)

    by_ethnicity = await _report(stack, council, "reviews-overdue", by="ethnicity")
    assert {row["group"]: row["active"] for row in by_ethnicity["rows"]} == {
        "asian_indian": 1,
        "black_african": 1,
        "white_british": 1,
        "not_recorded": 1,
    }
    assert by_ethnicity["active"] == 4 and "it counts children" in by_ethnicity["definition"]

    by_place = await _report(stack, council, "reviews-overdue", by="locality")
    assert {row["group"]: row["active"] for row in by_place["rows"]} == {
        "eastgate": 1,
        "northfield": 1,
        "not_recorded": 1,
    }
    assert by_place["active"] == 3 and "it counts plans" in by_place["definition"]
    eastgate = await _report(stack, council, "reviews-overdue", locality="eastgate")
    assert (eastgate["active"], [row["group"] for row in eastgate["rows"]]) == (1, ["org-council"])


async def test_closures_and_time_to_plan_give_their_groups_beside_totals_that_count_each_plan_once(
    plan_stack: PlanStack,
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    plans = await _active_plans(stack, council)
    await stack.change(council, plans["a"], "/close", {"reason": "outcomes_met"})  # Northfield: a girl and a boy
    await stack.change(council, plans["b"], "/close", {"reason": "family_disengaged"})  # Eastgate: a girl

    by_place = await _report(stack, council, "closures", by="locality")
    assert (by_place["by"], by_place["closed"], by_place["share_outcomes_met"]) == ("locality", 2, 0.5)
    assert by_place["groups"] == [
        {"group": "eastgate", "closed": 1, "by_reason": [{"reason": "family_disengaged", "plans": 1}],
         "share_outcomes_met": 0.0},
        {"group": "northfield", "closed": 1, "by_reason": [{"reason": "outcomes_met", "plans": 1}],
         "share_outcomes_met": 1.0},
    ]  # fmt: skip
    assert "it counts plans" in by_place["definition"]
    # By sex each child counts in their group: A's plan is in both, yet the total counts it once.
    by_sex = await _report(stack, council, "closures", by="sex")
    assert by_sex["closed"] == 2 and "each plan once" in by_sex["definition"]
    assert {row["group"]: (row["closed"], row["share_outcomes_met"]) for row in by_sex["groups"]} == {
        "female": (2, 0.5),
        "male": (1, 1.0),
    }
    as_csv = await stack.plans.get(
        "/reports/closures", params={"by": "locality"}, headers={**council.headers, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200 and as_csv.text.splitlines() == [
        "group,reason,plans",
        "eastgate,family_disengaged,1",
        "northfield,outcomes_met,1",
    ]
    northfield = await _report(stack, council, "closures", locality="northfield")
    assert (northfield["closed"], northfield["by_reason"], northfield["groups"]) == (
        1, [{"reason": "outcomes_met", "plans": 1}], []
    )  # fmt: skip

    everyone = await _report(stack, council, "time-to-plan")
    by_age = await _report(stack, council, "time-to-plan", by="age_band")
    assert (everyone["by"], everyone["groups"], by_age["plans_activated"]) == (None, [], 3)
    # The three plans waited alike (opened on one day, activated today), so each group of one waited as all did.
    waited = {key: everyone[key] for key in ("median_working_days", "share_within_10_working_days")}
    within = everyone["within_10_working_days"] // 3
    assert by_age["groups"] == [
        {"group": group, "plans_activated": 1, "within_10_working_days": within, **waited}
        for group in ("16_to_17", "1_to_4", "5_to_9", "not_recorded")
    ]

    refused = await stack.plans.get("/reports/closures", params={"by": "postcode"}, headers=council.headers)
    assert refused.status_code == 400 and refused.json()["supported"] == sorted(
        ["level_of_need", "lead_agency", "agency", "locality", "age_band", "sex", "ethnicity"]
    )


async def test_the_localities_are_the_councils_with_their_child_population(plan_stack: PlanStack) -> None:
    stack, council = plan_stack, _council(plan_stack)
    assert await _report(stack, council, "localities") == {
        "localities": [
            {"code": "eastgate", "name": "Eastgate", "children": 15320},
            {"code": "northfield", "name": "Northfield", "children": 12400},
            {"code": "riverside", "name": "Riverside", "children": 8150},
            {"code": "southmoor", "name": "Southmoor", "children": 11875},
            {"code": "westmoor", "name": "Westmoor", "children": 9730},
        ]
    }


async def test_a_reopened_plan_reads_the_familys_profile_again(plan_stack: PlanStack) -> None:
    stack, council = plan_stack, _council(plan_stack)
    plans = await _active_plans(stack, council)
    family_id = plans["a"]["family_id"]
    closed = await stack.change(council, plans["a"], "/close", {"reason": "outcomes_met"})
    async with stack.plan_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(delete(ReportingChild).where(col(ReportingChild.family_id) == family_id))
        await session.execute(delete(ReportingFamily).where(col(ReportingFamily.family_id) == family_id))

    await stack.change(council, closed, "/reopen", {"reason": "The family asked for help again."})
    await _profiled(stack, 3)
    await _family_a_profiled_today(stack, family_id)


async def test_families_recorded_before_profiles_were_read_are_profiled_at_start_and_placed_in_the_reports(
    plan_stack: PlanStack,
) -> None:
    """A's plan opened before the reports kept profiles (its rows removed here, as an upgraded council's records have
    none), and an assessment of a family the assessment service does not know: the fill run at start profiles A as
    its opening's event would have, passes the unknown family over, and ends."""
    stack, council = plan_stack, _council(plan_stack)
    plans = await _active_plans(stack, council)
    family_id = plans["a"]["family_id"]
    before = await _report(stack, council, "open-work", by="locality")
    async with stack.plan_app.state.database.sessionmaker() as session, session.begin():
        await session.execute(delete(ReportingChild).where(col(ReportingChild.family_id) == family_id))
        await session.execute(delete(ReportingFamily).where(col(ReportingFamily.family_id) == family_id))
        session.add(
            AssessmentRecord(
                assessment_id=str(uuid.uuid4()),
                family_id=str(uuid.uuid4()),
                organisation_id="org-council",
                organisation_type="council",
                form_key="early-help-assessment",
                started_at=datetime.now(UTC),
            )
        )
    unplaced = await _report(stack, council, "open-work", by="locality")
    assert _groups(unplaced, "plans") == {"eastgate": (1,), "not_recorded": (2,)}  # A placed nowhere

    app = stack.plan_app
    assert await fill_missing_profiles(app.state.database, app.state.findings) == 1
    await _family_a_profiled_today(stack, family_id)
    assert await _report(stack, council, "open-work", by="locality") == before
    assert await fill_missing_profiles(app.state.database, app.state.findings) == 0  # nothing left but the unknown


async def test_no_reporting_table_or_answer_holds_a_name_birth_date_nhs_number_or_postcode(
    plan_stack: PlanStack,
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    await _active_plans(stack, council)
    async with stack.plan_app.state.database.sessionmaker() as session:
        columns = await session.run_sync(
            lambda sync: {
                table: {column["name"] for column in inspect(sync.connection()).get_columns(table)}
                for table in ("reporting_family", "reporting_child")
            }
        )
        rows = [
            [str(value) for value in row]
            for table in columns
            for row in (await session.execute(text(f"SELECT * FROM {table}"))).all()  # the two names above
        ]
    assert columns == {
        "reporting_family": {"family_id", "locality_code", "locality_name", "profiled_on", "refreshed_at"},
        "reporting_child": {"family_id", "position", "age_band", "sex", "ethnicity"},
    }
    assert len(rows) == 3 + 4
    assert not any(private in value for row in rows for value in row for private in PRIVATE)
    for name in ("open-work", "reviews-overdue", "plan-duration", "distance-travelled", "re-referrals"):
        for by in ("locality", "age_band", "sex", "ethnicity"):
            await _report(stack, council, name, by=by)  # each answer is scanned for them
    every_report = ("assessments-started", "time-to-plan", "closures", "re-referrals", "open-work", "plan-duration",
                    "reviews-overdue", "distance-travelled", "step-down-outcomes", "caseload", "claims",
                    "referral-sources", "needs-profile", "localities")  # fmt: skip
    for name in every_report:
        await _report(stack, council, name, locality="northfield")


async def test_assessments_started_give_shares_and_rates_per_10000_children_overall_and_by_locality(
    plan_stack: PlanStack,
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    await _active_plans(stack, council)  # one assessment each for A (Northfield), B (Eastgate) and C (nowhere)
    population = 8150 + 12400 + 15320 + 11875 + 9730  # the demo council's children, every locality

    started = await _report(stack, council, "assessments-started")
    assert (started["total"], started["children"]) == (3, population)
    assert started["rate_per_10000_children"] == round(3 * 10_000 / population, 1) == 0.5
    assert started["by_organisation"] == [
        {"organisation_type": "council", "organisation_id": "org-council", "started": 3, "share": 1.0}
    ]
    assert {row["locality"]: (row["started"], row["share"], row["rate_per_10000_children"])
            for row in started["by_locality"]} == {
        "eastgate": (1, 0.3333, 0.7),  # 10,000 / 15,320 = 0.65
        "northfield": (1, 0.3333, 0.8),  # 10,000 / 12,400 = 0.81
        "riverside": (0, 0.0, 0.0),
        "southmoor": (0, 0.0, 0.0),
        "westmoor": (0, 0.0, 0.0),
        "not_recorded": (1, 0.3333, None),  # no population to divide by
    }  # fmt: skip
    assert "per 10,000 children" in started["definition"]

    northfield = await _report(stack, council, "assessments-started", locality="northfield")
    assert (northfield["total"], northfield["children"], northfield["rate_per_10000_children"]) == (1, 12400, 0.8)
    assert [row["locality"] for row in northfield["by_locality"]] == ["northfield"]


async def test_referral_sources_give_each_groups_plans_by_source_beside_totals_that_count_each_plan_once(
    plan_stack: PlanStack,
) -> None:
    stack, council = plan_stack, _council(plan_stack)
    families = {}
    for name, members in FAMILIES.items():
        response = await stack.assessment.post("/families", json={"members": members}, headers=council.headers)
        assert response.status_code == 201, response.text
        families[name] = response.json()["id"]
    # Today A (Northfield) asked for support first and B (Eastgate) was assessed by an agency. C (no locality) was
    # assessed by an agency in February 2025, outside the period, and its plan stepped up and down again today.
    request = await stack.assessment.post(
        "/assessments", json=submitted_sample(families["a"], "request-for-support"), headers=council.headers
    )
    assert request.status_code == 201, request.text
    for name in ("a", "b"):
        await stack.submit(council, families[name], assessment_answers(started=TODAY.isoformat()))
    await stack.submit(council, families["c"], assessment_answers(started="2025-02-17"))
    stepped_up = await stack.change(
        council,
        await stack.active_plan(council, families["c"], activated_on=TODAY.isoformat()),
        "/step-up",
        {"reason": "Strategy discussion.", "stepped_up_on": TODAY.isoformat()},
    )
    await stack.change(council, stepped_up, "/step-down", {})
    for name in ("a", "b"):
        await stack.opened_plan(council, families[name])
    await _profiled(stack, len(FAMILIES))
    today = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}

    by_place = await _report(stack, council, "referral-sources", by="locality", **today)
    assert (by_place["by"], by_place["plans_opened"], by_place["requests_for_support"]) == ("locality", 3, 1)
    assert by_place["plan_sources"] == [
        {"source": "agency_assessment", "count": 1, "share": 0.3333},
        {"source": "front_door_request", "count": 1, "share": 0.3333},
        {"source": "step_down_from_social_care", "count": 1, "share": 0.3333},
    ]
    assert by_place["groups"] == [
        {"group": "eastgate", "plans_opened": 1,
         "plan_sources": [{"source": "agency_assessment", "count": 1, "share": 1.0}]},
        {"group": "northfield", "plans_opened": 1,
         "plan_sources": [{"source": "front_door_request", "count": 1, "share": 1.0}]},
        {"group": "not_recorded", "plans_opened": 1,
         "plan_sources": [{"source": "step_down_from_social_care", "count": 1, "share": 1.0}]},
    ]  # fmt: skip
    assert by_place["request_sources"] == [{"source": "council", "count": 1, "share": 1.0}]  # not broken down
    assert "it counts plans" in by_place["definition"] and "each plan once" in by_place["definition"]

    # By age band each child counts in their band: A's plan is in two groups, yet the total counts it once.
    by_age = await _report(stack, council, "referral-sources", by="age_band", **today)
    assert (by_age["plans_opened"], "it counts children" in by_age["definition"]) == (3, True)
    assert {row["group"]: (row["plans_opened"], [(s["source"], s["count"]) for s in row["plan_sources"]])
            for row in by_age["groups"]} == {
        "1_to_4": (1, [("front_door_request", 1)]),
        "5_to_9": (1, [("front_door_request", 1)]),
        "16_to_17": (1, [("agency_assessment", 1)]),
        "not_recorded": (1, [("step_down_from_social_care", 1)]),  # Ife: no birth date
    }  # fmt: skip

    northfield = await _report(stack, council, "referral-sources", by="agency", locality="northfield", **today)
    assert (northfield["locality"], northfield["plans_opened"], northfield["requests_for_support"]) == (
        "northfield", 1, 1,
    )  # fmt: skip
    assert northfield["groups"] == [
        {"group": "org-council", "plans_opened": 1,
         "plan_sources": [{"source": "front_door_request", "count": 1, "share": 1.0}]},
    ]  # fmt: skip
    eastgate = await _report(stack, council, "referral-sources", locality="eastgate", **today)
    assert (eastgate["by"], eastgate["plans_opened"], eastgate["requests_for_support"], eastgate["groups"]) == (
        None, 1, 0, [],
    )  # fmt: skip
    # C's first plan counts in February 2025, when it opened, and the request of today not at all.
    february = await _report(
        stack, council, "referral-sources", by="locality", **{"from": "2025-02-01", "to": "2025-02-28"}
    )
    assert (february["plans_opened"], february["requests_for_support"]) == (1, 0)
    assert february["groups"] == [
        {"group": "not_recorded", "plans_opened": 1,
         "plan_sources": [{"source": "agency_assessment", "count": 1, "share": 1.0}]},
    ]  # fmt: skip

    as_csv = await stack.plans.get(
        "/reports/referral-sources",
        params={"by": "locality", **today},
        headers={**council.headers, "Accept": "text/csv"},
    )
    assert as_csv.status_code == 200 and as_csv.text.splitlines() == [
        "group,counted,source,count,share",
        ",plans,agency_assessment,1,0.3333",
        ",plans,front_door_request,1,0.3333",
        ",plans,step_down_from_social_care,1,0.3333",
        "eastgate,plans,agency_assessment,1,1.0",
        "northfield,plans,front_door_request,1,1.0",
        "not_recorded,plans,step_down_from_social_care,1,1.0",
        ",requests_for_support,council,1,1.0",
    ]
    refused = await stack.plans.get("/reports/referral-sources", params={"by": "postcode"}, headers=council.headers)
    assert assert_problem(refused, 400, "unsupported-breakdown")["supported"] == sorted(
        ["level_of_need", "lead_agency", "agency", "locality", "age_band", "sex", "ethnicity"]
    )

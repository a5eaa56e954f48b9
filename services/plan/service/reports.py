"""The measures councils publish, counted from the plans and the assessments this service has seen.

A report is as wide as the caller's organisation may see by right of the plans
themselves (it leads, wrote or is on the team of a plan; for assessments, it
wrote them) unless the caller holds `reports:all`. Dates are practice dates: a
plan counts in the period in which it was activated or closed, as
practitioners recorded it. Each report answers its model and its rows (the
CSV form).
"""

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.breakdowns import breakdown
from services.kit.clock import now
from services.plan import repository
from services.plan.population import LocalityPopulation
from services.plan.schemas import (
    AssessmentsStarted,
    Caseload,
    CaseloadRow,
    ClaimCandidate,
    Claims,
    ClosureRow,
    Closures,
    DistanceTravelled,
    DurationRow,
    Localities,
    LocalityRow,
    Measure,
    MovementRow,
    NeedRow,
    NeedsProfile,
    OpenWork,
    OpenWorkRow,
    OverdueRow,
    Period,
    PlanDuration,
    ReasonRow,
    ReferralSources,
    ReReferrals,
    ReviewsOverdue,
    SourceGroupRow,
    SourceRow,
    StartedByType,
    StartedInLocality,
    StartedRow,
    StepDownOutcomes,
    StepDownRow,
    TimeToPlan,
    WaitRow,
)
from services.plan.transitions import STEPPED_UP

SIX_WEEKS = timedelta(weeks=6)
SIX_MONTHS = timedelta(days=183)
TWELVE_MONTHS = timedelta(days=365)
OUTCOMES_MET = "outcomes_met"
WORKING_DAYS_TARGET = 10
CLAIM_MINIMUM_OUTCOME_AREAS = 3

Answer = tuple[BaseModel, list[dict[str, Any]]]


def _visible_to(principal: Principal) -> str | None:
    """The organisation whose plans count; None, all of them, with `reports:all`."""
    return None if "reports:all" in principal.scopes else principal.organisation_id


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# The breakdowns a report of plans can give: columns of the plan, the family's locality, or its children's age
# band, sex and ethnicity from the read model (`repository.BREAKDOWNS`).
BY_PLAN = tuple(repository.BREAKDOWNS)
NOT_RECORDED = "not_recorded"
COUNTS_PLANS = (
    " Without a breakdown, or by level_of_need, lead_agency, agency or locality (the family's, from the council's "
    "postcode lookup), it counts plans."
)
COUNTS_CHILDREN = (
    " By age_band (on the day the plan last opened), sex or ethnicity (the Census category) it counts children: "
    "each plan counts once for each child of its family, in that child's group, so the groups add up to more "
    "than the plans; a family not yet profiled counts once, under not_recorded."
)


# A report whose totals stay those of everyone counted when it is broken down, its groups given beside them.
TOTALS_BESIDE_GROUPS = " Its totals count each plan once whatever the breakdown; its groups beside them:"


def _counting(definition: str, by: str | None) -> str:
    """A report's definition, with what its breakdown counts: plans or children."""
    return definition + (COUNTS_CHILDREN if by in repository.CHILD_BREAKDOWNS else COUNTS_PLANS)


def _label(group: str | None) -> str:
    """A group's name in an answer: a plan without the value (no level of need yet) is `not_recorded`."""
    return group if group is not None else NOT_RECORDED


def _groups_first_everyone(item: tuple[str | None, object]) -> tuple[bool, str]:
    return (item[0] is not None, item[0] or "")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _median(counts: Mapping[int, int]) -> float | None:
    """The median of values given as how many times each occurs, as `statistics.median` gives it over the values
    themselves (the middle value, or the mean of the two middle ones): the database counts tens of thousands of
    rows into a few hundred values, and `statistics` has no median of counted values."""
    n = sum(counts.values())
    if not n:
        return None
    middle: list[int] = []
    seen = 0
    for value, times in sorted(counts.items()):
        seen += times
        # the values at positions (n - 1) // 2 and n // 2 of the sorted list: one value for odd n, two for even
        while len(middle) < 2 and seen > ((n - 1) // 2 if not middle else n // 2):
            middle.append(value)
    return middle[0] if n % 2 else (middle[0] + middle[1]) / 2


ASSESSMENTS_STARTED = (
    "Assessments of the form started in the period (by when they were started), per type of organisation and per "
    "organisation that started them, each with its share of the total; and per locality of the family (from the "
    "council's postcode lookup; a family whose postcode it does not place is not_recorded). The rate per 10,000 "
    "children is the assessments started over the council's child population (of the locality asked for, or of "
    "all its localities), times 10,000; a locality the council gives no population for has none."
)


def _rate(part: int, children: int | None) -> float | None:
    return round(part * 10_000 / children, 1) if children else None


async def assessments_started(
    session: AsyncSession,
    principal: Principal,
    period: Period,
    form_key: str,
    population: Mapping[str, LocalityPopulation],
    locality: str | None,
) -> Answer:
    """Assessments started in the period, per organisation type, per organisation and per locality, with shares
    and rates per 10,000 children."""
    started = await repository.assessments_started(
        session,
        _visible_to(principal),
        form_key,
        _midnight(period.start),
        _midnight(period.end + timedelta(days=1)),
        locality,
    )
    by_organisation: Counter[tuple[str, str]] = Counter()
    by_type: Counter[str] = Counter()
    by_locality: Counter[str] = Counter({code: 0 for code in population if locality in (None, code)})
    for row in started:
        by_organisation[(row.organisation_type, row.organisation_id)] += row.started
        by_type[row.organisation_type] += row.started
        by_locality[_label(row.locality)] += row.started
    total = by_organisation.total()
    children = (
        sum(place.children for place in population.values()) or None
        if locality is None
        else (population[locality].children if locality in population else None)
    )
    places = [
        StartedInLocality(
            locality=code,
            started=n,
            share=_share(n, total),
            children=population[code].children if code in population else None,
            rate_per_10000_children=_rate(n, population[code].children if code in population else None),
        )
        for code, n in sorted(by_locality.items())
    ]
    rows = [
        StartedRow(organisation_type=t, organisation_id=o, started=n, share=_share(n, total))
        for (t, o), n in sorted(by_organisation.items())
    ]
    report = AssessmentsStarted(
        period=period,
        form_key=form_key,
        locality=locality,
        definition=ASSESSMENTS_STARTED,
        total=total,
        children=children,
        rate_per_10000_children=_rate(total, children),
        by_organisation_type=[
            StartedByType(organisation_type=t, started=n, share=_share(n, total)) for t, n in sorted(by_type.items())
        ],
        by_organisation=rows,
        by_locality=places,
    )
    return report, [row.model_dump() for row in rows]


TIME_TO_PLAN = (
    "Plans activated in the period (by the day practitioners recorded): the working days from the family's request "
    "for support (or, without one, the plan's opening) to the plan's activation, as working days after the first "
    "day up to and including the last, weekends and the bank holidays of England and Wales left out; the median "
    "and the share within 10 are in that one unit. The time from a request to the front door's offer of help is "
    "the front door's report (/reports/front-door)."
)


def _waited(plans: Mapping[int, int]) -> dict[str, Any]:
    """The counts of plans that waited each number of working days, as the measures of `WaitRow`."""
    activated = sum(plans.values())
    within = sum(n for days, n in plans.items() if days <= WORKING_DAYS_TARGET)
    return {
        "plans_activated": activated,
        "median_working_days": _median(plans),
        "within_10_working_days": within,
        "share_within_10_working_days": _share(within, activated),
    }


async def time_to_plan(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """Of plans activated in the period: median working days from the request for support; share within 10."""
    by = breakdown(by, BY_PLAN)
    visible_to, start, end = _visible_to(principal), period.start, period.end
    everyone = await repository.activated_plans(session, visible_to, start, end, None, locality)
    groups: dict[str, Counter[int]] = defaultdict(Counter)
    for row in await repository.activated_plans(session, visible_to, start, end, by, locality) if by else []:
        groups[_label(row.group)][row.working_days] += row.plans
    rows = [WaitRow(group=group, **_waited(plans)) for group, plans in sorted(groups.items())]
    report = TimeToPlan(
        period=period,
        by=by,
        locality=locality,
        definition=_counting(TIME_TO_PLAN + TOTALS_BESIDE_GROUPS, by) if by else TIME_TO_PLAN,
        **_waited({row.working_days: row.plans for row in everyone}),
        groups=rows,
    )
    if by:
        return report, [row.model_dump() for row in rows]
    return report, [report.model_dump(exclude={"period", "by", "definition", "groups"})]


CLOSURES = (
    "Episodes closed in the period (by the day practitioners recorded; discarded drafts aside) by close reason, "
    "and the share closed with outcomes met: a plan closed, reopened and closed again counts twice."
)


def _closed(reasons: Mapping[str, int]) -> dict[str, Any]:
    """The counts of episodes closed for each reason, as the measures of `ClosureRow`."""
    closed = sum(reasons.values())
    return {
        "closed": closed,
        "by_reason": [ReasonRow(reason=reason, plans=n) for reason, n in sorted(reasons.items())],
        "share_outcomes_met": _share(reasons.get(OUTCOMES_MET, 0), closed),
    }


async def closures(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """Episodes of plans closed in the period by reason, and the share closed with outcomes met."""
    by = breakdown(by, BY_PLAN)
    visible_to, start, end = _visible_to(principal), period.start, period.end
    everyone = await repository.close_reasons(session, visible_to, start, end, None, locality)
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for row in await repository.close_reasons(session, visible_to, start, end, by, locality) if by else []:
        groups[_label(row.group)][row.close_reason] += row.episodes
    rows = [ClosureRow(group=group, **_closed(reasons)) for group, reasons in sorted(groups.items())]
    report = Closures(
        period=period,
        by=by,
        locality=locality,
        definition=_counting(CLOSURES + TOTALS_BESIDE_GROUPS, by) if by else CLOSURES,
        **_closed({row.close_reason: row.episodes for row in everyone}),
        groups=rows,
    )
    if by:
        return report, [{"group": row.group, **reason.model_dump()} for row in rows for reason in row.by_reason]
    return report, [row.model_dump() for row in report.by_reason]


def _windows(cohort: Sequence[tuple[date, date | None]], span: timedelta, today: date) -> tuple[int, bool]:
    """Of (closed_on, next return) pairs: how many returned within `span` of the closure; whether every window
    has passed."""
    returned = sum(1 for closed_on, back in cohort if back is not None and back <= closed_on + span)
    return returned, all(closed_on + span <= today for closed_on, _ in cohort)


def _measure(
    name: str, definition: str, group: str | None, cohort: Sequence[tuple[date, date | None]], span: timedelta
) -> Measure:
    returned, complete = _windows(cohort, span, now().date())
    return Measure(
        measure=name,
        group=group,
        numerator=returned,
        denominator=len(cohort),
        share=_share(returned, len(cohort)),
        complete=complete,
        definition=definition,
    )


RE_REFERRALS = (
    "Of the early help episodes closed in the period, those closed by a step-up to social care aside (the family "
    "stayed open to social care): the share whose family had early help again (a new plan, or the plan reopened) "
    "within 6 and within 12 months of the closure, and, counted separately, the share referred to children's "
    "social care (from any source) within 6 weeks and within 6 months of the closure."
)
# (measure, its definition, which return it counts, the window)
RE_REFERRAL_MEASURES = (
    ("early_help_within_6_months", "Closed episodes whose family opened an early help episode (a new plan or a "
     "reopening) within 183 days of the closure, over the episodes closed.", "episode", SIX_MONTHS),
    ("early_help_within_12_months", "Closed episodes whose family opened an early help episode (a new plan or a "
     "reopening) within 365 days of the closure, over the episodes closed.", "episode", TWELVE_MONTHS),
    ("social_care_within_6_weeks", "Closed episodes whose family was referred to children's social care within "
     "42 days of the closure, over the episodes closed.", "referral", SIX_WEEKS),
    ("social_care_within_6_months", "Closed episodes whose family was referred to children's social care within "
     "183 days of the closure, over the episodes closed.", "referral", SIX_MONTHS),
)  # fmt: skip


async def re_referrals(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """Re-referrals to early help within 6 and 12 months, and referrals to social care within 6 weeks and 6
    months, of the episodes closed in the period."""
    by = breakdown(by, BY_PLAN)
    rows = await repository.closures_and_returns(
        session, _visible_to(principal), period.start, period.end, by, locality
    )
    cohort = [row for row in rows if row.close_reason != STEPPED_UP]
    groups: dict[str | None, list[repository.AfterClosure]] = {None: cohort}
    if by:
        for row in cohort:
            groups.setdefault(_label(row.group), []).append(row)
    measures = [
        _measure(
            name,
            definition,
            group,
            [(row.closed_on, row.next_episode if counts == "episode" else row.next_referral) for row in members],
            span,
        )
        for group, members in sorted(groups.items(), key=_groups_first_everyone)
        for name, definition, counts, span in RE_REFERRAL_MEASURES
    ]
    report = ReReferrals(
        period=period,
        by=by,
        definition=_counting(RE_REFERRALS, by),
        closed=len(cohort),
        stepped_up=len(rows) - len(cohort),
        measures=measures,
    )
    return report, [row.model_dump() for row in measures]


OPEN_WORK = (
    "Early help plans started (activated) by the day whose episode was open on it (opened by then, not closed "
    "before the next day), the families they are for and the children in those families. By locality, a group "
    "counts the plans of the families in it (from the council's postcode lookup)."
)
OPEN_WORK_BY_CHILD = (
    " By age_band (on the day the plan last opened), sex or ethnicity (the Census category), a group's children "
    "are the children in it and its plans and families those with a child in it: a plan with children in two "
    "groups is in both, so the groups' plans add up to more than the total; a family not yet profiled counts "
    "its children under not_recorded."
)


async def open_work(
    session: AsyncSession, principal: Principal, on: date, by: str | None, locality: str | None
) -> Answer:
    """Open plans on a day, and the families and children they support."""
    by = breakdown(by, BY_PLAN)
    rows = await repository.open_on(session, _visible_to(principal), on, by, locality)
    # By a child's breakdown a plan is in each group a child of its family is in: the totals are counted apart.
    totals = await repository.open_on(session, _visible_to(principal), on, None, locality) if by else rows
    groups = sorted(
        (OpenWorkRow(group=_label(row.group), plans=row.plans, families=row.families, children=row.children)
         for row in rows if row.plans),
        key=lambda row: row.group or "",
    ) if by else []  # fmt: skip
    report = OpenWork(
        on=on,
        by=by,
        definition=OPEN_WORK + (OPEN_WORK_BY_CHILD if by in repository.CHILD_BREAKDOWNS else ""),
        plans=sum(row.plans for row in totals),
        families=sum(row.families for row in totals),
        children=sum(row.children for row in totals),
        groups=groups,
    )
    everyone = OpenWorkRow(group=None, plans=report.plans, families=report.families, children=report.children)
    return report, [row.model_dump() for row in (everyone, *groups)]


PLAN_DURATION = (
    "Early help episodes closed in the period (discarded drafts aside), by close reason: the median days from "
    "the episode's opening (the plan opened, or reopened) to its closure, and how many lasted under 3 months "
    "(up to 91 days), 3 to 6 months (92 to 182), 6 to 12 months (183 to 365) and over 12 months."
)
BANDS = ((91, "under_3_months"), (182, "from_3_to_6_months"), (365, "from_6_to_12_months"))


def _durations(group: str | None, reason: str | None, days: Counter[int]) -> DurationRow:
    bands: Counter[str] = Counter()
    for length, episodes in days.items():
        bands[next((name for limit, name in BANDS if length <= limit), "over_12_months")] += episodes
    return DurationRow(
        group=group,
        close_reason=reason,
        episodes=days.total(),
        median_days=_median(days),
        under_3_months=bands["under_3_months"],
        from_3_to_6_months=bands["from_3_to_6_months"],
        from_6_to_12_months=bands["from_6_to_12_months"],
        over_12_months=bands["over_12_months"],
    )


async def plan_duration(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """How long the episodes closed in the period lasted, by close reason."""
    by = breakdown(by, BY_PLAN)
    closed = await repository.closed_episodes(session, _visible_to(principal), period.start, period.end, by, locality)
    days: dict[tuple[str | None, str | None], Counter[int]] = defaultdict(Counter)
    everyone: Counter[int] = Counter()
    for row in closed:
        group = _label(row.group) if by else None
        days[(group, None)][row.days] += row.episodes
        days[(group, row.close_reason)][row.days] += row.episodes
        everyone[row.days] += row.episodes
    rows = [
        _durations(group, reason, lengths)
        for (group, reason), lengths in sorted(days.items(), key=lambda item: (item[0][0] or "", item[0][1] or ""))
    ]
    report = PlanDuration(
        period=period,
        by=by,
        definition=_counting(PLAN_DURATION, by),
        closed=everyone.total(),
        median_days=_median(everyone),
        rows=rows,
    )
    return report, [row.model_dump() for row in rows]


REVIEWS_OVERDUE = (
    "Active plans today, and those of them whose next review fell due before today and has not been recorded."
)


async def reviews_overdue(session: AsyncSession, principal: Principal, by: str | None, locality: str | None) -> Answer:
    """Active plans whose next review is past, by lead agency unless another breakdown is asked for."""
    by = breakdown(by, BY_PLAN) or "lead_agency"
    today = now().date()
    found = await repository.reviews_overdue(session, _visible_to(principal), today, by, locality)
    rows = sorted(
        (OverdueRow(group=_label(r.group), active=r.active, overdue=r.overdue, share=_share(r.overdue, r.active))
         for r in found),
        key=lambda row: row.group or "",
    )  # fmt: skip
    active, overdue = sum(row.active for row in rows), sum(row.overdue for row in rows)
    report = ReviewsOverdue(
        on=today,
        by=by,
        definition=_counting(REVIEWS_OVERDUE, by),
        active=active,
        overdue=overdue,
        share=_share(overdue, active),
        rows=rows,
    )
    return report, [row.model_dump() for row in rows]


DISTANCE_TRAVELLED = (
    "Plans whose latest review up to the end of the period was held in it and followed an earlier review: for "
    "each goal rated at two reviews or more, its first rating on the change matrix against its latest, per "
    "outcome area. A goal improved when its stage moved on (pre-contemplation, contemplation, action, "
    "maintenance, sustained), or its score rose on the same stage; it went worse the other way; else it stayed."
)
STAGES = ("pre_contemplation", "contemplation", "action", "maintenance", "sustained")


def _movement(first: dict[str, Any], latest: dict[str, Any]) -> str:
    before = (STAGES.index(first["stage"]), first["score"])
    after = (STAGES.index(latest["stage"]), latest["score"])
    return "improved" if after > before else "worse" if after < before else "same"


async def distance_travelled(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """Movement on the change matrix between each plan's first and latest review, per outcome area."""
    by = breakdown(by, BY_PLAN)
    start, end = period.start.isoformat(), period.end.isoformat()  # reviews hold their dates as ISO strings
    counts: dict[tuple[str | None, str], Counter[str]] = defaultdict(Counter)
    plans = 0
    found = await repository.reviewed_plans(session, _visible_to(principal), period.start, period.end, by, locality)
    for row in found:
        reviews = sorted(
            (r for r in row.reviews if r["held_on"] <= end), key=lambda r: (r["held_on"], r["recorded_at"])
        )
        if len(reviews) < 2 or reviews[-1]["held_on"] < start:
            continue
        plans += 1
        areas = {goal["id"]: goal["outcome_area"] for goal in row.goals}
        ratings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for review in reviews:
            for rating in review["ratings"]:
                ratings[rating["goal_id"]].append(rating)
        for goal_id, rated in ratings.items():
            if len(rated) >= 2 and goal_id in areas:
                counts[(_label(row.group) if by else None, areas[goal_id])][_movement(rated[0], rated[-1])] += 1
    rows = [
        MovementRow(
            group=group,
            outcome_area=area,
            goals=moved.total(),
            improved=moved["improved"],
            same=moved["same"],
            worse=moved["worse"],
        )
        for (group, area), moved in sorted(counts.items(), key=lambda item: (item[0][0] or "", item[0][1]))
    ]
    report = DistanceTravelled(
        period=period,
        by=by,
        definition=_counting(DISTANCE_TRAVELLED, by),
        plans=plans,
        goals=sum(row.goals for row in rows),
        improved=sum(row.improved for row in rows),
        same=sum(row.same for row in rows),
        worse=sum(row.worse for row in rows),
        rows=rows,
    )
    return report, [row.model_dump() for row in rows]


STEP_DOWN_OUTCOMES = (
    "Plans opened in the period as social care stepped a family down to early help: how each stands (its close "
    "reason, or open), and the share of them whose family was referred to children's social care again (from any "
    "source, a step-up of the plan included) within 6 months (183 days) of the step-down."
)
BACK_TO_SOCIAL_CARE = (
    "Stepped-down plans whose family was referred to children's social care within 183 days of the step-down, "
    "over the plans stepped down."
)


async def step_down_outcomes(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """The families social care stepped down to early help in the period: how their plans closed, and how many
    came back to social care within 6 months."""
    by = breakdown(by, BY_PLAN)
    found = await repository.stepped_down(session, _visible_to(principal), period.start, period.end, by, locality)
    outcomes: Counter[tuple[str | None, str]] = Counter()
    groups: dict[str | None, list[tuple[date, date | None]]] = {None: []}
    for row in found:
        group = _label(row.group) if by else None
        outcome = row.close_reason if row.status == "closed" and row.close_reason else "open"
        outcomes[(group, outcome)] += 1
        groups[None].append((row.opened_on, row.next_referral))
        if by:
            groups.setdefault(group, []).append((row.opened_on, row.next_referral))
    rows = [
        StepDownRow(group=group, outcome=outcome, plans=n)
        for (group, outcome), n in sorted(outcomes.items(), key=lambda item: (item[0][0] or "", item[0][1]))
    ]
    measures = [
        _measure("social_care_within_6_months", BACK_TO_SOCIAL_CARE, group, cohort, SIX_MONTHS)
        for group, cohort in sorted(groups.items(), key=_groups_first_everyone)
    ]
    report = StepDownOutcomes(
        period=period,
        by=by,
        definition=_counting(STEP_DOWN_OUTCOMES, by),
        stepped_down=len(found),
        outcomes=rows,
        measures=measures,
    )
    return report, [row.model_dump() for row in rows]


CASELOAD = (
    "Active plans today per lead professional, known by their work e-mail address (lower case; none recorded is "
    "one row per organisation) and the organisation they work for: the families and the children in them."
)


async def caseload(session: AsyncSession, principal: Principal, locality: str | None) -> Answer:
    """Families and children on each lead professional's active plans, today."""
    found = await repository.active_caseloads(session, _visible_to(principal), locality)
    rows = sorted(
        (CaseloadRow(lead_email=r.lead_email, lead_organisation_id=r.lead_organisation_id, families=r.families,
                     children=r.children) for r in found),
        key=lambda row: (row.lead_organisation_id, row.lead_email or ""),
    )  # fmt: skip
    report = Caseload(as_of=now().date(), definition=CASELOAD, leads=rows)
    return report, [row.model_dump() for row in rows]


async def claims(session: AsyncSession, principal: Principal, period: Period, locality: str | None) -> Answer:
    """Supporting Families claim candidates.

    Episodes closed in the period with every need met, in 3 or more outcome areas, and no re-referral
    or step-up for 6 months after closure.
    """
    closed = await repository.closed_with_every_need_met(
        session, _visible_to(principal), period.start, period.end, locality, outcome_areas=CLAIM_MINIMUM_OUTCOME_AREAS
    )
    today = now().date()
    candidates, awaiting = [], 0
    for row in closed:
        returns = (row.next_episode, row.next_step_up, row.next_request)
        if any(back is not None and back <= row.closed_on + SIX_MONTHS for back in returns):
            continue
        if row.closed_on + SIX_MONTHS > today:
            awaiting += 1
            continue
        candidates.append(
            ClaimCandidate(
                plan_id=row.plan_id, family_id=row.family_id, closed_on=row.closed_on, outcome_areas=row.outcome_areas
            )
        )
    report = Claims(period=period, candidates=candidates, awaiting_six_months=awaiting)
    return report, [row.model_dump() for row in candidates]


async def localities(session: AsyncSession, population: Mapping[str, LocalityPopulation]) -> Answer:
    """The council's localities with their child population, and any other a family is kept in (no population)."""
    rows = {
        code: LocalityRow(code=code, name=place.name, children=place.children) for code, place in population.items()
    }
    for code, name in await repository.profiled_localities(session):
        rows.setdefault(code, LocalityRow(code=code, name=name, children=None))
    ordered = sorted(rows.values(), key=lambda row: (row.name or row.code, row.code))
    return Localities(localities=ordered), [row.model_dump() for row in ordered]


REFERRAL_SOURCES = (
    "Where early help came from. Plans opened in the period (their first opening; discarded drafts aside), by "
    "source: step_down_from_social_care (social care stepped the family down), front_door_request (a request for "
    "support came first: the front door passed it on), agency_assessment (an agency's own early help assessment), "
    "each with its share of the plans opened. And the requests for support submitted in the period, by the type "
    "of organisation that made them, each with its share. Counts plans and requests."
)
REFERRAL_SOURCES_BY = (
    " With a breakdown, the plans opened are given per group too, each source with its share of its group; the "
    "requests for support are not broken down."
)


def _sources(found: Sequence[tuple[str, int]]) -> tuple[int, list[SourceRow]]:
    total = sum(n for _, n in found)
    return total, [SourceRow(source=s, count=n, share=_share(n, total)) for s, n in sorted(found)]


async def referral_sources(
    session: AsyncSession, principal: Principal, period: Period, by: str | None, locality: str | None
) -> Answer:
    """Plans opened in the period by where they came from, and requests for support by who made them."""
    by = breakdown(by, BY_PLAN)
    visible_to, start, end = _visible_to(principal), period.start, period.end
    everyone = await repository.plan_sources(session, visible_to, start, end, None, locality)
    plans, plan_rows = _sources([(row.source, row.plans) for row in everyone])
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for row in await repository.plan_sources(session, visible_to, start, end, by, locality) if by else []:
        groups[_label(row.group)][row.source] += row.plans
    group_rows: list[SourceGroupRow] = []
    for group, found in sorted(groups.items()):
        opened, sources = _sources(list(found.items()))
        group_rows.append(SourceGroupRow(group=group, plans_opened=opened, plan_sources=sources))
    since, before = _midnight(period.start), _midnight(period.end + timedelta(days=1))
    requests, request_rows = _sources(await repository.request_sources(session, visible_to, since, before, locality))
    report = ReferralSources(
        period=period,
        by=by,
        locality=locality,
        definition=_counting(REFERRAL_SOURCES + REFERRAL_SOURCES_BY + TOTALS_BESIDE_GROUPS, by)
        if by
        else REFERRAL_SOURCES,
        plans_opened=plans,
        plan_sources=plan_rows,
        requests_for_support=requests,
        request_sources=request_rows,
        groups=group_rows,
    )
    # By a breakdown the CSV gives each group's plans between everyone's and the requests, `group` empty for
    # everyone; without one it is as it was.
    if by:
        rows = [{"group": None, "counted": "plans", **row.model_dump()} for row in plan_rows]
        for counted in group_rows:
            rows += [{"group": counted.group, "counted": "plans", **row.model_dump()} for row in counted.plan_sources]
        rows += [{"group": None, "counted": "requests_for_support", **row.model_dump()} for row in request_rows]
        return report, rows
    rows = [{"counted": "plans", **row.model_dump()} for row in plan_rows]
    rows += [{"counted": "requests_for_support", **row.model_dump()} for row in request_rows]
    return report, rows


NEEDS_PROFILE = (
    "The presenting needs of the plans opened in the period (their first opening; discarded drafts aside), as the "
    "early help assessment found them, by outcome area: how many plans had a need in the area and its share of "
    "the plans opened, and how many needs there were; the `top` areas with the most plans. Counts plans (a plan "
    "with needs in three areas counts in each)."
)


async def needs_profile(
    session: AsyncSession, principal: Principal, period: Period, top: int, locality: str | None
) -> Answer:
    """The outcome areas of the needs of the plans opened in the period, the most common first."""
    found = await repository.needs_of_plans_opened(session, _visible_to(principal), period.start, period.end, locality)
    plans: Counter[str] = Counter()
    needs: Counter[str] = Counter()
    for plan_needs in found:
        areas = [need["outcome_area"] for need in plan_needs]
        needs.update(areas)
        plans.update(set(areas))
    ranked = sorted(plans.items(), key=lambda item: (-item[1], item[0]))[:top]
    rows = [NeedRow(outcome_area=a, plans=n, needs=needs[a], share=_share(n, len(found))) for a, n in ranked]
    report = NeedsProfile(
        period=period, locality=locality, definition=NEEDS_PROFILE, plans_opened=len(found), top=top, rows=rows
    )
    return report, [row.model_dump() for row in rows]

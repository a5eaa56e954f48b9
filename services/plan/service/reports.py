"""The measures councils publish, counted from the plans and the assessments this service has seen.

A report is as wide as the caller's organisation may see by right of the plans
themselves (it leads, wrote or is on the team of a plan; for assessments, it
wrote them) unless the caller holds `reports:all`. Dates are practice dates: a
plan counts in the period in which it was activated or closed, as
practitioners recorded it. Each report answers its model and its rows (the
CSV form).
"""

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.plan import repository
from services.plan.schemas import (
    AssessmentsStarted,
    Caseload,
    CaseloadRow,
    ClaimCandidate,
    Claims,
    Closures,
    Period,
    ReasonRow,
    ReReferrals,
    StartedByType,
    StartedRow,
    TimeToPlan,
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


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def assessments_started(session: AsyncSession, principal: Principal, period: Period, form_key: str) -> Answer:
    """Assessments started in the period, per organisation type and per organisation."""
    started = await repository.assessments_started(
        session, _visible_to(principal), form_key, _midnight(period.start), _midnight(period.end + timedelta(days=1))
    )
    counts = Counter((row.organisation_type, row.organisation_id) for row in started)
    by_type: Counter[str] = Counter()
    for (organisation_type, _), number in counts.items():
        by_type[organisation_type] += number
    rows = [StartedRow(organisation_type=t, organisation_id=o, started=n) for (t, o), n in sorted(counts.items())]
    report = AssessmentsStarted(
        period=period,
        form_key=form_key,
        total=sum(counts.values()),
        by_organisation_type=[StartedByType(organisation_type=t, started=n) for t, n in sorted(by_type.items())],
        by_organisation=rows,
    )
    return report, [row.model_dump() for row in rows]


async def time_to_plan(session: AsyncSession, principal: Principal, period: Period) -> Answer:
    """Of plans activated in the period: median days from the request for support; share within 10 working days."""
    rows = await repository.activated_plans(session, _visible_to(principal), period.start, period.end)
    days = [(row.activated_on - (row.requested_on or row.opened_on)).days for row in rows]
    within = sum(1 for row in rows if (row.working_days_to_active or 0) <= WORKING_DAYS_TARGET)
    report = TimeToPlan(
        period=period,
        plans_activated=len(rows),
        median_days=statistics.median(days) if days else None,
        within_10_working_days=within,
        share_within_10_working_days=_share(within, len(rows)),
    )
    return report, [report.model_dump(exclude={"period"})]


async def closures(session: AsyncSession, principal: Principal, period: Period) -> Answer:
    """Episodes of plans closed in the period by reason, and the share closed with outcomes met."""
    counts = Counter(await repository.close_reasons(session, _visible_to(principal), period.start, period.end))
    closed = sum(counts.values())
    rows = [ReasonRow(reason=reason, plans=n) for reason, n in sorted(counts.items())]
    report = Closures(
        period=period, closed=closed, by_reason=rows, share_outcomes_met=_share(counts[OUTCOMES_MET], closed)
    )
    return report, [row.model_dump() for row in rows]


class FamilyAfterwards:
    """What happened to the families of some closed episodes afterwards: new requests, new plans or reopenings
    (each opens an episode), step-ups."""

    def __init__(self, families: repository.FamiliesAfter) -> None:
        self.returns: dict[str, list[date]] = defaultdict(list)
        self.step_ups: dict[str, list[date]] = defaultdict(list)
        for family_id, opened_on, closed_on, close_reason in families.episodes:
            self.returns[family_id].append(opened_on)
            if close_reason == STEPPED_UP and closed_on is not None:
                self.step_ups[family_id].append(closed_on)
        for family_id, submitted_at in families.requests:
            if submitted_at is not None:
                self.returns[family_id].append(submitted_at.date())

    @staticmethod
    def _within(days: Iterable[date], closed_on: date, span: timedelta) -> bool:
        return any(closed_on < day <= closed_on + span for day in days)

    def re_referred(self, family_id: str, closed_on: date, span: timedelta) -> bool:
        return self._within(self.returns.get(family_id, ()), closed_on, span)

    def stepped_up(self, family_id: str, closed_on: date, span: timedelta) -> bool:
        return self._within(self.step_ups.get(family_id, ()), closed_on, span)


async def re_referrals(session: AsyncSession, principal: Principal, period: Period) -> Answer:
    """Of the episodes closed in the period (stepped-up ones aside), the share re-referred within 6 weeks, 6 and 12
    months.

    A re-referral is a new request for support, a new plan or the plan reopened. Within 6 weeks, a step-up to
    social care counts as well.
    """
    closed, families = await repository.closed_plans(
        session, _visible_to(principal), period.start, period.end, except_reason=STEPPED_UP
    )
    afterwards = FamilyAfterwards(families)
    six_weeks = sum(
        1
        for family_id, closed_on in closed
        if afterwards.re_referred(family_id, closed_on, SIX_WEEKS)
        or afterwards.stepped_up(family_id, closed_on, SIX_WEEKS)
    )
    six_months = sum(1 for family_id, closed_on in closed if afterwards.re_referred(family_id, closed_on, SIX_MONTHS))
    a_year = sum(1 for family_id, closed_on in closed if afterwards.re_referred(family_id, closed_on, TWELVE_MONTHS))
    report = ReReferrals(
        period=period,
        closed=len(closed),
        re_referred_or_stepped_up_within_6_weeks=six_weeks,
        share_within_6_weeks=_share(six_weeks, len(closed)),
        re_referred_within_6_months=six_months,
        share_within_6_months=_share(six_months, len(closed)),
        re_referred_within_12_months=a_year,
        share_within_12_months=_share(a_year, len(closed)),
        complete=period.end + TWELVE_MONTHS <= date.today(),
    )
    return report, [report.model_dump(exclude={"period"})]


async def caseload(session: AsyncSession, principal: Principal) -> Answer:
    """Families and children on each lead professional's active plans, today."""
    families: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for lead_name, organisation_id, family_id, children in await repository.active_caseloads(
        session, _visible_to(principal)
    ):
        families[(lead_name, organisation_id)][family_id] = children
    rows = [
        CaseloadRow(lead_name=name, lead_organisation_id=org, families=len(held), children=sum(held.values()))
        for (name, org), held in sorted(families.items())
    ]
    report = Caseload(as_of=date.today(), leads=rows)
    return report, [row.model_dump() for row in rows]


async def claims(session: AsyncSession, principal: Principal, period: Period) -> Answer:
    """Supporting Families claim candidates.

    Episodes closed in the period with every need met, in 3 or more outcome areas, and no re-referral
    or step-up for 6 months after closure.
    """
    closed, families = await repository.closed_with_every_need_met(
        session, _visible_to(principal), period.start, period.end, outcome_areas=CLAIM_MINIMUM_OUTCOME_AREAS
    )
    afterwards = FamilyAfterwards(families)
    today = date.today()
    candidates, awaiting = [], 0
    for plan_id, family_id, closed_on, outcome_areas in closed:
        if afterwards.re_referred(family_id, closed_on, SIX_MONTHS) or afterwards.stepped_up(
            family_id, closed_on, SIX_MONTHS
        ):
            continue
        if closed_on + SIX_MONTHS > today:
            awaiting += 1
            continue
        candidates.append(
            ClaimCandidate(plan_id=plan_id, family_id=family_id, closed_on=closed_on, outcome_areas=outcome_areas)
        )
    report = Claims(period=period, candidates=candidates, awaiting_six_months=awaiting)
    return report, [row.model_dump() for row in candidates]

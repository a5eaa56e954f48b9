"""The measures councils publish, computed from the plans and the assessments this service has seen.

Each report reads narrow columns and counts in Python, which keeps the SQL the
same on SQLite and PostgreSQL. A report is as wide as the caller's
organisation may see by right of the plans themselves (it leads, wrote or is
on the team of a plan; for assessments, it wrote them) unless the caller holds
`reports:all`. Dates are practice dates: a plan counts in the period in which
it was activated or closed, as practitioners recorded it.

Every report answers JSON, or CSV of its rows with `?format=csv` or
`Accept: text/csv`.
"""

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.kit.auth import Principal, require_scope
from services.kit.db import SessionDep
from services.kit.problems import ValidationFailed
from services.plan.models import AssessmentRecord, Plan, PlanOrganisation

ReadsReports = Annotated[Principal, Depends(require_scope("reports:read"))]
CSV_MEDIA_TYPE = "text/csv"
SIX_WEEKS = timedelta(weeks=6)
SIX_MONTHS = timedelta(days=183)
TWELVE_MONTHS = timedelta(days=365)
OUTCOMES_MET = "outcomes_met"
STEPPED_UP = "stepped_up_to_social_care"
WORKING_DAYS_TARGET = 10
CLAIM_MINIMUM_OUTCOME_AREAS = 3

router = APIRouter(prefix="/reports", tags=["reports"])


class Period(BaseModel):
    start: date
    end: date  # inclusive


def _period(
    start: Annotated[
        date | None, Query(alias="from", description="first day; 3 months before `to` when left out")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="last day, inclusive; today when left out")] = None,
) -> Period:
    end = end or date.today()
    start = start or end - timedelta(days=91)
    if start > end:
        raise ValidationFailed("`from` is after `to`.")
    return Period(start=start, end=end)


PeriodDep = Annotated[Period, Depends(_period)]
Format = Annotated[Literal["json", "csv"] | None, Query(alias="format", description="csv, or send Accept: text/csv")]
# Each report documents its CSV form beside the JSON one.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}}
Accept = Annotated[str | None, Header()]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _answer(
    report: BaseModel, rows: Sequence[dict[str, Any]], name: str, fmt: str | None, accept: str | None
) -> Response:
    if fmt == "csv" or (fmt is None and accept is not None and CSV_MEDIA_TYPE in accept):
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
        return Response(buffer.getvalue(), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", headers=headers)
    return JSONResponse(report.model_dump(mode="json"))


def _plans(principal: Principal, *columns: Any) -> Select[Any]:
    """Plans the caller's organisation may count: all of them with `reports:all`."""
    statement = select(*columns)
    if "reports:all" not in principal.scopes:
        seen = select(col(PlanOrganisation.plan_id)).where(
            col(PlanOrganisation.organisation_id) == principal.organisation_id
        )
        statement = statement.where(col(Plan.id).in_(seen))
    return statement


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _in(column: Any, period: Period) -> list[Any]:
    return [column >= period.start, column <= period.end]


# --- assessments started ------------------------------------------------------------------


class StartedRow(BaseModel):
    organisation_type: str
    organisation_id: str
    started: int


class StartedByType(BaseModel):
    organisation_type: str
    started: int


class AssessmentsStarted(BaseModel):
    period: Period
    form_key: str
    total: int
    by_organisation_type: list[StartedByType]
    by_organisation: list[StartedRow]


@router.get("/assessments-started", response_model=AssessmentsStarted, responses=CSV_RESPONSE)
async def assessments_started(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    fmt: Format = None,
    accept: Accept = None,
    form_key: Annotated[str, Query(max_length=100)] = "early-help-assessment",
) -> Response:
    """Assessments started in the period, per organisation type and per organisation."""
    statement = select(col(AssessmentRecord.organisation_type), col(AssessmentRecord.organisation_id)).where(
        col(AssessmentRecord.form_key) == form_key,
        col(AssessmentRecord.started_at) >= _midnight(period.start),
        col(AssessmentRecord.started_at) < _midnight(period.end + timedelta(days=1)),
    )
    if "reports:all" not in principal.scopes:
        statement = statement.where(col(AssessmentRecord.organisation_id) == principal.organisation_id)
    counts = Counter((row.organisation_type, row.organisation_id) for row in await session.execute(statement))
    by_type: Counter[str] = Counter()
    for (organisation_type, _), started in counts.items():
        by_type[organisation_type] += started
    rows = [StartedRow(organisation_type=t, organisation_id=o, started=n) for (t, o), n in sorted(counts.items())]
    report = AssessmentsStarted(
        period=period,
        form_key=form_key,
        total=sum(counts.values()),
        by_organisation_type=[StartedByType(organisation_type=t, started=n) for t, n in sorted(by_type.items())],
        by_organisation=rows,
    )
    return _answer(report, [row.model_dump() for row in rows], "assessments-started", fmt, accept)


# --- time from request to an active plan --------------------------------------------------


class TimeToPlan(BaseModel):
    period: Period
    plans_activated: int
    median_days: float | None
    within_10_working_days: int
    share_within_10_working_days: float | None


@router.get("/time-to-plan", response_model=TimeToPlan, responses=CSV_RESPONSE)
async def time_to_plan(
    session: SessionDep, principal: ReadsReports, period: PeriodDep, fmt: Format = None, accept: Accept = None
) -> Response:
    """Of plans activated in the period: median days from the request for support; share within 10 working days."""
    statement = _plans(principal, Plan.requested_on, Plan.opened_on, Plan.activated_on, Plan.working_days_to_active)
    statement = statement.where(*_in(col(Plan.activated_on), period))
    rows = (await session.execute(statement)).all()
    days = [(row.activated_on - (row.requested_on or row.opened_on)).days for row in rows]
    within = sum(1 for row in rows if (row.working_days_to_active or 0) <= WORKING_DAYS_TARGET)
    report = TimeToPlan(
        period=period,
        plans_activated=len(rows),
        median_days=statistics.median(days) if days else None,
        within_10_working_days=within,
        share_within_10_working_days=_share(within, len(rows)),
    )
    return _answer(report, [report.model_dump(exclude={"period"})], "time-to-plan", fmt, accept)


# --- closures by reason -------------------------------------------------------------------


class ReasonRow(BaseModel):
    reason: str
    plans: int


class Closures(BaseModel):
    period: Period
    closed: int
    by_reason: list[ReasonRow]
    share_outcomes_met: float | None


@router.get("/closures", response_model=Closures, responses=CSV_RESPONSE)
async def closures(
    session: SessionDep, principal: ReadsReports, period: PeriodDep, fmt: Format = None, accept: Accept = None
) -> Response:
    """Plans closed in the period by reason, and the share closed with outcomes met."""
    statement = _plans(principal, Plan.close_reason).where(*_in(col(Plan.closed_on), period))
    counts = Counter(reason for (reason,) in await session.execute(statement))
    closed = sum(counts.values())
    rows = [ReasonRow(reason=reason, plans=n) for reason, n in sorted(counts.items())]
    report = Closures(
        period=period, closed=closed, by_reason=rows, share_outcomes_met=_share(counts[OUTCOMES_MET], closed)
    )
    return _answer(report, [row.model_dump() for row in rows], "closures", fmt, accept)


# --- re-referral --------------------------------------------------------------------------


class FamilyAfterwards:
    """What happened to the families of some closed plans afterwards: new requests, new plans, step-ups."""

    def __init__(self) -> None:
        self.returns: dict[str, list[date]] = defaultdict(list)
        self.step_ups: dict[str, list[date]] = defaultdict(list)

    @classmethod
    async def of(cls, session: AsyncSession, families: Select[Any]) -> "FamilyAfterwards":
        found = cls()
        plans = select(col(Plan.family_id), col(Plan.opened_on), col(Plan.stepped_up_on)).where(
            col(Plan.family_id).in_(families)
        )
        for family_id, opened_on, stepped_up_on in await session.execute(plans):
            found.returns[family_id].append(opened_on)
            if stepped_up_on is not None:
                found.step_ups[family_id].append(stepped_up_on)
        requests = select(col(AssessmentRecord.family_id), col(AssessmentRecord.submitted_at)).where(
            col(AssessmentRecord.family_id).in_(families),
            col(AssessmentRecord.form_key) == "request-for-support",
        )
        for family_id, submitted_at in await session.execute(requests):
            if submitted_at is not None:
                found.returns[family_id].append(submitted_at.date())
        return found

    @staticmethod
    def _within(days: Iterable[date], closed_on: date, span: timedelta) -> bool:
        return any(closed_on < day <= closed_on + span for day in days)

    def re_referred(self, family_id: str, closed_on: date, span: timedelta) -> bool:
        return self._within(self.returns.get(family_id, ()), closed_on, span)

    def stepped_up(self, family_id: str, closed_on: date, span: timedelta) -> bool:
        return self._within(self.step_ups.get(family_id, ()), closed_on, span)


class ReReferrals(BaseModel):
    period: Period
    closed: int
    re_referred_or_stepped_up_within_6_weeks: int
    share_within_6_weeks: float | None
    re_referred_within_6_months: int
    share_within_6_months: float | None
    re_referred_within_12_months: int
    share_within_12_months: float | None
    complete: bool  # every plan of the cohort closed 12 months ago or more, so the shares are final


@router.get("/re-referrals", response_model=ReReferrals, responses=CSV_RESPONSE)
async def re_referrals(
    session: SessionDep, principal: ReadsReports, period: PeriodDep, fmt: Format = None, accept: Accept = None
) -> Response:
    """Of the plans closed in the period (stepped-up ones aside), the share re-referred within 6 weeks, 6 and 12 months.

    Within 6 weeks, a step-up to social care counts as well as a new request for support or plan.
    """
    cohort = _plans(principal, Plan.family_id, Plan.closed_on).where(
        *_in(col(Plan.closed_on), period), col(Plan.close_reason) != STEPPED_UP
    )
    closed = (await session.execute(cohort)).all()
    afterwards = await FamilyAfterwards.of(session, cohort.with_only_columns(col(Plan.family_id)))
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
    return _answer(report, [report.model_dump(exclude={"period"})], "re-referrals", fmt, accept)


# --- caseload -----------------------------------------------------------------------------


class CaseloadRow(BaseModel):
    lead_name: str
    lead_organisation_id: str
    families: int
    children: int


class Caseload(BaseModel):
    as_of: date
    leads: list[CaseloadRow]


@router.get("/caseload", response_model=Caseload, responses=CSV_RESPONSE)
async def caseload(session: SessionDep, principal: ReadsReports, fmt: Format = None, accept: Accept = None) -> Response:
    """Families and children on each lead professional's active plans, today."""
    statement = _plans(principal, Plan.lead_name, Plan.lead_organisation_id, Plan.family_id, Plan.children).where(
        col(Plan.status) == "active", col(Plan.lead_organisation_id).is_not(None)
    )
    families: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for lead_name, organisation_id, family_id, children in await session.execute(statement):
        families[(lead_name, organisation_id)][family_id] = children
    rows = [
        CaseloadRow(lead_name=name, lead_organisation_id=org, families=len(held), children=sum(held.values()))
        for (name, org), held in sorted(families.items())
    ]
    report = Caseload(as_of=date.today(), leads=rows)
    return _answer(report, [row.model_dump() for row in rows], "caseload", fmt, accept)


# --- Supporting Families claims -----------------------------------------------------------


class ClaimCandidate(BaseModel):
    plan_id: str
    family_id: str
    closed_on: date
    outcome_areas: int


class Claims(BaseModel):
    period: Period
    candidates: list[ClaimCandidate]
    awaiting_six_months: int  # would qualify, but 6 months have not yet passed since closure


@router.get("/claims", response_model=Claims, responses=CSV_RESPONSE)
async def claims(
    session: SessionDep, principal: ReadsReports, period: PeriodDep, fmt: Format = None, accept: Accept = None
) -> Response:
    """Supporting Families claim candidates.

    Plans closed in the period with every need met, in 3 or more outcome areas, and no re-referral
    or step-up for 6 months after closure.
    """
    qualifying = _plans(principal, Plan.id, Plan.family_id, Plan.closed_on, Plan.outcome_areas).where(
        *_in(col(Plan.closed_on), period),
        col(Plan.all_needs_met).is_(True),
        col(Plan.outcome_areas) >= CLAIM_MINIMUM_OUTCOME_AREAS,
    )
    closed = (await session.execute(qualifying)).all()
    afterwards = await FamilyAfterwards.of(session, qualifying.with_only_columns(col(Plan.family_id)))
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
    return _answer(report, [row.model_dump() for row in candidates], "claims", fmt, accept)

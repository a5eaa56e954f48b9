"""The front door's measures, counted from the requests for support and their decisions this service holds.

A coordinator, or a caller holding `reports:all`, counts every decision; any
other organisation counts the requests it made and those allocated to it. No
answer holds more than outcomes, counts and organisation ids.
"""

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import COORDINATOR
from services.assessment import repository
from services.assessment.schemas import FrontDoor, FrontDoorOutcome, FrontDoorTimeliness, ReportPeriod
from services.assessment.service.front_door import DAYS_OF
from services.kit.auth import Principal
from services.kit.breakdowns import breakdown

WORKING_DAYS_TARGET = 10
BREAKDOWNS = tuple(repository.FRONT_DOOR_BREAKDOWNS)
FRONT_DOOR = (
    "Requests for support decided at the front door in the period (by the day of the decision in England), by "
    "outcome; of them, the share decided within 10 working days of the request (working days after the day it was "
    "submitted, up to and including the day of the decision, weekends and the bank holidays of England and Wales "
    "left out: decided the same day is 0), and the median working days."
)


def _visible_to(principal: Principal) -> str | None:
    """The organisation whose requests count; None, all of them, for a coordinator or with `reports:all`."""
    if "reports:all" in principal.scopes or COORDINATOR in principal.organisation_roles:
        return None
    return principal.organisation_id


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=DAYS_OF)


def _timeliness(group: str | None, days: list[int]) -> FrontDoorTimeliness:
    within = sum(1 for n in days if n <= WORKING_DAYS_TARGET)
    return FrontDoorTimeliness(
        group=group,
        decided=len(days),
        within_10_working_days=within,
        share_within_10_working_days=round(within / len(days), 4) if days else None,
        median_working_days=statistics.median(days) if days else None,
    )


async def front_door(
    session: AsyncSession, principal: Principal, period: ReportPeriod, by: str | None
) -> tuple[FrontDoor, list[dict[str, object]]]:
    """Decisions by outcome, and how many came within 10 working days of the request."""
    by = breakdown(by, BREAKDOWNS)
    decided = await repository.front_door_decisions(
        session, _start_of(period.start), _start_of(period.end + timedelta(days=1)), _visible_to(principal), by
    )
    outcomes: Counter[tuple[str | None, str]] = Counter()
    days: dict[str, list[int]] = defaultdict(list)
    for row in decided:
        group = (row.group or "not_recorded") if by else None
        outcomes[(None, row.outcome)] += 1
        if group is not None:
            outcomes[(group, row.outcome)] += 1
            days[group].append(row.working_days_to_decision)
    rows = [
        FrontDoorOutcome(group=group, outcome=outcome, decisions=n)
        for (group, outcome), n in sorted(outcomes.items(), key=lambda item: (item[0][0] is not None, item[0]))
    ]
    everyone = _timeliness(None, [row.working_days_to_decision for row in decided])
    report = FrontDoor(
        period=period,
        by=by,
        definition=FRONT_DOOR,
        decided=everyone.decided,
        within_10_working_days=everyone.within_10_working_days,
        share_within_10_working_days=everyone.share_within_10_working_days,
        median_working_days=everyone.median_working_days,
        outcomes=rows,
        groups=[_timeliness(group, found) for group, found in sorted(days.items())],
    )
    return report, [row.model_dump() for row in rows]

"""The front door's measures, counted from the requests for support and their decisions this service holds.

A coordinator, or a caller holding `reports:all`, counts every decision; any
other organisation counts the requests it made and those allocated to it. No
answer holds more than outcomes, counts, organisation ids and locality codes.

By locality, a family is placed as its reporting profile places it
(`families.family_locality`), from its members' postcodes as they stand when
the report is asked for. The locality is worked out here, per decision, rather
than kept in a column: a period holds at most thousands of decisions, read
with their families' postcodes in one statement, and a derived column would
go stale whenever a member's postcode or the council's lookup changed. The
postcodes go no further than this function.
"""

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import COORDINATOR
from services.assessment import repository
from services.assessment.localities import Localities
from services.assessment.schemas import FrontDoor, FrontDoorOutcome, FrontDoorTimeliness, ReportPeriod
from services.assessment.service.families import family_locality
from services.assessment.service.front_door import DAYS_OF
from services.kit.auth import Principal
from services.kit.breakdowns import breakdown

WORKING_DAYS_TARGET = 10
BREAKDOWNS = (*repository.FRONT_DOOR_BREAKDOWNS, "locality")
NOT_RECORDED = "not_recorded"
FRONT_DOOR = (
    "Requests for support decided at the front door in the period (by the day of the decision in England), by "
    "outcome; of them, the share decided within 10 working days of the request (working days after the day it was "
    "submitted, up to and including the day of the decision, weekends and the bank holidays of England and Wales "
    "left out: decided the same day is 0), and the median working days."
)
BY_LOCALITY = (
    " A family's locality is that of the first of its members, in the order they were given, whose postcode the "
    "council's lookup places; a family it places nowhere counts under not_recorded, and in no locality asked for."
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
    session: AsyncSession,
    principal: Principal,
    localities: Localities,
    period: ReportPeriod,
    by: str | None,
    locality: str | None,
) -> tuple[FrontDoor, list[dict[str, object]]]:
    """Decisions by outcome, and how many came within 10 working days of the request; by `by`, and only the
    families of `locality` when it is given."""
    by = breakdown(by, BREAKDOWNS)
    placed = by == "locality" or locality is not None
    found = await repository.front_door_decisions(
        session,
        _start_of(period.start),
        _start_of(period.end + timedelta(days=1)),
        _visible_to(principal),
        by,
        postcodes=placed,
    )
    decided: list[tuple[str | None, str, int]] = []  # (group, outcome, working days) of each decision counted
    for row in found:
        place = family_locality(localities, row.postcodes) if placed else None
        if locality is not None and (place is None or place.code != locality):
            continue
        group = (place.code if place else None) if by == "locality" else row.group
        decided.append(((group or NOT_RECORDED) if by else None, row.outcome, row.working_days_to_decision))
    outcomes: Counter[tuple[str | None, str]] = Counter()
    days: dict[str, list[int]] = defaultdict(list)
    for group, outcome, working_days in decided:
        outcomes[(None, outcome)] += 1
        if group is not None:
            outcomes[(group, outcome)] += 1
            days[group].append(working_days)
    rows = [
        FrontDoorOutcome(group=group, outcome=outcome, decisions=n)
        for (group, outcome), n in sorted(outcomes.items(), key=lambda item: (item[0][0] is not None, item[0]))
    ]
    everyone = _timeliness(None, [working_days for _, _, working_days in decided])
    report = FrontDoor(
        period=period,
        by=by,
        locality=locality,
        definition=FRONT_DOOR + BY_LOCALITY if placed else FRONT_DOOR,
        decided=everyone.decided,
        within_10_working_days=everyone.within_10_working_days,
        share_within_10_working_days=everyone.share_within_10_working_days,
        median_working_days=everyone.median_working_days,
        outcomes=rows,
        groups=[_timeliness(group, waited) for group, waited in sorted(days.items())],
    )
    return report, [row.model_dump() for row in rows]

"""The front door: submitted requests for support wait for an early help coordinator to decide what happens
next, and to which organisation the work goes.

Coordinators see every request; any other organisation sees only the decided requests whose work was
allocated to it. A decision is made once, by a coordinator; an allocation gives the allocated
organisation a basis (`allocation`) for the family's assessments and plan, told to the consent service
before the decision is answered. The clock runs in working days, from submission to decision.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import COORDINATOR, AccessPolicy, AccessRefused
from services.assessment import repository
from services.assessment.clients import Consent
from services.assessment.events import RequestDecided, emit
from services.assessment.models import Assessment, RequestDecision
from services.assessment.schemas import DecisionIn, RequestStatus
from services.assessment.service.access import CATEGORY, PURPOSE, authorise
from services.assessment.service.errors import (
    NotACoordinator,
    RequestDecidedAlready,
    RequestForSupportNotFound,
    RequestNotSubmitted,
)
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.paging import Page, page_of
from services.kit.problems import ValidationFailed
from services.kit.workdays import working_days_between

REQUEST_FOR_SUPPORT = "request-for-support"
# Working days are the days of England and Wales: a request submitted at 23:30 UTC on a summer Friday
# was made on Saturday.
DAYS_OF = ZoneInfo("Europe/London")
# The outcomes that give the work to an organisation, and those that leave nothing to give.
ALLOCATION_REQUIRED = frozenset({"early_help_assessment"})
NOTHING_TO_ALLOCATE = frozenset({"no_further_action", "signpost"})


def working_days(since: datetime, until: datetime) -> int:
    return working_days_between(since.astimezone(DAYS_OF).date(), until.astimezone(DAYS_OF).date())


@dataclass
class RequestView:
    """A request as the queue shows it: waiting (with the working days so far) or with its decision."""

    assessment: Assessment
    decision: RequestDecision | None
    working_days_waiting: int | None


def _is_coordinator(principal: Principal) -> bool:
    return COORDINATOR in principal.organisation_roles


async def requests_for_support(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    status: RequestStatus,
    limit: int,
    after: str | None,
) -> Page[RequestView]:
    """A page of the queue: every request to a coordinator, the decided ones allocated to it to anyone else.

    Each request listed is a read of the family's records, asked of the access policy and audited; one the
    caller may not read (an allocation ended since) is neither shown nor counted.
    """
    coordinator = _is_coordinator(principal)
    if status == "waiting":
        if not coordinator:  # nothing waiting is allocated to anyone yet
            return Page([], None)
        start = await _waiting_cursor(session, after)
        moment = now()
        waiting = await repository.waiting_requests(session, REQUEST_FOR_SUPPORT, limit + 1, start)
        rows = [RequestView(a, None, working_days(_submitted_at(a), moment)) for a in waiting]
    else:
        allocated_to = None if coordinator else principal.organisation_id
        decided = await repository.decided_requests(
            session, limit + 1, await _decided_cursor(session, after, allocated_to), allocated_to
        )
        rows = [RequestView(assessment, decision, None) for assessment, decision in decided]
    page = page_of(rows, limit, lambda view: view.assessment.id)
    visible = [view for view in page.items if await _may_list(session, policy, principal, view.assessment)]
    return Page(visible, page.after)


async def requests_count(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, which: Literal["waiting", "allocated"]
) -> int:
    """How many requests wait for a coordinator's decision (none for anyone else), or were decided with the work
    allocated to the caller's organisation and may still be opened by it: the front door's badge.

    A number names no family, so nothing is audited; the policy is still asked of each allocated request, so that
    one whose allocation has ended since is not counted, as the list would not show it.
    """
    if which == "waiting":
        return (
            await repository.count_waiting_requests(session, REQUEST_FOR_SUPPORT) if _is_coordinator(principal) else 0
        )
    count = 0
    for _, family_id, author in await repository.allocated_requests(session, principal.organisation_id):
        basis = await policy.basis_for(
            session, principal, family_id=family_id, category=CATEGORY, purpose=PURPOSE, authors=(author,)
        )
        count += basis is not None
    return count


async def _may_list(session: AsyncSession, policy: AccessPolicy, principal: Principal, request: Assessment) -> bool:
    try:
        await authorise(
            session,
            policy,
            principal,
            action="list",
            resource_type=CATEGORY,
            resource_id=request.id,
            family_id=request.family_id,
            authors=(request.organisation_id,),
        )
    except AccessRefused:
        return False
    return True


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "Page on with the `after` of the previous page's `next` link.",
        errors=[{"parameter": "after", "in": "query", "detail": "Names no request in this list."}],
    )


async def _waiting_cursor(session: AsyncSession, after: str | None) -> Assessment | None:
    if after is None:
        return None
    # Decided since it ended the previous page, a request still marks where that page ended.
    request = await repository.assessment(session, after)
    if request is None or request.form_key != REQUEST_FOR_SUPPORT or request.submitted_at is None:
        raise _bad_cursor()
    return request


async def _decided_cursor(session: AsyncSession, after: str | None, allocated_to: str | None) -> RequestDecision | None:
    if after is None:
        return None
    decision = await repository.request_decision(session, after)
    if decision is None or allocated_to not in (None, decision.allocated_organisation_id):
        raise _bad_cursor()
    return decision


def _submitted_at(request: Assessment) -> datetime:
    assert request.submitted_at is not None  # every request in the queue is submitted
    return request.submitted_at


async def decide(
    session: AsyncSession,
    policy: AccessPolicy,
    consent: Consent,
    principal: Principal,
    assessment_id: str,
    body: DecisionIn,
) -> RequestDecision:
    """A coordinator's decision on a submitted request: recorded once, announced, audited, and the work allocated."""
    if not _is_coordinator(principal):
        raise NotACoordinator("Requests for support are decided by the council's early help coordinators.")
    _check_allocation(body)
    request = await repository.assessment(session, assessment_id, for_update=True)
    if request is None or request.form_key != REQUEST_FOR_SUPPORT:
        raise RequestForSupportNotFound()
    if request.status != "submitted":
        raise RequestNotSubmitted("A request for support is decided once it is submitted.")
    if await repository.request_decision(session, request.id) is not None:
        raise RequestDecidedAlready("A request for support is decided once; its decision stands.")
    # The coordinator's public task, asked and audited as the decision's access to the family's records.
    await authorise(
        session,
        policy,
        principal,
        action="decide",
        resource_type=CATEGORY,
        resource_id=request.id,
        family_id=request.family_id,
        authors=(request.organisation_id,),
    )
    decided_at = now()
    decision = RequestDecision(
        assessment_id=request.id,
        outcome=body.outcome,
        allocated_organisation_id=body.allocated_organisation_id,
        note=body.note,
        decided_by=principal.subject,
        decided_by_organisation=principal.organisation_id,
        decided_at=decided_at,
        working_days_to_decision=working_days(_submitted_at(request), decided_at),
    )
    try:
        async with session.begin_nested():
            session.add(decision)
            await session.flush()
    except IntegrityError:  # another coordinator decided it at the same moment
        raise RequestDecidedAlready("A request for support is decided once; its decision stands.") from None
    decided = RequestDecided(
        assessment_id=request.id,
        family_id=request.family_id,
        organisation_id=principal.organisation_id,
        outcome=decision.outcome,
        allocated_organisation_id=decision.allocated_organisation_id,
        working_days_to_decision=decision.working_days_to_decision,
    )
    emit(session, decided, subject=f"assessment/{request.id}", family_id=request.family_id)
    if decision.allocated_organisation_id is not None:
        # Told before the answer: if the consent service cannot be told, the decision is rolled back.
        await consent.tell_allocation(request.family_id, decision.allocated_organisation_id)
    return decision


def _check_allocation(body: DecisionIn) -> None:
    pointer = "/allocated_organisation_id"
    if body.outcome in ALLOCATION_REQUIRED and body.allocated_organisation_id is None:
        raise ValidationFailed(
            "Name the organisation that will do the early help assessment.",
            errors=[{"pointer": pointer, "detail": "Required when the outcome is early_help_assessment."}],
        )
    if body.outcome in NOTHING_TO_ALLOCATE and body.allocated_organisation_id is not None:
        raise ValidationFailed(
            f"With {body.outcome} no work is allocated, and no organisation gains access to the family's records.",
            errors=[{"pointer": pointer, "detail": f"Leave this out when the outcome is {body.outcome}."}],
        )

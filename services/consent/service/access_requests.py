"""Requests for access to a family's records: asked by identifiers, answered by one who may share."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import COORDINATOR, Basis
from services.consent import repository
from services.consent.clients import FamilyMatcher
from services.consent.events import AccessApproved, AccessDeclined, AccessRequested, emit
from services.consent.models import AccessRequest
from services.consent.schemas import AccessRequestIn, ApprovalIn, GrantIn, RegisteredAccessRequestIn
from services.consent.service.audit import record
from services.consent.service.decisions import holds_basis
from services.consent.service.errors import AccessRequestAnswered, AccessRequestNotFound
from services.consent.service.sharing_grants import grant_consent
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id

REQUEST_LIFETIME = timedelta(days=30)


def request_status(request: AccessRequest, at: datetime) -> str:
    if request.status == "waiting" and request.expires_at <= at:
        return "expired"
    return request.status


async def request_access(
    session: AsyncSession, principal: Principal, body: AccessRequestIn, matcher: FamilyMatcher
) -> AccessRequest:
    """Ask, by identifiers and date of birth, to see a family's records; answered the same whether or not one matches.

    The identifiers are used to find the family and then forgotten: neither they nor the date of birth are kept.
    """
    family_id = await matcher.match([(i.system, i.value) for i in body.identifiers], body.date_of_birth)
    return _new_request(
        session,
        family_id=family_id,
        organisation_id=principal.organisation_id,
        organisation_type=principal.organisation_type,
        requested_by=principal.subject,
        categories=body.categories,
        reason=body.reason,
        origin="request",
    )


async def request_access_on_registration(session: AsyncSession, body: RegisteredAccessRequestIn) -> AccessRequest:
    """A service's request for a caller whose registration named a family already known."""
    return _new_request(
        session,
        family_id=body.family_id,
        organisation_id=body.organisation_id,
        organisation_type=body.organisation_type,
        requested_by=body.requested_by,
        categories=body.categories,
        reason=body.reason,
        origin="registration",
    )


def _new_request(
    session: AsyncSession,
    *,
    family_id: str | None,
    organisation_id: str,
    organisation_type: str,
    requested_by: str,
    categories: Sequence[str],
    reason: str,
    origin: str,
) -> AccessRequest:
    at = now()
    request = AccessRequest(
        id=new_id(),
        family_id=family_id,
        organisation_id=organisation_id,
        organisation_type=organisation_type,
        requested_by=requested_by,
        categories=sorted(set(categories)),
        reason=reason,
        origin=origin,
        status="waiting",
        created_at=at,
        expires_at=at + REQUEST_LIFETIME,
    )
    session.add(request)
    # No family in the event, matched or not: a requester subscribed to its own events learns nothing from it.
    requested = AccessRequested(request_id=request.id, organisation_id=organisation_id, categories=request.categories)
    emit(session, requested, subject=f"access-request/{request.id}")
    return request


async def may_answer(session: AsyncSession, principal: Principal, request: AccessRequest) -> Basis | None:
    """A holder of a basis for every category asked for (a coordinator among them) may answer a request."""
    if request.family_id is None or request.organisation_id == principal.organisation_id:
        return None
    decisions = [await holds_basis(session, principal, request.family_id, c) for c in request.categories]
    if all(decision.permit for decision in decisions):
        first = decisions[0]
        return Basis(str(first.basis), str(first.reference))
    return None


async def incoming_requests(session: AsyncSession, principal: Principal) -> list[AccessRequest]:
    """Waiting requests about families the caller may share: every family's for a coordinator."""
    at = now()
    if COORDINATOR in principal.organisation_roles:
        candidates = await repository.waiting_access_requests(session, at, None)
    else:
        families = await repository.families_related_to(session, principal.organisation_id)
        families |= await repository.families_shared_with(
            session, principal.organisation_id, principal.organisation_type
        )
        candidates = await repository.waiting_access_requests(session, at, families) if families else []
    answerable = []
    for request in candidates:
        basis = await may_answer(session, principal, request)
        if basis is not None:
            assert request.family_id is not None
            record(session, principal, "read", "access_request", request.id, request.family_id, basis)
            answerable.append(request)
    return answerable


async def outgoing_requests(session: AsyncSession, principal: Principal) -> Sequence[AccessRequest]:
    return await repository.access_requests_of(session, principal.organisation_id)


async def read_request(session: AsyncSession, principal: Principal, request_id: str) -> tuple[AccessRequest, bool]:
    """The request, and whether the caller may see its family: the requester once approved, or one who may answer.

    Neither requester nor answerer? No such request, as for one that does not exist.
    """
    request = await repository.access_request(session, request_id)
    if request is None:
        raise AccessRequestNotFound()
    if request.organisation_id == principal.organisation_id:
        return request, request.status == "approved"
    basis = await may_answer(session, principal, request)
    if basis is None:
        raise AccessRequestNotFound()
    assert request.family_id is not None
    record(session, principal, "read", "access_request", request.id, request.family_id, basis)
    return request, True


async def _answerable(session: AsyncSession, principal: Principal, request_id: str) -> tuple[AccessRequest, Basis]:
    request = await repository.access_request(session, request_id, for_update=True)
    basis = await may_answer(session, principal, request) if request is not None else None
    if request is None or basis is None:
        raise AccessRequestNotFound()
    if request_status(request, now()) != "waiting":
        raise AccessRequestAnswered(f"This request is {request_status(request, now())}.")
    return request, basis


async def approve_request(
    session: AsyncSession, principal: Principal, request_id: str, body: ApprovalIn
) -> AccessRequest:
    """Share what was asked for with the requester: a grant recorded by the approver, on the family's consent."""
    request, _basis = await _answerable(session, principal, request_id)
    assert request.family_id is not None
    grant = await grant_consent(
        session,
        principal,
        GrantIn(
            family_id=request.family_id,
            given_by_role=body.given_by_role,
            given_by_name=body.given_by_name,
            categories=request.categories,
            recipient_organisations=[request.organisation_id],
            basis=body.basis,
            evidence=body.evidence,
            ends_at=body.ends_at,
        ),
    )
    request.status, request.grant_id = "approved", grant.id
    request.decided_at, request.decided_by = now(), principal.subject
    request.decided_by_organisation_id = principal.organisation_id
    session.add(request)
    approved = AccessApproved(
        request_id=request.id, organisation_id=request.organisation_id, grant_id=grant.id, family_id=request.family_id
    )
    emit(session, approved, subject=f"access-request/{request.id}", family_id=request.family_id)
    return request


async def decline_request(session: AsyncSession, principal: Principal, request_id: str, reason: str) -> AccessRequest:
    request, basis = await _answerable(session, principal, request_id)
    assert request.family_id is not None
    request.status, request.decline_reason = "declined", reason
    request.decided_at, request.decided_by = now(), principal.subject
    request.decided_by_organisation_id = principal.organisation_id
    session.add(request)
    emit(
        session,
        AccessDeclined(request_id=request.id, organisation_id=request.organisation_id),
        subject=f"access-request/{request.id}",
    )
    record(session, principal, "decline", "access_request", request.id, request.family_id, basis)
    return request

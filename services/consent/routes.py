"""HTTP for agreements, sharing grants, access decisions, overrides and the audit: translation only."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.consent import service
from services.consent.clients import FamilyMatcher
from services.consent.models import AccessRequest, Agreement, AuditEntry, SafeguardingOverride, SharingGrant
from services.consent.schemas import (
    AccessDecisionOut,
    AccessQuestionIn,
    AccessRequestAccepted,
    AccessRequestIn,
    AccessRequestOut,
    AgreementIn,
    AgreementOut,
    ApprovalIn,
    AuditEntryOut,
    Basis,
    DeclineIn,
    GrantIn,
    GrantOut,
    OverrideIn,
    OverrideOut,
    ReaderAnswerOut,
    ReaderQuestionIn,
    RegisteredAccessRequestIn,
    RelationsIn,
    SigningKeysOut,
    VerificationOut,
    WithdrawalIn,
)
from services.kit.auth import Principal, PrincipalDep, require_scope
from services.kit.db import SessionDep
from services.kit.ids import ID_PATTERN
from services.kit.openapi import problems

ReadsConsent = Annotated[Principal, Depends(require_scope("consent:read"))]
ActsAsAService = Annotated[Principal, Depends(require_scope("service"))]
WritesConsent = Annotated[Principal, Depends(require_scope("consent:write"))]
Id = Annotated[str, Path(max_length=36, pattern=ID_PATTERN)]
FamilyId = Annotated[str, Query(max_length=36)]

router = APIRouter()


# The access log, read to answer subject access requests: the data protection officer's and the admin's.
ReadsAudit = Annotated[Principal, Depends(require_scope("audit:read"))]


def _agreement_out(agreement: Agreement) -> AgreementOut:
    return AgreementOut.model_validate(agreement, from_attributes=True)


def _grant_out(grant: SharingGrant) -> GrantOut:
    status = service.grant_status(grant, datetime.now(UTC))
    return GrantOut.model_validate({**grant.model_dump(), "status": status})


def _override_out(override: SafeguardingOverride) -> OverrideOut:
    return OverrideOut.model_validate(override, from_attributes=True)


@router.post("/agreements", status_code=201, tags=["consent"])
async def record_agreement(
    body: AgreementIn, session: SessionDep, principal: WritesConsent, response: Response
) -> AgreementOut:
    """Record the family's agreement to early help."""
    agreement = await service.record_agreement(session, principal, body)
    response.headers["Location"] = f"/agreements/{agreement.id}"
    return _agreement_out(agreement)


@router.post("/agreements/{agreement_id}/withdraw", tags=["consent"], responses=problems(409))
async def withdraw_agreement(agreement_id: Id, session: SessionDep, principal: WritesConsent) -> AgreementOut:
    """Record that the family withdrew its agreement to early help."""
    return _agreement_out(await service.withdraw_agreement(session, principal, agreement_id))


@router.get("/agreements", tags=["consent"])
async def list_agreements(family_id: FamilyId, session: SessionDep, principal: ReadsConsent) -> list[AgreementOut]:
    """The family's agreements to early help, given and withdrawn."""
    return [_agreement_out(a) for a in await service.agreements(session, principal, family_id)]


@router.post("/consents", status_code=201, tags=["consent"])
async def grant_consent(body: GrantIn, session: SessionDep, principal: WritesConsent, response: Response) -> GrantOut:
    """Record a sharing grant: which data, with whom, for what, on which basis, for how long."""
    grant = await service.grant_consent(session, principal, body)
    response.headers["Location"] = f"/consents/{grant.id}"
    return _grant_out(grant)


@router.get("/consents", tags=["consent"])
async def list_consents(family_id: FamilyId, session: SessionDep, principal: ReadsConsent) -> list[GrantOut]:
    """The family's sharing grants that your organisation recorded or is named in."""
    return [_grant_out(grant) for grant in await service.grants(session, principal, family_id)]


@router.get("/consents/{grant_id}", tags=["consent"])
async def get_consent(grant_id: Id, session: SessionDep, principal: ReadsConsent) -> GrantOut:
    """One sharing grant, with its status now."""
    return _grant_out(await service.read_grant(session, principal, grant_id))


@router.post("/consents/{grant_id}/withdraw", tags=["consent"], responses=problems(409))
async def withdraw_consent(grant_id: Id, body: WithdrawalIn, session: SessionDep, principal: WritesConsent) -> GrantOut:
    """Withdraw a sharing grant: every service refuses the reads it allowed from the next one on."""
    return _grant_out(await service.withdraw_consent(session, principal, grant_id, body.reason))


@router.post("/access-decisions", tags=["consent"])
async def decide_access(body: AccessQuestionIn, session: SessionDep, principal: PrincipalDep) -> AccessDecisionOut:
    """Permit or deny a read of a family's data, with the basis or the reason."""
    decision = await service.decide_access(session, principal, body)
    basis = (
        Basis(kind=decision.basis, reference=decision.reference)
        if decision.basis is not None and decision.reference is not None
        else None
    )
    return AccessDecisionOut(decision="permit" if decision.permit else "deny", basis=basis, reason=decision.reason)


@router.post("/internal/readers", tags=["internal"])
async def may_read_record(body: ReaderQuestionIn, session: SessionDep, _principal: ActsAsAService) -> ReaderAnswerOut:
    """Whether an organisation could read a grant or an override now: what decides who hears of it by webhook."""
    return ReaderAnswerOut(may_read=await service.may_read_record(session, body))


@router.post("/safeguarding-overrides", status_code=201, tags=["consent"])
async def open_override(
    body: OverrideIn, session: SessionDep, principal: WritesConsent, response: Response
) -> OverrideOut:
    """Open a family's records without consent because a child may be at risk of significant harm; time-limited."""
    override = await service.open_override(session, principal, body)
    response.headers["Location"] = f"/safeguarding-overrides/{override.id}"
    return _override_out(override)


@router.post("/safeguarding-overrides/{override_id}/close", tags=["consent"], responses=problems(409))
async def close_override(override_id: Id, session: SessionDep, principal: WritesConsent) -> OverrideOut:
    """End an override before its time limit."""
    return _override_out(await service.close_override(session, principal, override_id))


@router.get("/safeguarding-overrides", tags=["consent"])
async def list_overrides(family_id: FamilyId, session: SessionDep, principal: ReadsConsent) -> list[OverrideOut]:
    """The family's overrides opened by your organisation."""
    return [_override_out(o) for o in await service.overrides(session, principal, family_id)]


def _entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut.model_validate(entry, from_attributes=True)


@router.get("/audit", tags=["audit"])
async def family_audit(family_id: FamilyId, session: SessionDep, principal: ReadsAudit) -> list[AuditEntryOut]:
    """Every read and change of a family's data, in order: the basis of a subject access request."""
    return [_entry_out(entry) for entry in await service.audit_of_family(session, principal, family_id)]


@router.get("/audit/verify", tags=["audit"])
async def verify_audit(
    session: SessionDep, _principal: ReadsAudit, request: Request, full: Annotated[bool, Query()] = False
) -> VerificationOut:
    """Recompute the hash chain against the signed checkpoints, from the last one (`full`: from the first entry)."""
    result = await service.verify_audit(session, request.app.state.audit_anchor, full=full)
    return VerificationOut.model_validate(result, from_attributes=True)


@router.get("/audit/signing-keys", tags=["audit"])
async def audit_signing_keys(request: Request) -> SigningKeysOut:
    """The public key (a JWK Set) that verifies the signatures of `audit.checkpoint` events."""
    return SigningKeysOut.model_validate(request.app.state.audit_anchor.key.public_jwks())


@router.post("/internal/relations", status_code=204, tags=["internal"])
async def record_relations(body: RelationsIn, session: SessionDep, _principal: ActsAsAService) -> None:
    """A service tells, from its own records, which organisations wrote, are on the team, lead or were allocated."""
    await service.record_relations(session, body)


def _request_out(request: AccessRequest, *, shows_family: bool) -> AccessRequestOut:
    status = service.request_status(request, datetime.now(UTC))
    return AccessRequestOut.model_validate(
        {**request.model_dump(), "status": status, "family_id": request.family_id if shows_family else None}
    )


def _matcher(request: Request) -> FamilyMatcher:
    matcher: FamilyMatcher = request.app.state.family_matcher
    return matcher


@router.post("/access-requests", status_code=202, tags=["access requests"])
async def request_access(
    body: AccessRequestIn,
    session: SessionDep,
    principal: WritesConsent,
    response: Response,
    matcher: Annotated[FamilyMatcher, Depends(_matcher)],
) -> AccessRequestAccepted:
    """Ask to see a family's records, by a member's identifiers and date of birth; never says if one matched."""
    request = await service.request_access(session, principal, body, matcher)
    response.headers["Location"] = f"/access-requests/{request.id}"
    return AccessRequestAccepted(id=request.id, status="waiting")


@router.post("/internal/access-requests", status_code=201, tags=["internal"])
async def request_access_on_registration(
    body: RegisteredAccessRequestIn, session: SessionDep, _principal: ActsAsAService
) -> AccessRequestAccepted:
    """A request made for a caller whose registration named a family already known."""
    request = await service.request_access_on_registration(session, body)
    return AccessRequestAccepted(id=request.id, status="waiting")


@router.get("/access-requests", tags=["access requests"])
async def list_access_requests(
    session: SessionDep,
    principal: ReadsConsent,
    direction: Annotated[Literal["incoming", "outgoing"], Query()] = "outgoing",
) -> list[AccessRequestOut]:
    """Incoming: waiting requests your organisation may answer. Outgoing: your organisation's own requests."""
    if direction == "incoming":
        return [_request_out(r, shows_family=True) for r in await service.incoming_requests(session, principal)]
    return [
        _request_out(r, shows_family=r.status == "approved")
        for r in await service.outgoing_requests(session, principal)
    ]


@router.get("/access-requests/{request_id}", tags=["access requests"])
async def get_access_request(request_id: Id, session: SessionDep, principal: ReadsConsent) -> AccessRequestOut:
    """One request: to the organisation that made it, or to one that may answer it."""
    request, shows_family = await service.read_request(session, principal, request_id)
    return _request_out(request, shows_family=shows_family)


@router.post("/access-requests/{request_id}/approve", tags=["access requests"], responses=problems(409))
async def approve_access_request(
    request_id: Id, body: ApprovalIn, session: SessionDep, principal: WritesConsent
) -> AccessRequestOut:
    """Record the family's consent to share what was asked for with the requester: a sharing grant."""
    return _request_out(await service.approve_request(session, principal, request_id, body), shows_family=True)


@router.post("/access-requests/{request_id}/decline", tags=["access requests"], responses=problems(409))
async def decline_access_request(
    request_id: Id, body: DeclineIn, session: SessionDep, principal: WritesConsent
) -> AccessRequestOut:
    """Answer no, saying why."""
    return _request_out(await service.decline_request(session, principal, request_id, body.reason), shows_family=True)

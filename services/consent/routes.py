"""HTTP for agreements, sharing grants, access decisions, overrides and the audit: translation only."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from services.consent import service
from services.consent.models import Agreement, AuditEntry, SafeguardingOverride, SharingGrant
from services.consent.schemas import (
    AccessDecisionOut,
    AccessQuestionIn,
    AccessRevisionOut,
    AgreementIn,
    AgreementOut,
    AuditEntryOut,
    Basis,
    GrantIn,
    GrantOut,
    OverrideIn,
    OverrideOut,
    VerificationOut,
    WithdrawalIn,
)
from services.kit.auth import MissingScope, Principal, PrincipalDep, require_scope
from services.kit.db import SessionDep

ReadsConsent = Annotated[Principal, Depends(require_scope("consent:read"))]
ActsAsAService = Annotated[Principal, Depends(require_scope("service"))]
WritesConsent = Annotated[Principal, Depends(require_scope("consent:write"))]
Id = Annotated[str, Path(max_length=36)]
FamilyId = Annotated[str, Query(max_length=36)]

router = APIRouter()


async def _audit_reader(principal: PrincipalDep) -> Principal:
    """The access log is read for subject access requests, which the council answers, or by an administrator."""
    if "admin" in principal.scopes:
        return principal
    if "consent:read" not in principal.scopes:
        raise MissingScope("consent:read")
    if principal.organisation_type != "council":
        raise MissingScope("admin")
    return principal


ReadsAudit = Annotated[Principal, Depends(_audit_reader)]


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


@router.post("/agreements/{agreement_id}/withdraw", tags=["consent"])
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


@router.post("/consents/{grant_id}/withdraw", tags=["consent"])
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


@router.get("/internal/access-revision", tags=["internal"])
async def access_revision(session: SessionDep, _principal: ActsAsAService) -> AccessRevisionOut:
    """How many changes to what grants and overrides allow have been made: services keeping a copy compare."""
    return AccessRevisionOut(revision=await service.access_revision(session))


@router.post("/safeguarding-overrides", status_code=201, tags=["consent"])
async def open_override(
    body: OverrideIn, session: SessionDep, principal: WritesConsent, response: Response
) -> OverrideOut:
    """Open a family's records without consent because a child may be at risk of significant harm; time-limited."""
    override = await service.open_override(session, principal, body)
    response.headers["Location"] = f"/safeguarding-overrides/{override.id}"
    return _override_out(override)


@router.post("/safeguarding-overrides/{override_id}/close", tags=["consent"])
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
async def verify_audit(session: SessionDep, _principal: ReadsAudit) -> VerificationOut:
    """Recompute the hash chain and name the first broken link, if any."""
    result = await service.verify_audit(session)
    return VerificationOut(
        valid=result.valid,
        entries=result.entries,
        first_broken_position=result.first_broken_position,
        problem=result.problem,
    )

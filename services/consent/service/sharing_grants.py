"""Sharing grants: recorded, withdrawn and read by the organisations that recorded them or are named in them."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import COORDINATOR, Basis
from services.consent import repository
from services.consent.events import ConsentGranted, ConsentWithdrawn, emit
from services.consent.models import SharingGrant
from services.consent.schemas import GrantIn
from services.consent.service.audit import record
from services.consent.service.decisions import basis_or_refuse, may_withdraw, not_yours_to_withdraw
from services.consent.service.errors import GrantNotFound, WithdrawnAlready
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.problems import ValidationFailed


async def grant_consent(session: AsyncSession, principal: Principal, body: GrantIn) -> SharingGrant:
    if principal.organisation_id in body.recipient_organisations:
        raise ValidationFailed(
            "A grant shares with others: your organisation cannot name itself as a recipient.",
            errors=[{"pointer": "/recipient_organisations", "detail": "Leave out your own organisation."}],
        )
    if not body.recipient_organisations and not body.recipient_types:
        raise ValidationFailed(
            "Name who may see the data: recipient organisations, recipient types, or both.",
            errors=[{"pointer": "/recipient_organisations", "detail": "Name at least one recipient."}],
        )
    starts_at = body.starts_at or now()
    if body.ends_at is not None and body.ends_at <= starts_at:
        raise ValidationFailed(
            "A grant ends after it starts.", errors=[{"pointer": "/ends_at", "detail": "End after the start."}]
        )
    basis = await basis_or_refuse(session, principal, body.family_id, body.categories)
    grant = SharingGrant(
        id=new_id(),
        family_id=body.family_id,
        person_id=body.person_id,
        given_by_role=body.given_by_role,
        given_by_name=body.given_by_name,
        categories=sorted(set(body.categories)),
        recipient_organisations=sorted(set(body.recipient_organisations)),
        recipient_types=sorted(set(body.recipient_types)),
        purpose=body.purpose,
        basis=body.basis,
        evidence=body.evidence,
        organisation_id=principal.organisation_id,
        recorded_by=principal.subject,
        starts_at=starts_at,
        ends_at=body.ends_at,
        created_at=now(),
    )
    session.add(grant)
    granted = ConsentGranted(
        grant_id=grant.id,
        family_id=grant.family_id,
        categories=grant.categories,
        recipient_organisations=grant.recipient_organisations,
        recipient_types=grant.recipient_types,
        purpose=grant.purpose,
        basis=grant.basis,
        starts_at=grant.starts_at,
        ends_at=grant.ends_at,
        revision=await repository.raise_access_revision(session),
    )
    emit(session, granted, subject=f"consent/{grant.id}", family_id=grant.family_id)
    record(session, principal, "create", "consent", grant.id, grant.family_id, basis)
    return grant


async def withdraw_consent(
    session: AsyncSession, principal: Principal, grant_id: str, reason: str | None
) -> SharingGrant:
    """From now on the grant allows nothing: the next access decision, in any service, is refused."""
    grant = await repository.grant(session, grant_id, for_update=True)
    if grant is None:
        raise GrantNotFound()
    basis = await may_withdraw(session, principal, grant.family_id, grant.organisation_id)
    if basis is None:
        raise GrantNotFound() if not may_see_grant(principal, grant) else not_yours_to_withdraw()
    if grant.withdrawn_at is not None:
        raise WithdrawnAlready("This sharing grant was withdrawn already.")
    grant.withdrawn_at, grant.withdrawal_reason = now(), reason
    withdrawn = ConsentWithdrawn(
        grant_id=grant.id,
        family_id=grant.family_id,
        withdrawn_at=grant.withdrawn_at,
        revision=await repository.raise_access_revision(session),
    )
    emit(session, withdrawn, subject=f"consent/{grant.id}", family_id=grant.family_id)
    record(session, principal, "withdraw", "consent", grant.id, grant.family_id, basis)
    return grant


def may_see_grant(principal: Principal, grant: SharingGrant) -> bool:
    """The organisation that recorded a grant, those it names, and coordinators may see it."""
    return (
        principal.organisation_id == grant.organisation_id
        or principal.organisation_id in grant.recipient_organisations
        or principal.organisation_type in grant.recipient_types
        or COORDINATOR in principal.organisation_roles
    )


async def read_grant(session: AsyncSession, principal: Principal, grant_id: str) -> SharingGrant:
    grant = await repository.grant(session, grant_id)
    if grant is None or not may_see_grant(principal, grant):
        raise GrantNotFound()
    record(session, principal, "read", "consent", grant.id, grant.family_id, _named(principal, grant))
    return grant


async def grants(session: AsyncSession, principal: Principal, family_id: str) -> list[SharingGrant]:
    """The family's grants the caller recorded or is named in; others are neither shown nor counted."""
    visible = [
        grant for grant in await repository.grants_of_family(session, family_id) if may_see_grant(principal, grant)
    ]
    for grant in visible:
        record(session, principal, "read", "consent", grant.id, family_id, _named(principal, grant))
    return visible


def _named(principal: Principal, grant: SharingGrant) -> Basis:
    if principal.organisation_id == grant.organisation_id:
        return Basis("authorship", principal.organisation_id)
    if (
        principal.organisation_id in grant.recipient_organisations
        or principal.organisation_type in grant.recipient_types
    ):
        return Basis("grant", grant.id)
    return Basis("public_task", principal.organisation_id)


def grant_status(grant: SharingGrant, at: datetime) -> str:
    if grant.withdrawn_at is not None:
        return "withdrawn"
    if grant.starts_at > at:
        return "not_started"
    if grant.ends_at is not None and grant.ends_at <= at:
        return "ended"
    return "active"

"""The family's agreement to early help: recorded, withdrawn and read by an organisation with a basis."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import repository
from services.consent.models import Agreement
from services.consent.schemas import AgreementIn
from services.consent.service.audit import record
from services.consent.service.decisions import FAMILY_CATEGORIES, basis_or_refuse, may_withdraw, not_yours_to_withdraw
from services.consent.service.errors import AgreementNotFound, WithdrawnAlready
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id


async def record_agreement(session: AsyncSession, principal: Principal, body: AgreementIn) -> Agreement:
    basis = await basis_or_refuse(session, principal, body.family_id, FAMILY_CATEGORIES, any_category=True)
    agreement = Agreement(
        id=new_id(),
        family_id=body.family_id,
        given_by_role=body.given_by_role,
        given_by_name=body.given_by_name,
        evidence=body.evidence,
        organisation_id=principal.organisation_id,
        recorded_by=principal.subject,
        given_at=body.given_at or now(),
    )
    session.add(agreement)
    record(session, principal, "create", "agreement", agreement.id, agreement.family_id, basis)
    return agreement


async def withdraw_agreement(session: AsyncSession, principal: Principal, agreement_id: str) -> Agreement:
    agreement = await repository.agreement(session, agreement_id)
    if agreement is None:
        raise AgreementNotFound()
    basis = await may_withdraw(session, principal, agreement.family_id, agreement.organisation_id)
    if basis is None:
        raise not_yours_to_withdraw()
    if agreement.withdrawn_at is not None:
        raise WithdrawnAlready("The family's agreement was withdrawn already.")
    agreement.withdrawn_at = now()
    record(session, principal, "withdraw", "agreement", agreement.id, agreement.family_id, basis)
    return agreement


async def agreements(session: AsyncSession, principal: Principal, family_id: str) -> Sequence[Agreement]:
    """The family's agreements, to an organisation holding a basis for its records; refused to any other."""
    basis = await basis_or_refuse(session, principal, family_id, FAMILY_CATEGORIES, any_category=True)
    found = await repository.agreements_of_family(session, family_id)
    for agreement in found:
        record(session, principal, "read", "agreement", agreement.id, family_id, basis)
    return found

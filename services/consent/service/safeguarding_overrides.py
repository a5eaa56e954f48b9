"""Safeguarding overrides: opened and closed by a practitioner, seen by the organisation that opened them."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import repository
from services.consent.events import OverrideExpired, OverrideOpened, emit
from services.consent.models import SafeguardingOverride
from services.consent.schemas import OverrideIn
from services.consent.service.audit import record
from services.consent.service.errors import OverrideNotFound
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.problems import Conflict


async def open_override(session: AsyncSession, principal: Principal, body: OverrideIn) -> SafeguardingOverride:
    opened_at = now()
    override = SafeguardingOverride(
        id=new_id(),
        family_id=body.family_id,
        organisation_id=principal.organisation_id,
        organisation_type=principal.organisation_type,
        practitioner=principal.subject,
        justification=body.justification,
        opened_at=opened_at,
        expires_at=opened_at + timedelta(hours=body.hours),
    )
    session.add(override)
    opened = OverrideOpened(
        override_id=override.id,
        family_id=override.family_id,
        organisation_id=override.organisation_id,
        practitioner=override.practitioner,
        opened_at=override.opened_at,
        expires_at=override.expires_at,
        revision=await repository.raise_access_revision(session),
    )
    emit(session, opened, subject=f"override/{override.id}", family_id=override.family_id)
    record(session, principal, "open_override", "override", override.id, override.family_id)
    return override


def may_see_override(principal: Principal, override: SafeguardingOverride) -> bool:
    """Only the organisation that opened an override sees or closes it."""
    return override.organisation_id == principal.organisation_id


async def close_override(session: AsyncSession, principal: Principal, override_id: str) -> SafeguardingOverride:
    override = await repository.override(session, override_id)
    if override is None or not may_see_override(principal, override):
        raise OverrideNotFound()
    if override.closed_at is not None or override.expires_at <= now():
        raise Conflict("This override has ended already.")
    override.closed_at = now()
    # Ended now, and announced now rather than by the next sweep: copies of overrides must learn of it.
    override.expires_at = override.expired_at = override.closed_at
    ended = OverrideExpired(
        override_id=override.id,
        family_id=override.family_id,
        organisation_id=override.organisation_id,
        ended_at=override.closed_at,
        revision=await repository.raise_access_revision(session),
    )
    emit(session, ended, subject=f"override/{override.id}", family_id=override.family_id)
    record(session, principal, "close_override", "override", override.id, override.family_id)
    return override


async def overrides(session: AsyncSession, principal: Principal, family_id: str) -> list[SafeguardingOverride]:
    """The family's overrides opened by the caller's organisation."""
    visible = [
        override
        for override in await repository.overrides_of_family(session, family_id)
        if may_see_override(principal, override)
    ]
    for override in visible:
        record(session, principal, "read", "override", override.id, family_id)
    return visible

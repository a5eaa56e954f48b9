"""Announcing grants and overrides that ended by their own time limit."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import repository
from services.consent.events import ConsentExpired, OverrideExpired, emit
from services.kit.clock import now


async def announce_endings(session: AsyncSession) -> int:
    """Emit `consent.expired` and `override.expired` for what has ended since the last sweep; returns how many."""
    at = now()
    ended_grants = await repository.claim_ended_grants(session, at)
    for grant in ended_grants:
        assert grant.ends_at is not None
        expired = ConsentExpired(grant_id=grant.id, family_id=grant.family_id, ended_at=grant.ends_at)
        emit(session, expired, subject=f"consent/{grant.id}", family_id=grant.family_id)
    ended_overrides = await repository.claim_ended_overrides(session, at)
    for override in ended_overrides:
        ended = OverrideExpired(
            override_id=override.id,
            family_id=override.family_id,
            organisation_id=override.organisation_id,
            ended_at=override.expires_at,
        )
        emit(session, ended, subject=f"override/{override.id}", family_id=override.family_id)
    return len(ended_grants) + len(ended_overrides)


async def announce_endings_when_due(session: AsyncSession) -> datetime | None:
    """Announce what has ended; returns when the next grant or override ends (None: none is to come)."""
    await announce_endings(session)
    return await repository.next_ending(session, now())

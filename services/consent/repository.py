"""Every query the consent service makes."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.consent.models import AccessRevision, Agreement, AuditEntry, SafeguardingOverride, SharingGrant

# Any fixed number inside PostgreSQL's bigint: appends to the audit chain take turns across replicas.
_CHAIN_LOCK_KEY = 0x617564697400


async def grants_of_family(session: AsyncSession, family_id: str) -> Sequence[SharingGrant]:
    query = select(SharingGrant).where(col(SharingGrant.family_id) == family_id).order_by(col(SharingGrant.created_at))
    return (await session.scalars(query)).all()


async def overrides_of_family(session: AsyncSession, family_id: str) -> Sequence[SafeguardingOverride]:
    query = (
        select(SafeguardingOverride)
        .where(col(SafeguardingOverride.family_id) == family_id)
        .order_by(col(SafeguardingOverride.opened_at))
    )
    return (await session.scalars(query)).all()


async def agreements_of_family(session: AsyncSession, family_id: str) -> Sequence[Agreement]:
    query = select(Agreement).where(col(Agreement.family_id) == family_id).order_by(col(Agreement.given_at))
    return (await session.scalars(query)).all()


async def grant(session: AsyncSession, grant_id: str, *, for_update: bool = False) -> SharingGrant | None:
    return await session.get(SharingGrant, grant_id, with_for_update=for_update)


async def override(session: AsyncSession, override_id: str) -> SafeguardingOverride | None:
    return await session.get(SafeguardingOverride, override_id, with_for_update=True)


async def agreement(session: AsyncSession, agreement_id: str) -> Agreement | None:
    return await session.get(Agreement, agreement_id, with_for_update=True)


async def claim_ended_grants(session: AsyncSession, now: datetime) -> Sequence[SharingGrant]:
    """Grants past their end whose expiry is not yet announced, marked announced: each is claimed by one replica."""
    claimed = (
        await session.scalars(
            update(SharingGrant)
            .where(
                col(SharingGrant.ends_at) <= now,
                col(SharingGrant.expired_at).is_(None),
                col(SharingGrant.withdrawn_at).is_(None),
            )
            .values(expired_at=now)
            .returning(SharingGrant)
        )
    ).all()
    return claimed


async def claim_ended_overrides(session: AsyncSession, now: datetime) -> Sequence[SafeguardingOverride]:
    claimed = (
        await session.scalars(
            update(SafeguardingOverride)
            .where(col(SafeguardingOverride.expires_at) <= now, col(SafeguardingOverride.expired_at).is_(None))
            .values(expired_at=now)
            .returning(SafeguardingOverride)
        )
    ).all()
    return claimed


async def lock_chain(session: AsyncSession) -> None:
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


async def last_entry(session: AsyncSession) -> AuditEntry | None:
    return await session.scalar(select(AuditEntry).order_by(col(AuditEntry.position).desc()).limit(1))


async def entries_of_family(session: AsyncSession, family_id: str) -> Sequence[AuditEntry]:
    query = select(AuditEntry).where(col(AuditEntry.family_id) == family_id).order_by(col(AuditEntry.position))
    return (await session.scalars(query)).all()


async def entries_page(session: AsyncSession, after: int, size: int) -> Sequence[AuditEntry]:
    query = select(AuditEntry).where(col(AuditEntry.position) > after).order_by(col(AuditEntry.position)).limit(size)
    return (await session.scalars(query)).all()


async def entry_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def raise_access_revision(session: AsyncSession) -> int:
    """The next revision; the row lock orders concurrent changes, and so their events."""
    statement = (
        update(AccessRevision).where(col(AccessRevision.id) == 1).values(value=col(AccessRevision.value) + 1)
    ).returning(col(AccessRevision.value))
    revision: int = (await session.execute(statement)).scalar_one()
    return revision


async def access_revision(session: AsyncSession) -> int:
    revision: int = (
        await session.execute(select(col(AccessRevision.value)).where(col(AccessRevision.id) == 1))
    ).scalar_one()
    return revision

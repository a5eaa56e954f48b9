"""Every query the consent service makes."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.consent.models import (
    AccessRequest,
    AccessRevision,
    Agreement,
    AuditCheckpoint,
    AuditEntry,
    FamilyRelation,
    SafeguardingOverride,
    SharingGrant,
)

# Any fixed number inside PostgreSQL's bigint: appends to the audit chain take turns across replicas.
_CHAIN_LOCK_KEY = 0x617564697400
_CHECKPOINT_LOCK_KEY = 0x617564697401  # one replica signs each checkpoint


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


async def next_ending(session: AsyncSession, after: datetime) -> datetime | None:
    """The first end after `after` of a grant or an override not yet announced; None if none is to come."""
    grants = select(func.min(col(SharingGrant.ends_at))).where(
        col(SharingGrant.ends_at) > after,
        col(SharingGrant.expired_at).is_(None),
        col(SharingGrant.withdrawn_at).is_(None),
    )
    overrides = select(func.min(col(SafeguardingOverride.expires_at))).where(
        col(SafeguardingOverride.expires_at) > after, col(SafeguardingOverride.expired_at).is_(None)
    )
    ends = [await session.scalar(grants), await session.scalar(overrides)]
    return min((end for end in ends if end is not None), default=None)


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


async def entry(session: AsyncSession, position: int) -> AuditEntry | None:
    return await session.get(AuditEntry, position)


async def take_checkpoint_turn(session: AsyncSession) -> bool:
    """Whether this transaction signs the next checkpoint: on PostgreSQL, no other replica is signing one."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _CHECKPOINT_LOCK_KEY}))


async def last_checkpoint(session: AsyncSession) -> AuditCheckpoint | None:
    query = select(AuditCheckpoint).order_by(col(AuditCheckpoint.sequence).desc()).limit(1)
    return await session.scalar(query)


async def checkpoint_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0)


async def checkpoints_between(session: AsyncSession, first: int, last: int) -> Sequence[AuditCheckpoint]:
    """The checkpoints of the entries from position `first` to `last`, both included."""
    query = (
        select(AuditCheckpoint)
        .where(col(AuditCheckpoint.position) >= first, col(AuditCheckpoint.position) <= last)
        .order_by(col(AuditCheckpoint.sequence))
    )
    return (await session.scalars(query)).all()


async def entry_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


REVISION_RAISED = "access_revision_raised"  # the session flag that wakes the writer of the revision
# Set with it: every change that raises the revision (a grant or override made, withdrawn or closed) may move
# the next end the expiry sweep waits for. A flag of its own, as each wakes one listener.
ENDINGS_CHANGED = "consent_endings_changed"


async def raise_access_revision(session: AsyncSession) -> int:
    """The next revision; the row lock orders concurrent changes, and so their events.

    Its commit wakes the writer of the revision into the NATS bucket every copy watches (`main.py`).
    """
    statement = (
        update(AccessRevision).where(col(AccessRevision.id) == 1).values(value=col(AccessRevision.value) + 1)
    ).returning(col(AccessRevision.value))
    revision: int = (await session.execute(statement)).scalar_one()
    session.info[REVISION_RAISED] = True
    session.info[ENDINGS_CHANGED] = True
    return revision


async def access_revision(session: AsyncSession) -> int:
    revision: int = (
        await session.execute(select(col(AccessRevision.value)).where(col(AccessRevision.id) == 1))
    ).scalar_one()
    return revision


async def relations_of_family(session: AsyncSession, family_id: str) -> Sequence[FamilyRelation]:
    query = select(FamilyRelation).where(col(FamilyRelation.family_id) == family_id)
    return (await session.scalars(query)).all()


async def relations_of_kind(session: AsyncSession, family_id: str, kind: str) -> Sequence[FamilyRelation]:
    query = select(FamilyRelation).where(col(FamilyRelation.family_id) == family_id, col(FamilyRelation.kind) == kind)
    return (await session.scalars(query.with_for_update())).all()


async def relation_added(session: AsyncSession, relation: FamilyRelation) -> bool:
    """Add the relation; False, and nothing added, when a concurrent request added the same one first."""
    try:
        async with session.begin_nested():
            session.add(relation)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def relation(session: AsyncSession, family_id: str, organisation_id: str, kind: str) -> FamilyRelation | None:
    query = select(FamilyRelation).where(
        col(FamilyRelation.family_id) == family_id,
        col(FamilyRelation.organisation_id) == organisation_id,
        col(FamilyRelation.kind) == kind,
    )
    return (await session.scalars(query)).one_or_none()


async def families_related_to(session: AsyncSession, organisation_id: str) -> set[str]:
    """The families an organisation has ever had standing with: where its incoming requests may come from."""
    query = select(col(FamilyRelation.family_id)).where(col(FamilyRelation.organisation_id) == organisation_id)
    return set((await session.scalars(query)).all())


async def families_shared_with(session: AsyncSession, organisation_id: str, organisation_type: str) -> set[str]:
    """The families with a grant or an override that names the organisation (live or not: the rule decides)."""
    # Recipients are JSON lists: read in full and matched here (the incoming list is read rarely, by people).
    query = select(
        col(SharingGrant.family_id), col(SharingGrant.recipient_organisations), col(SharingGrant.recipient_types)
    ).where(col(SharingGrant.withdrawn_at).is_(None))
    found = {
        family_id
        for family_id, organisations, types in (await session.execute(query)).all()
        if organisation_id in organisations or organisation_type in types
    }
    overrides = select(col(SafeguardingOverride.family_id)).where(
        col(SafeguardingOverride.organisation_id) == organisation_id, col(SafeguardingOverride.closed_at).is_(None)
    )
    return found | set((await session.scalars(overrides)).all())


async def access_request(session: AsyncSession, request_id: str, *, for_update: bool = False) -> AccessRequest | None:
    return await session.get(AccessRequest, request_id, with_for_update=for_update)


async def access_requests_of(session: AsyncSession, organisation_id: str) -> Sequence[AccessRequest]:
    query = (
        select(AccessRequest)
        .where(col(AccessRequest.organisation_id) == organisation_id)
        .order_by(col(AccessRequest.created_at).desc())
    )
    return (await session.scalars(query)).all()


async def waiting_access_requests(
    session: AsyncSession, now: datetime, family_ids: set[str] | None
) -> Sequence[AccessRequest]:
    """Requests that matched a family and wait for an answer: of the families named, or of every family (None)."""
    query = select(AccessRequest).where(
        col(AccessRequest.status) == "waiting",
        col(AccessRequest.family_id).is_not(None),
        col(AccessRequest.expires_at) > now,
    )
    if family_ids is not None:
        query = query.where(col(AccessRequest.family_id).in_(sorted(family_ids)))
    return (await session.scalars(query.order_by(col(AccessRequest.created_at)))).all()

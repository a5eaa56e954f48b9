"""The access audit: recording what was done with a family's data, the hash-chained log of it, and its check."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import AccessRecorded, record_access
from services.access.decisions import Basis
from services.consent import repository
from services.consent.chain import GENESIS, ChainCheck, Verification, entry_hash
from services.consent.events import SOURCE, AuditCheckpointSigned, emit
from services.consent.models import AuditCheckpoint, AuditEntry
from services.consent.signing import AuditSigningKey, CheckpointStatement
from services.kit.auth import Principal
from services.kit.clock import now

logger = logging.getLogger(__name__)

VERIFY_PAGE = 5000
ENTRY_APPENDED = "audit_entry_appended"  # the session flag that wakes the checkpoint signer
_CHAIN_END = "audit_chain_end"  # session.info: (the transaction holding the lock, the last entry it appended)


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
    basis: Basis | None = None,
) -> None:
    # Without a basis named: the organisation recorded the record itself (an override it opened, its own read).
    basis = basis or Basis("authorship", principal.organisation_id)
    record_access(
        session,
        principal,
        source=SOURCE,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        family_id=family_id,
        basis=basis,
    )


async def append_to_audit(session: AsyncSession, event_id: str, recorded: AccessRecorded) -> AuditEntry:
    """Add an entry at the end of the chain; appends take turns, so the chain never forks.

    The first append of a transaction takes the chain's lock and reads its end; the lock lasts
    as long as the transaction, so later appends in it (a batch) go on from the entry before.
    """
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_CHAIN_END)
    if held is not None and held[0] is transaction:
        last = held[1]
    else:
        await repository.lock_chain(session)
        last = await repository.last_entry(session)
    entry = AuditEntry(
        position=(last.position + 1) if last is not None else 1,
        event_id=event_id,
        actor=recorded.actor,
        organisation_id=recorded.organisation_id,
        organisation_type=recorded.organisation_type,
        action=recorded.action,
        resource_type=recorded.resource_type,
        resource_id=recorded.resource_id,
        family_id=recorded.family_id,
        basis=recorded.basis,
        basis_reference=recorded.basis_reference,
        occurred_at=recorded.occurred_at,
        recorded_at=now(),
        previous_hash=last.hash if last is not None else GENESIS,
        hash="",
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.info[ENTRY_APPENDED] = True
    session.info[_CHAIN_END] = (transaction, entry)
    return entry


async def audit_of_family(session: AsyncSession, principal: Principal, family_id: str) -> Sequence[AuditEntry]:
    entries = await repository.entries_of_family(session, family_id)
    record(session, principal, "read", "audit", family_id, family_id)
    return entries


@dataclass
class Anchor:
    """The key that signs the log's checkpoints, and the highest checkpoint this process has seen stored.

    A checkpoint removed from the end of the table is then missed while the process runs; the
    published `audit.checkpoint` events show it to anyone who keeps them.
    """

    key: AuditSigningKey
    highest_sequence: int = 0


def _statement(checkpoint: AuditCheckpoint) -> CheckpointStatement:
    return CheckpointStatement(checkpoint.sequence, checkpoint.position, checkpoint.hash, checkpoint.signed_at)


async def verify_audit(session: AsyncSession, anchor: Anchor, *, full: bool = False) -> Verification:
    """Recompute the chain and compare it with the signed checkpoints.

    By default from the last checkpoint on: each was signed only once the chain up to it verified,
    and its entry must still hold the hash it signed, which no rewrite of the entries before it
    keeps. `full` reads every entry and every checkpoint: it names an entry changed without
    rehashing anywhere in the log, and a rewrite at the first checkpoint after it.
    """
    check, _ = await _checked(session, anchor, full=full)
    return check.result()


async def _checked(session: AsyncSession, anchor: Anchor, *, full: bool) -> tuple[ChainCheck, bool]:
    """The chain checked up to its end (or its first break), and whether it verified."""
    last = await repository.last_checkpoint(session)
    if last is not None and anchor.key.signed(last.signature, _statement(last)):
        anchor.highest_sequence = max(anchor.highest_sequence, last.sequence)
    start = None if full or last is None else await repository.entry(session, last.position)
    check = ChainCheck(start.previous_hash, start.position) if start is not None else ChainCheck()
    missing = await _missing_checkpoint(session, anchor, last)
    if missing is not None:
        check.broken = check.failed(None, missing)
        return check, False
    after = check.expected_position - 1
    while page := await repository.entries_page(session, after, VERIFY_PAGE):
        checkpoints = await repository.checkpoints_between(session, page[0].position, page[-1].position)
        forged = next((c for c in checkpoints if not anchor.key.signed(c.signature, _statement(c))), None)
        if forged is not None:
            problem = f"checkpoint {forged.sequence} does not verify with the consent service's signing key"
            check.broken = check.failed(forged.position, problem)
            return check, False
        if not check.feed(page, {c.position: c for c in checkpoints}):
            return check, False
        after = page[-1].position
    if last is not None and check.end[0] < last.position:
        check.broken = check.failed(
            last.position, f"entry {last.position}, signed in checkpoint {last.sequence}, is missing"
        )
        return check, False
    return check, True


async def _missing_checkpoint(session: AsyncSession, anchor: Anchor, last: AuditCheckpoint | None) -> str | None:
    """Checkpoints are numbered from 1 without gaps: fewer stored than the last number, or than seen, is a removal."""
    stored = await repository.checkpoint_count(session)
    highest = last.sequence if last is not None else 0
    if anchor.highest_sequence > highest:
        return f"checkpoint {anchor.highest_sequence} was signed, and is no longer stored"
    if stored != highest:
        return f"{stored} checkpoints are stored, numbered up to {highest}: one was removed or added"
    return None


async def sign_checkpoint_when_due(
    session: AsyncSession, anchor: Anchor, every_entries: int, every_seconds: float
) -> datetime | None:
    """Sign a checkpoint if one is due (`sign_checkpoint`); returns when to look again.

    While entries wait for a checkpoint, that is a second later (sooner when checkpoints are due more
    often), to see the count reach `every_entries`; with none waiting, None: the next entry's commit wakes
    the signer (`ENTRY_APPENDED`).
    """
    await sign_checkpoint(session, anchor, every_entries, every_seconds)
    last = await repository.last_checkpoint(session)
    end = await repository.last_entry(session)
    if end is None or end.position <= (last.position if last is not None else 0):
        return None
    return now() + timedelta(seconds=min(1.0, every_seconds))


async def sign_checkpoint(
    session: AsyncSession, anchor: Anchor, every_entries: int, every_seconds: float
) -> AuditCheckpoint | None:
    """Sign the end of the log once enough entries or time have passed since the last checkpoint.

    Only a log that verifies from the last checkpoint is signed: a checkpoint never vouches for a rewrite.
    Published as `audit.checkpoint`, so that a copy of every checkpoint lives outside the database.
    """
    if not await repository.take_checkpoint_turn(session):
        return None
    last = await repository.last_checkpoint(session)
    end = await repository.last_entry(session)
    signed_up_to = last.position if last is not None else 0
    if end is None or end.position <= signed_up_to:
        return None
    since = last.signed_at if last is not None else (await repository.entry(session, 1) or end).recorded_at
    if end.position - signed_up_to < every_entries and now() - since < timedelta(seconds=every_seconds):
        return None
    check, verified = await _checked(session, anchor, full=False)
    if not verified:
        broken = check.result()
        logger.error(
            "access log not checkpointed: it does not verify", extra={"position": broken.first_broken_position}
        )
        return None
    position, hash_ = check.end
    if position <= signed_up_to:
        return None
    statement = CheckpointStatement((last.sequence if last is not None else 0) + 1, position, hash_, now())
    checkpoint = AuditCheckpoint(
        sequence=statement.sequence,
        position=statement.position,
        hash=statement.hash,
        key_id=anchor.key.key_id,
        signature=anchor.key.sign(statement),
        signed_at=statement.signed_at,
    )
    session.add(checkpoint)
    signed = AuditCheckpointSigned.model_validate(checkpoint, from_attributes=True)
    emit(session, signed, subject=f"audit-checkpoint/{checkpoint.sequence}")
    return checkpoint

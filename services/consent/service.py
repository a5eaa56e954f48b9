"""The consent service's rules: agreements, sharing grants, decisions, overrides, and the audit chain."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import repository
from services.consent.chain import GENESIS, ChainCheck, Verification, entry_hash
from services.consent.events import (
    SOURCE,
    ConsentExpired,
    ConsentGranted,
    ConsentWithdrawn,
    OverrideExpired,
    OverrideOpened,
    emit,
)
from services.consent.models import Agreement, AuditEntry, SafeguardingOverride, SharingGrant
from services.consent.schemas import AccessQuestionIn, AgreementIn, GrantIn, OverrideIn
from services.kit.access import Basis
from services.kit.access_rule import Decision, GrantTerms, OverrideTerms, Question, decide
from services.kit.audit import AccessRecorded, record_access
from services.kit.auth import Principal
from services.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed

VERIFY_PAGE = 5000
_CHAIN_END = "audit_chain_end"  # session.info: (the transaction holding the lock, the last entry it appended)


class GrantNotFound(NotFound):
    slug, title = "consent-not-found", "No such sharing grant"


class OverrideNotFound(NotFound):
    slug, title = "override-not-found", "No such safeguarding override"


class AgreementNotFound(NotFound):
    slug, title = "agreement-not-found", "No such agreement"


class WithdrawnAlready(Conflict):
    slug, title = "withdrawn-already", "This was withdrawn already"


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


# --- agreements ---------------------------------------------------------------------


async def record_agreement(session: AsyncSession, principal: Principal, body: AgreementIn) -> Agreement:
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
    _audit(session, principal, "create", "agreement", agreement.id, agreement.family_id)
    return agreement


async def withdraw_agreement(session: AsyncSession, principal: Principal, agreement_id: str) -> Agreement:
    agreement = await repository.agreement(session, agreement_id)
    if agreement is None:
        raise AgreementNotFound()
    if agreement.withdrawn_at is not None:
        raise WithdrawnAlready("The family's agreement was withdrawn already.")
    agreement.withdrawn_at = now()
    _audit(session, principal, "withdraw", "agreement", agreement.id, agreement.family_id)
    return agreement


async def agreements(session: AsyncSession, principal: Principal, family_id: str) -> Sequence[Agreement]:
    found = await repository.agreements_of_family(session, family_id)
    for agreement in found:
        _audit(session, principal, "read", "agreement", agreement.id, family_id)
    return found


# --- sharing grants -----------------------------------------------------------------


async def grant_consent(session: AsyncSession, principal: Principal, body: GrantIn) -> SharingGrant:
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
    _audit(session, principal, "create", "consent", grant.id, grant.family_id)
    return grant


async def withdraw_consent(
    session: AsyncSession, principal: Principal, grant_id: str, reason: str | None
) -> SharingGrant:
    """From now on the grant allows nothing: the next access decision, in any service, is refused."""
    grant = await repository.grant(session, grant_id, for_update=True)
    if grant is None or not _may_see_grant(principal, grant):
        raise GrantNotFound()
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
    _audit(session, principal, "withdraw", "consent", grant.id, grant.family_id)
    return grant


def _may_see_grant(principal: Principal, grant: SharingGrant) -> bool:
    """The organisation that recorded a grant, and those it names, may see it."""
    return (
        principal.organisation_id == grant.organisation_id
        or principal.organisation_id in grant.recipient_organisations
        or principal.organisation_type in grant.recipient_types
    )


async def read_grant(session: AsyncSession, principal: Principal, grant_id: str) -> SharingGrant:
    grant = await repository.grant(session, grant_id)
    if grant is None or not _may_see_grant(principal, grant):
        raise GrantNotFound()
    _audit(session, principal, "read", "consent", grant.id, grant.family_id)
    return grant


async def grants(session: AsyncSession, principal: Principal, family_id: str) -> list[SharingGrant]:
    """The family's grants the caller recorded or is named in; others are neither shown nor counted."""
    visible = [
        grant for grant in await repository.grants_of_family(session, family_id) if _may_see_grant(principal, grant)
    ]
    for grant in visible:
        _audit(session, principal, "read", "consent", grant.id, family_id)
    return visible


def grant_status(grant: SharingGrant, at: datetime) -> str:
    if grant.withdrawn_at is not None:
        return "withdrawn"
    if grant.starts_at > at:
        return "not_started"
    if grant.ends_at is not None and grant.ends_at <= at:
        return "ended"
    return "active"


# --- decisions ----------------------------------------------------------------------


def _terms(grant: SharingGrant) -> GrantTerms:
    return GrantTerms(
        id=grant.id,
        family_id=grant.family_id,
        categories=grant.categories,
        recipient_organisations=grant.recipient_organisations,
        recipient_types=grant.recipient_types,
        purpose=grant.purpose,
        starts_at=grant.starts_at,
        ends_at=grant.ends_at,
        withdrawn_at=grant.withdrawn_at,
    )


def _override_terms(override: SafeguardingOverride) -> OverrideTerms:
    return OverrideTerms(
        id=override.id,
        family_id=override.family_id,
        organisation_id=override.organisation_id,
        practitioner=override.practitioner,
        opened_at=override.opened_at,
        expires_at=override.expires_at,
        closed_at=override.closed_at,
    )


async def decide_access(session: AsyncSession, principal: Principal, body: AccessQuestionIn) -> Decision:
    """Permit or deny, with the basis or the reason; about the caller's organisation unless it names another."""
    asks_for_another = (
        body.organisation_id not in (None, principal.organisation_id)
        or body.organisation_type not in (None, principal.organisation_type)
        or body.practitioner not in (None, principal.subject)
    )
    # A platform service asks for the organisation it acts for (notifications, for a subscriber).
    if asks_for_another and not principal.scopes & {"consent:read", "service"}:
        raise Forbidden("Asking about another organisation or practitioner needs the consent:read scope.")
    question = Question(
        family_id=body.family_id,
        organisation_id=body.organisation_id or principal.organisation_id,
        organisation_type=body.organisation_type or principal.organisation_type,
        practitioner=body.practitioner or principal.subject,
        category=body.category,
        purpose=body.purpose,
        authors=frozenset(body.authors),
        team=frozenset(body.team),
    )
    if question.organisation_id in question.authors or question.organisation_id in question.team:
        return decide(question, (), (), now())  # no need to read grants
    grants = [_terms(grant) for grant in await repository.grants_of_family(session, body.family_id)]
    overrides = [_override_terms(o) for o in await repository.overrides_of_family(session, body.family_id)]
    return decide(question, grants, overrides, now())


# --- safeguarding overrides ---------------------------------------------------------


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
    _audit(session, principal, "open_override", "override", override.id, override.family_id)
    return override


async def close_override(session: AsyncSession, principal: Principal, override_id: str) -> SafeguardingOverride:
    override = await repository.override(session, override_id)
    if override is None or override.organisation_id != principal.organisation_id:
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
    _audit(session, principal, "close_override", "override", override.id, override.family_id)
    return override


async def access_revision(session: AsyncSession) -> int:
    return await repository.access_revision(session)


async def overrides(session: AsyncSession, principal: Principal, family_id: str) -> list[SafeguardingOverride]:
    """The family's overrides opened by the caller's organisation."""
    visible = [
        override
        for override in await repository.overrides_of_family(session, family_id)
        if override.organisation_id == principal.organisation_id
    ]
    for override in visible:
        _audit(session, principal, "read", "override", override.id, family_id)
    return visible


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


# --- the access audit ---------------------------------------------------------------


def _audit(
    session: AsyncSession, principal: Principal, action: str, resource_type: str, resource_id: str, family_id: str
) -> None:
    # Consent records are read and changed by the organisations they name or that recorded them.
    basis = Basis("authorship", principal.organisation_id)
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
    session.info[_CHAIN_END] = (transaction, entry)
    return entry


async def audit_of_family(session: AsyncSession, principal: Principal, family_id: str) -> Sequence[AuditEntry]:
    entries = await repository.entries_of_family(session, family_id)
    _audit(session, principal, "read", "audit", family_id, family_id)
    return entries


async def verify_audit(session: AsyncSession) -> Verification:
    check, after = ChainCheck(), 0
    while page := await repository.entries_page(session, after, VERIFY_PAGE):
        if not check.feed(page):
            break
        after = page[-1].position
    return check.result()

"""Access decided from a service's own copy of grants and overrides, when that copy is known to be current.

Asking the consent service on every read costs a network round trip. A
service can instead keep a copy of the sharing grants and safeguarding
overrides, built from the consent service's events, and decide with the same
rule (`access_rule.decide`) in its own database. The copy is only trusted
while it is provably current: every event that changes what is allowed
carries the consent service's access revision, the copy records the highest
revision it has applied without a gap, and the consent service writes its
revision into a key of the NATS key-value bucket after every change, which
each service watches (`services.kit.events.keyvalue.CounterWatch`): the new
value is pushed to it at once, and the consent service's sign of life (the
revision it holds, published every 0.2 s) says it is alive while nothing
changes. A read is decided locally only when the watch heard the sign of life
within `FRESH_FOR`, its consumer is alive and the copy holds every change up to
the revision heard; otherwise (NATS away, the watch lost or silent, the
consumer behind, events missing from the stream) the read is decided by
asking the consent service, which fails closed. Only permits are taken from
the copy: a refusal is asked again, so a grant opens the next read at once. A
withdrawal stops reads everywhere within the key's delivery after the commit
(milliseconds), and a service cut off from NATS stops trusting its copy within
`FRESH_FOR`, well inside the second the security model allows. Nothing is
asked and nothing is logged while nothing changes.
"""

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import JSON, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel, col

from services.access.config import AccessSettings
from services.access.decisions import AuthorshipOnly, Basis, RemoteAccessDecisions, own_basis
from services.access.rule import GrantTerms, OverrideTerms, Question, decide
from services.kit.auth import Principal
from services.kit.db import UtcDateTime
from services.kit.events.consumer import ConsumerSpec
from services.kit.events.envelope import BaseCloudEvent, nats_subject
from services.kit.events.keyvalue import CounterWatch

logger = logging.getLogger(__name__)

# The copy's tables: every app that keeps the copy names this folder in `create_service_app(migrations_dirs=...)`.
MIGRATIONS = Path(__file__).parent / "migrations" / "versions"

ACCESS_REVISION_KEY = "access_revision"  # the key the consent service raises and every copy watches
HEARTBEAT_SECONDS = 1.0  # how often the server tells a quiet watch that its consumer is alive
FRESH_FOR = 0.5  # seconds since the watch last heard from the server: a copy is trusted no longer
ACCESS_EVENTS = ("consent.granted", "consent.withdrawn", "consent.expired", "override.opened", "override.expired")
# Each of these opens or closes access, so the consent service always gives it a revision. The expiries
# at a time limit carry none and change nothing the copy does not know from the terms already.
ALWAYS_REVISED = frozenset({"consent.granted", "consent.withdrawn", "override.opened"})


class GrantCopy(SQLModel, table=True):
    __tablename__ = "access_grant_copy"

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    recipient_organisations: list[str] = Field(sa_column=Column(JSON, nullable=False))
    recipient_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=40)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OverrideCopy(SQLModel, table=True):
    __tablename__ = "access_override_copy"

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    organisation_id: str = Field(max_length=64)
    practitioner: str = Field(max_length=255)
    opened_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


class AppliedRevision(SQLModel, table=True):
    """The highest access revision this copy holds every change up to."""

    __tablename__ = "access_revision_applied"

    id: int = Field(default=1, primary_key=True)
    value: int = 0


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


async def _advance(session: AsyncSession, revision: int) -> None:
    applied = await session.get(AppliedRevision, 1, with_for_update=True)
    if applied is None:
        applied = AppliedRevision(id=1, value=0)
    if revision == applied.value + 1:
        applied.value = revision
        session.add(applied)
    elif revision > applied.value + 1:
        # Changes are missing (the stream no longer holds them): the copy is never trusted.
        logger.warning("access copy has a gap", extra={"applied": applied.value, "revision": revision})


async def apply_access_event(session: AsyncSession, event: BaseCloudEvent) -> None:
    """Apply one change of grants or overrides; one without the consent service's revision is not applied.

    Only the consent service may publish these events (docs/security.md, "NATS accounts and subject
    permissions"), and it numbers every change it makes: an event without a number did not come from it.
    """
    data = event.get_data()
    assert isinstance(data, dict)
    kind = event.get_type()
    if data.get("revision") is None:
        if kind in ALWAYS_REVISED:
            # Ids only: the event's payload names a practitioner.
            logger.warning(
                "access event without a revision ignored", extra={"event_type": kind, "event_id": event.get_id()}
            )
        return
    if kind == "consent.granted":
        await session.merge(
            GrantCopy(
                id=data["grant_id"],
                family_id=data["family_id"],
                categories=data["categories"],
                recipient_organisations=data["recipient_organisations"],
                recipient_types=data["recipient_types"],
                purpose=data["purpose"],
                starts_at=_at(data["starts_at"]),
                ends_at=_at(data["ends_at"]) if data.get("ends_at") else None,
            )
        )
    elif kind == "consent.withdrawn":
        grant = await session.get(GrantCopy, data["grant_id"])
        if grant is not None:
            grant.withdrawn_at = _at(data["withdrawn_at"])
            session.add(grant)
    elif kind == "override.opened":
        await session.merge(
            OverrideCopy(
                id=data["override_id"],
                family_id=data["family_id"],
                organisation_id=data["organisation_id"],
                practitioner=data["practitioner"],
                opened_at=_at(data["opened_at"]),
                expires_at=_at(data["expires_at"]),
            )
        )
    elif kind == "override.expired":
        override = await session.get(OverrideCopy, data["override_id"])
        if override is not None:
            override.expires_at = min(override.expires_at, _at(data["ended_at"]))
            session.add(override)
    # consent.expired changes nothing: a grant's end is in its terms already.
    await _advance(session, int(data["revision"]))


def access_copy_consumer(service_name: str) -> ConsumerSpec:
    """The durable consumer that keeps a service's copy of grants and overrides."""
    return ConsumerSpec(
        name=f"{service_name}-access-copy",
        subjects=[nats_subject(kind) for kind in ACCESS_EVENTS],
        handler=apply_access_event,
    )


class ProjectedAccessDecisions:
    """An `AccessPolicy` that decides from the service's copy while it is current, and asks otherwise."""

    def __init__(self, http: httpx.AsyncClient, url: str, revision: CounterWatch) -> None:
        self.remote = RemoteAccessDecisions(http, url)
        self.revision = revision

    async def _current_copy(self, session: AsyncSession) -> bool:
        consent_revision = self.revision.current(within=FRESH_FOR)
        if consent_revision is None:
            return False
        applied = (await session.execute(select(col(AppliedRevision.value)))).scalar_one_or_none() or 0
        return applied >= consent_revision

    async def basis_for(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        family_id: str,
        category: str,
        purpose: str,
        authors: Collection[str],
        team: Collection[str] = (),
    ) -> Basis | None:
        if (own := own_basis(principal, authors, team)) is not None:
            return own
        if not await self._current_copy(session):
            return await self.remote.basis_for(
                session, principal, family_id=family_id, category=category, purpose=purpose, authors=authors, team=team
            )
        question = Question(
            family_id=family_id,
            organisation_id=principal.organisation_id,
            organisation_type=principal.organisation_type,
            practitioner=principal.subject,
            category=category,
            purpose=purpose,
            authors=frozenset(authors),
            team=frozenset(team),
        )
        grants = [
            GrantTerms.of(grant)
            for grant in (
                await session.execute(select(GrantCopy).where(col(GrantCopy.family_id) == family_id))
            ).scalars()
        ]
        overrides = [
            OverrideTerms(
                id=override.id,
                family_id=override.family_id,
                organisation_id=override.organisation_id,
                practitioner=override.practitioner,
                opened_at=override.opened_at,
                expires_at=override.expires_at,
                closed_at=None,
            )
            for override in (
                await session.execute(select(OverrideCopy).where(col(OverrideCopy.family_id) == family_id))
            ).scalars()
        ]
        decision = decide(question, grants, overrides, datetime.now(UTC))
        if decision.permit and decision.basis is not None and decision.reference is not None:
            return Basis(decision.basis, decision.reference)
        # A refusal is asked again: a grant the copy has not applied yet must open the very next read.
        return await self.remote.basis_for(
            session, principal, family_id=family_id, category=category, purpose=purpose, authors=authors, team=team
        )


def access_consumers(settings: AccessSettings) -> list[ConsumerSpec]:
    return [access_copy_consumer(settings.name)] if settings.access_decisions_url else []


@asynccontextmanager
async def deciding_access(app: FastAPI, settings: AccessSettings) -> AsyncIterator[None]:
    """Sets `app.state.access_policy`: by authorship alone, or from the consent service (copied while current)."""
    if not settings.access_decisions_url:
        app.state.access_policy = AuthorshipOnly()
        yield
        return
    revision = CounterWatch(app.state.broker, ACCESS_REVISION_KEY, heartbeat=HEARTBEAT_SECONDS)
    app.state.access_policy = ProjectedAccessDecisions(app.state.http, settings.access_decisions_url, revision)
    revision.start()
    try:
        yield
    finally:
        await revision.stop()

"""The consent service's tables: agreements, sharing grants, safeguarding overrides and the access audit."""

from datetime import datetime

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from services.kit.db import UtcDateTime


class Agreement(SQLModel, table=True):
    """The family's agreement to early help: voluntary, theirs to give and to withdraw."""

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    given_by_role: str = Field(max_length=40)  # parent_or_carer, competent_young_person
    given_by_name: str | None = Field(default=None, max_length=200)
    evidence: str = Field(max_length=40)  # how it was given: written, verbal, electronic
    organisation_id: str = Field(max_length=64)  # who recorded it
    recorded_by: str = Field(max_length=255)
    given_at: datetime = Field(sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SharingGrant(SQLModel, table=True):
    """The basis for sharing a family's data of some categories with some organisations, for a purpose and a period."""

    __tablename__ = "sharing_grant"

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    person_id: str | None = Field(default=None, max_length=36)  # the child; None for the whole family
    given_by_role: str = Field(max_length=40)
    given_by_name: str | None = Field(default=None, max_length=200)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    recipient_organisations: list[str] = Field(sa_column=Column(JSON, nullable=False))
    recipient_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=60)
    basis: str = Field(max_length=30)  # consent, public_task, legal_obligation, vital_interests
    evidence: str = Field(max_length=40)
    organisation_id: str = Field(max_length=64)  # who recorded it
    recorded_by: str = Field(max_length=255)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawal_reason: str | None = Field(default=None, max_length=1000)
    expired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # when its expiry was announced
    created_at: datetime = Field(sa_type=UtcDateTime)


class SafeguardingOverride(SQLModel, table=True):
    """A named practitioner's time-limited access without consent, because a child may be at risk of harm."""

    __tablename__ = "safeguarding_override"

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    organisation_id: str = Field(max_length=64)
    organisation_type: str = Field(max_length=30)
    practitioner: str = Field(max_length=255)
    justification: str = Field(max_length=4000)
    opened_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # when its end was announced


class AuditEntry(SQLModel, table=True):
    """One read or change of a family's data. Append-only; each entry's hash covers the one before."""

    __tablename__ = "audit_entry"

    position: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    event_id: str = Field(unique=True, max_length=64)
    actor: str = Field(max_length=255)
    organisation_id: str = Field(max_length=64)
    organisation_type: str = Field(max_length=30)
    action: str = Field(max_length=40)
    resource_type: str = Field(max_length=40)
    resource_id: str = Field(max_length=64)
    family_id: str = Field(index=True, max_length=36)
    basis: str = Field(max_length=30)
    basis_reference: str = Field(max_length=64)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    previous_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AccessRevision(SQLModel, table=True):
    """One counter, raised in the transaction of every change to what grants and overrides allow.

    The events of those changes carry it, so a service deciding from its own copy
    of grants can tell whether it has applied every change made so far.
    """

    __tablename__ = "access_revision"

    id: int = Field(default=1, primary_key=True)
    value: int = 0


class FamilyRelation(SQLModel, table=True):
    """An organisation's standing with a family, told by the service that keeps the records behind it.

    `authorship`: it wrote the family's records of `categories` (registered the family, wrote an
    assessment, opened a plan); `team`: it is on the plan's team; `lead`: it employs the lead
    professional; `allocation`: the front door allocated the work to it. Ended, never deleted.
    """

    __tablename__ = "family_relation"
    __table_args__ = (UniqueConstraint("family_id", "organisation_id", "kind", name="uq_family_relation"),)

    id: str = Field(primary_key=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    organisation_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=20)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    since: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AccessRequest(SQLModel, table=True):
    """An organisation that met a family it cannot see, asking those who may share to share with it.

    `family_id` is the family its identifiers matched, if any: never shown to the requester before
    approval. No identifier, name or date of birth is kept.
    """

    __tablename__ = "access_request"

    id: str = Field(primary_key=True, max_length=36)
    family_id: str | None = Field(default=None, index=True, max_length=36)
    organisation_id: str = Field(index=True, max_length=64)  # the requester
    organisation_type: str = Field(max_length=30)
    requested_by: str = Field(max_length=255)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=2000)
    origin: str = Field(max_length=20)  # request (POST /access-requests) or registration (a 409 on POST /families)
    status: str = Field(max_length=20)  # waiting, approved, declined (expired is told from expires_at)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_by_organisation_id: str | None = Field(default=None, max_length=64)
    grant_id: str | None = Field(default=None, max_length=36)
    decline_reason: str | None = Field(default=None, max_length=2000)


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement that the access log's entry at `position` had `hash`, also published as an event.

    Numbered from 1 without gaps, so a checkpoint removed from between others shows. The signature
    is made with a key the database does not hold (`signing.py`).
    """

    __tablename__ = "audit_checkpoint"

    sequence: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    position: int = Field(unique=True)
    hash: str = Field(max_length=64)
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=1000)  # a compact JWS over the statement
    signed_at: datetime = Field(sa_type=UtcDateTime)

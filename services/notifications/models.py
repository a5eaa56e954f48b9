"""The notifications service's tables.

`ForwardedEvent` keeps each event this service may forward, once, for replay.
A `Delivery` is one event owed to one subscription; it is written in the same
transaction that takes the event off JetStream, so once the event is
acknowledged nothing can lose it. Deliveries of one subscription are delivered
in order within a `lane` (the family, so that a family's events arrive in the
order they happened); `DeliveryAttempt` records every try. A `Reminder` is an
e-mail owed to a plan's lead professional.
"""

from datetime import date, datetime

from sqlalchemy import JSON, Index, LargeBinary
from sqlmodel import Column, Field, SQLModel

from services.kit.db import UtcDateTime


class Subscription(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    organisation_id: str = Field(index=True, max_length=64)
    organisation_type: str = Field(max_length=20)
    # Whether the owner may hear of grants and overrides (it held consent:read when it subscribed).
    sees_consent_events: bool = False
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    family_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    description: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=10)  # active, paused, failing
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # sealed
    previous_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))  # sealed
    previous_secret_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)
    created_by: str = Field(max_length=255)
    failing_since: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ForwardedEvent(SQLModel, table=True):
    __tablename__ = "forwarded_event"

    id: str = Field(primary_key=True, max_length=64)  # the CloudEvent id, and every webhook's id
    type: str = Field(max_length=100)
    family_id: str | None = Field(default=None, max_length=36)
    organisation_id: str | None = Field(default=None, max_length=64)
    time: datetime = Field(sa_type=UtcDateTime, index=True)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # the structured CloudEvent, as received


class Delivery(SQLModel, table=True):
    __table_args__ = (Index("ix_delivery_pending_lane", "status", "subscription_id", "lane", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(foreign_key="subscription.id", max_length=36)
    event_id: str = Field(foreign_key="forwarded_event.id", index=True, max_length=64)
    lane: str = Field(max_length=64)  # the family, or the event type for an event about no family
    status: str = Field(max_length=10)  # pending, delivered, withheld, dead
    attempts: int = 0
    first_failed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    leased_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    replay: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    subscription_id: str = Field(index=True, max_length=36)
    attempted_at: datetime = Field(sa_type=UtcDateTime)
    status_code: int | None = None
    latency_ms: float | None = None
    # What went wrong, in our words (never the receiver's body, which we do not keep).
    error: str | None = Field(default=None, max_length=200)
    outcome: str = Field(max_length=10)  # delivered, failed, withheld, dead


class Reminder(SQLModel, table=True):
    event_id: str = Field(primary_key=True, max_length=64)
    plan_id: str = Field(max_length=36)
    due_on: date
    status: str = Field(max_length=10)  # pending, sent, unsendable
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

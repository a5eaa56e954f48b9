"""What the notifications service's endpoints take and answer."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.kit.dates import AwareMoment

EventPattern = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z_*]+(\.[a-z_*]+)?$")]
FamilyId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
SubscriptionStatus = Literal["active", "paused", "failing"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscriptionIn(Strict):
    url: str = Field(min_length=1, max_length=2048, description="where events are POSTed; http or https")
    event_types: list[EventPattern] = Field(
        min_length=1, max_length=50, description="event types or patterns such as `plan.*` or `*`"
    )
    family_ids: list[FamilyId] | None = Field(
        default=None, min_length=1, max_length=1000, description="only these families' events; all when absent"
    )
    description: str | None = Field(default=None, max_length=500)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    family_ids: list[str] | None
    description: str | None
    status: SubscriptionStatus
    created_at: datetime
    failing_since: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        description="during a rotation, until when the previous secret also signs"
    )


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="the signing secret (`whsec_...`): shown this once")


class SecretRotated(BaseModel):
    subscription_id: str
    secret: str = Field(description="the new signing secret: shown this once")
    previous_secret_valid_until: datetime


class DeliveryAttemptOut(BaseModel):
    id: int
    webhook_id: str = Field(description="the `webhook-id` header: the event's id, the same on every retry and replay")
    event_type: str
    attempted_at: datetime
    outcome: Literal["delivered", "failed", "withheld", "dead"]
    status_code: int | None
    latency_ms: float | None
    error: str | None
    replay: bool


class DeliveriesOut(BaseModel):
    items: list[DeliveryAttemptOut]
    next: str | None = Field(description="the next (older) page, when there is one")


class ReplayIn(Strict):
    since: AwareMoment


class ReplayOut(BaseModel):
    subscription_id: str
    since: datetime
    events: int = Field(description="how many events will be sent again")
    kept_since: datetime = Field(description="events older than this are no longer kept and cannot be replayed")

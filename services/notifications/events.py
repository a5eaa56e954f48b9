"""The event the notifications service emits, and the handlers of the events it takes in.

The emitted event's schema is written to `schemas/events/` by
`python -m services.notifications.events`; a test fails when the file drifts.
The handlers translate a CloudEvent into this service's terms and hand it to
`service` (forwarding) or `reminders`; each runs in the transaction that
acknowledges the event.
"""

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.events import FAMILY_EXTENSION, FamilyEvents
from services.kit.clock import now
from services.kit.events.envelope import ORGANISATION_EXTENSION, BaseCloudEvent, to_json
from services.kit.events.schemas import write_event_schemas
from services.notifications import reminders, service
from services.notifications.models import ForwardedEvent

SOURCE = "/services/notifications"


class SubscriptionFailing(BaseModel):
    """`notification.subscription_failing`: a delivery was given up after days of retries; delivery is stopped
    until the owning organisation resumes the subscription."""

    subscription_id: str
    organisation_id: str  # the subscription's owner
    failing_since: datetime
    event_id: str  # the event whose delivery was given up (dead-lettered)


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {"notification.subscription_failing": SubscriptionFailing}

emit = FamilyEvents(SOURCE, EVENT_PAYLOADS).emit_about


# --- consumed -----------------------------------------------------------------------


async def forwardable_event_received(session: AsyncSession, event: BaseCloudEvent) -> None:
    """Any event of `service.FORWARDED_AGGREGATES`: kept, and owed to every subscription that asked for it."""
    attributes = event.get_attributes()
    family_id = attributes.get(FAMILY_EXTENSION)
    organisation_id = attributes.get(ORGANISATION_EXTENSION)
    forwarded = ForwardedEvent(
        id=event.get_id(),
        type=event.get_type(),
        family_id=family_id if isinstance(family_id, str) else None,
        organisation_id=organisation_id if isinstance(organisation_id, str) else None,
        time=event.get_time() or now(),
        body=to_json(event),
    )
    await service.take_in(session, forwarded)


async def review_due(session: AsyncSession, event: BaseCloudEvent) -> None:
    """`plan.review_due`: an e-mail owed to the plan's lead professional."""
    data = event.get_data()
    assert isinstance(data, dict)
    reminders.note_review_due(
        session, event_id=event.get_id(), plan_id=data["plan_id"], due_on=date.fromisoformat(data["due_on"])
    )


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)

"""The event the notifications service emits. Its schema is written to `schemas/events/` by
`python -m services.notifications.events`; a test fails when the file drifts.
"""

from datetime import datetime

from pydantic import BaseModel

from services.kit.events.catalogue import EventCatalogue
from services.kit.events.schemas import write_event_schemas

SOURCE = "/services/notifications"


class SubscriptionFailing(BaseModel):
    """`notification.subscription_failing`: a delivery was given up after days of retries; delivery is stopped
    until the owning organisation resumes the subscription."""

    subscription_id: str
    organisation_id: str  # the subscription's owner
    failing_since: datetime
    event_id: str  # the event whose delivery was given up (dead-lettered)


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {"notification.subscription_failing": SubscriptionFailing}

emit = EventCatalogue(SOURCE, EVENT_PAYLOADS).emit


if __name__ == "__main__":
    write_event_schemas(EVENT_PAYLOADS)

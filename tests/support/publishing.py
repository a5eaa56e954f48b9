"""Events put straight on the domain stream, as a service's outbox relay would publish them."""

import nats

from services.access.events import family_event
from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.outbox import MSG_ID_HEADER


async def publish_events(
    nats_url: str, events: list[tuple[str, dict[str, object], str | None, str | None]]
) -> list[str]:
    """Publish (type, data, family id, organisation id) in order; the ids of the events published."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        ids = []
        for event_type, data, family_id, organisation_id in events:
            event = family_event(
                source="/tests",
                type=event_type,
                subject=f"test/{event_type}",
                data=data,
                family_id=family_id,
                organisation_id=organisation_id,
            )
            await js.publish(nats_subject(event_type), to_json(event), headers={MSG_ID_HEADER: event.get_id()})
            ids.append(event.get_id())
        return ids
    finally:
        await connection.close()

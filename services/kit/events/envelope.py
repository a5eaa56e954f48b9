"""The CloudEvents 1.0 envelope every domain event travels in.

Built on the `cloudevents` SDK (`cloudevents.core`), so the attribute rules and
the JSON format are the specification's, not ours. Extension attributes name
the family and the organisation an event concerns and the request that caused
it; `data` is thin: identifiers, versions and changed field names only.
"""

from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from services.kit.requestid import current_request_id

SUBJECT_PREFIX = "pathway"
FAMILY_EXTENSION = "familyid"
ORGANISATION_EXTENSION = "orgid"
REQUEST_ID_EXTENSION = "requestid"

_FORMAT = JSONFormat()

__all__ = ["BaseCloudEvent", "CloudEvent", "from_json", "nats_subject", "new_event", "to_json"]


def new_event(
    *,
    source: str,
    type: str,
    subject: str,
    data: dict[str, Any],
    family_id: str | None = None,
    organisation_id: str | None = None,
) -> CloudEvent:
    """A new event; `type` is `<aggregate>.<past-tense verb>`, e.g. `plan.closed`."""
    attributes: dict[str, Any] = {
        "source": source,
        "type": type,
        "subject": subject,
        "datacontenttype": "application/json",
    }
    extensions = {
        FAMILY_EXTENSION: family_id,
        ORGANISATION_EXTENSION: organisation_id,
        REQUEST_ID_EXTENSION: current_request_id(),
    }
    attributes.update({name: value for name, value in extensions.items() if value is not None})
    return CloudEvent(attributes, data)


def nats_subject(event_type: str) -> str:
    """`plan.review_recorded` travels on `pathway.plan.review_recorded`."""
    return f"{SUBJECT_PREFIX}.{event_type}"


def to_json(event: BaseCloudEvent) -> bytes:
    return _FORMAT.write(event)


def from_json(body: bytes) -> BaseCloudEvent:
    return _FORMAT.read(None, body)

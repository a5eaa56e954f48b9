"""The CloudEvents 1.0 envelope every domain event travels in.

Built on the `cloudevents` SDK (`cloudevents.core`), so the attribute rules and
the JSON format are the specification's, not ours. Extension attributes name
the organisation an event concerns, the request that caused it, the trace
context it was made in (CloudEvents' distributed-tracing `traceparent`, when
tracing is on), and whatever else a caller adds (`extensions`); `data` is thin:
identifiers, versions and changed field names only.
"""

from collections.abc import Mapping
from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from services.kit.requestid import current_request_id
from services.kit.tracing import TRACEPARENT, current_traceparent

SUBJECT_PREFIX = "pathway"
ORGANISATION_EXTENSION = "orgid"
REQUEST_ID_EXTENSION = "requestid"
TRACEPARENT_EXTENSION = TRACEPARENT

_FORMAT = JSONFormat()

__all__ = ["BaseCloudEvent", "CloudEvent", "from_json", "nats_subject", "new_event", "to_json"]


def new_event(
    *,
    source: str,
    type: str,
    subject: str,
    data: dict[str, Any],
    organisation_id: str | None = None,
    extensions: Mapping[str, str | None] | None = None,
) -> CloudEvent:
    """A new event; `type` is `<aggregate>.<past-tense verb>`, e.g. `note.written`.

    An extension whose value is None is left out.
    """
    attributes: dict[str, Any] = {
        "source": source,
        "type": type,
        "subject": subject,
        "datacontenttype": "application/json",
    }
    named = {
        **(extensions or {}),
        ORGANISATION_EXTENSION: organisation_id,
        REQUEST_ID_EXTENSION: current_request_id(),
        TRACEPARENT_EXTENSION: current_traceparent(),
    }
    attributes.update({name: value for name, value in named.items() if value is not None})
    return CloudEvent(attributes, data)


def nats_subject(event_type: str) -> str:
    """`note.written` travels on `pathway.note.written`."""
    return f"{SUBJECT_PREFIX}.{event_type}"


def to_json(event: BaseCloudEvent) -> bytes:
    return _FORMAT.write(event)


def from_json(body: bytes) -> BaseCloudEvent:
    return _FORMAT.read(None, body)

"""`schemas/asyncapi.yaml`: the NATS subjects integrators may subscribe to, as an AsyncAPI 3.0.0 document.

Written by `python -m schemas.asyncapi` from the event payload schemas in `schemas/events/`
(one channel per file) and the kit's envelope and stream settings. It describes the whole
system, so it sits beside the files it is built from rather than in any one service: each
service exports its own payload schemas, and a test compares this document with them.
"""

import json
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from services.access.audit import AUDIT_EVENT_TYPE
from services.access.events import FAMILY_EXTENSION
from services.kit.events.envelope import (
    ORGANISATION_EXTENSION,
    REQUEST_ID_EXTENSION,
    TRACEPARENT_EXTENSION,
    nats_subject,
)
from services.kit.events.outbox import MSG_ID_HEADER
from services.kit.events.schemas import EVENT_SCHEMAS_DIR
from services.kit.revocation import REVOKED_EVENT_TYPE
from services.kit.settings import NatsSettings
from services.kit.tracing import TRACEPARENT

ASYNCAPI_FILE = Path(__file__).resolve().parent / "asyncapi.yaml"
# The version of this contract: raise the major number when a channel goes or a payload
# changes incompatibly.
DOCUMENT_VERSION = "1.0.0"
CONTENT_TYPE = "application/cloudevents+json"

NOTES = {
    AUDIT_EVENT_TYPE: "Internal: the consent service builds the access log from it; integrators have no use for it.",
    REVOKED_EVENT_TYPE: "Internal: every service refuses the revoked credentials' tokens from then on.",
}


def _default(field: str) -> Any:
    """A NATS setting's default, not the environment's value, so the document is the same everywhere."""
    return NatsSettings.model_fields[field].default


def _description() -> str:
    stream = _default("stream")
    paragraphs = [
        "Every domain event of the Graduated Pathway, as published on NATS JetStream.",
        f"Events are kept in the JetStream stream `{stream}` (subjects `{nats_subject('>')}`), by default for"
        f" {_default('max_age_days'):g} days. Each travels on the subject `{nats_subject('<type>')}` as a CloudEvents"
        f" 1.0 event in structured mode (`{CONTENT_TYPE}`), with the NATS header `{MSG_ID_HEADER}` set to its"
        " CloudEvent `id`.",
        f"Read them with a durable pull consumer on `{stream}`, filtered to the subjects you need (for example"
        f" `{nats_subject('plan.>')}`), acknowledging each message once you have handled it: the server keeps the"
        " consumer's position under its name, so a restarted reader carries on where it stopped."
        " `examples/plan_changes.py` is a worked example.",
        "Delivery is at least once. A message not acknowledged in time is delivered again, and the server drops a"
        f" republished event only within its duplicate window ({_default('duplicate_window_seconds'):g} seconds by"
        " default). Record the `id` of every event you have handled and skip the ids you have seen.",
        "Events are thin: identifiers, versions and the names of changed fields, never a child's personal details."
        " Fetch the details over the REST API, where consent is enforced.",
    ]
    return "\n\n".join(textwrap.fill(paragraph, width=100) for paragraph in paragraphs) + "\n"


def _server() -> dict[str, Any]:
    url = urlsplit(_default("url"))
    return {
        "host": url.netloc,
        "protocol": url.scheme,
        "description": "A local nats-server on NATS's default port. `make up` starts its own on a free port and prints"
        " its URL.",
    }


TRACEPARENT_PATTERN = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def _cloud_event() -> dict[str, Any]:
    """The CloudEvents 1.0 envelope as the kit writes it; each message narrows `type` and `data`."""
    return {
        "type": "object",
        "description": "A CloudEvents 1.0 event in the JSON format (structured mode).",
        "required": ["id", "source", "specversion", "type", "subject", "time", "datacontenttype", "data"],
        "properties": {
            "id": {"type": "string", "description": "Unique to the event and kept on redelivery: deduplicate on it."},
            "source": {
                "type": "string",
                "format": "uri-reference",
                "description": "The service that emitted the event, e.g. `/services/plan`.",
            },
            "specversion": {"type": "string", "const": "1.0"},
            "type": {"type": "string", "description": "`<aggregate>.<past-tense verb>`, e.g. `plan.closed`."},
            "subject": {"type": "string", "description": "The id of the record the event is about."},
            "time": {"type": "string", "format": "date-time", "description": "When the event happened (UTC)."},
            "datacontenttype": {"type": "string", "const": "application/json"},
            FAMILY_EXTENSION: {"type": "string", "description": "The family the event concerns, if any."},
            ORGANISATION_EXTENSION: {
                "type": "string",
                "description": "The organisation that made the change or that the event concerns, if any.",
            },
            REQUEST_ID_EXTENSION: {"type": "string", "description": "The API request that caused the event, if any."},
            TRACEPARENT_EXTENSION: {
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": "CloudEvents distributed tracing: the W3C trace context the event was made in, "
                "when tracing is on.",
            },
            "data": {"type": "object"},
        },
    }


def _nats_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            MSG_ID_HEADER: {
                "type": "string",
                "description": "The CloudEvent `id`: JetStream drops a copy published within its duplicate window.",
            },
            TRACEPARENT: {
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": "The W3C trace context of the relay's publish span, when tracing is on; "
                "consumers continue the trace from it.",
            },
        },
    }


def _message(event_type: str, schema: dict[str, Any], schema_path: Path) -> dict[str, Any]:
    # `data` refers to the payload schema file instead of copying it. The file stays the one
    # copy that integrators and the drift tests read, and AsyncAPI resolves a relative `$ref`
    # against this document's location. A copy would embed a resource with its own `$schema`
    # (2020-12) and `$id` inside AsyncAPI's draft-07 based Schema Object, where that `$id`
    # rebases every `$ref` below it: tools that ignore `$id` would then resolve them wrongly.
    reference = "./" + schema_path.relative_to(ASYNCAPI_FILE.parent).as_posix()
    return {
        "name": event_type,
        "title": schema["title"],
        "description": schema["description"],
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/NatsHeaders"},
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEvent"},
                {
                    "type": "object",
                    "properties": {"type": {"const": event_type}, "data": {"$ref": reference}},
                },
            ]
        },
    }


def document() -> dict[str, Any]:
    """The AsyncAPI document, with channels, operations and messages in event type order."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for path in sorted(EVENT_SCHEMAS_DIR.glob("*.json")):
        event_type = path.stem
        schema = json.loads(path.read_text())
        description = " ".join(filter(None, [schema["description"], NOTES.get(event_type)]))
        channels[event_type] = {
            "address": nats_subject(event_type),
            "description": description,
            "messages": {event_type: {"$ref": f"#/components/messages/{event_type}"}},
        }
        operations[event_type] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{event_type}"},
            "messages": [{"$ref": f"#/channels/{event_type}/messages/{event_type}"}],
        }
        messages[event_type] = _message(event_type, schema, path)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Graduated Pathway events", "version": DOCUMENT_VERSION, "description": _description()},
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": _server()},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {"CloudEvent": _cloud_event(), "NatsHeaders": _nats_headers()},
            "messages": messages,
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so the description reads as prose."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


def render() -> str:
    # Key order is the document's own (AsyncAPI's usual reading order), fixed by the code and the
    # sorted schema files, so the output is the same on every run.
    text: str = yaml.dump(document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return text


if __name__ == "__main__":
    ASYNCAPI_FILE.write_text(render())
    print(f"wrote {ASYNCAPI_FILE}")

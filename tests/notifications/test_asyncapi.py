"""`schemas/asyncapi.yaml` is current, names every event the code emits, and holds together as AsyncAPI 3.0.0.

The specification's own JSON Schema for AsyncAPI 3.0.0 is published on npm, not on PyPI, so the
rules of the specification this document relies on are checked here by hand, and real envelopes
are validated against the message payloads with references resolved as AsyncAPI tools do.
"""

import importlib
import importlib.util
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from schemas.asyncapi import ASYNCAPI_FILE, render
from services.access.events import family_event
from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.schemas import EVENT_SCHEMAS_DIR, event_schema
from services.plan.events import PlanActivated, PlanClosed

EVENT_MODULES = [
    "services.assessment.events",
    "services.consent.events",
    "services.plan.events",
    "services.notifications.events",
    "gateway.events",
]
# AsyncAPI 3.0.0, "Components Object": every key in a components map must match this.
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9\.\-_]+$")
ROOT_FIELDS = {"asyncapi", "id", "info", "servers", "defaultContentType", "channels", "operations", "components"}


def emitted_payloads() -> dict[str, type[BaseModel]]:
    """Every event type a service emits, with its payload model."""
    payloads: dict[str, type[BaseModel]] = {}
    for name in EVENT_MODULES:
        if importlib.util.find_spec(name) is not None:  # a service that emits nothing has no events module
            payloads.update(importlib.import_module(name).EVENT_PAYLOADS)
    return payloads


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI_FILE.read_text())
    return loaded


def resolve(document: dict[str, Any], reference: str) -> Any:
    """The target of a reference inside the document (`#/a/b`), per RFC 6901."""
    assert reference.startswith("#/"), reference
    node: Any = document
    for token in reference[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and key in node, f"{reference} does not resolve"
        node = node[key]
    return node


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def data_reference(document: dict[str, Any], event_type: str) -> str:
    envelope, narrowing = document["components"]["messages"][event_type]["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
    reference: str = narrowing["properties"]["data"]["$ref"]
    return reference


def test_committed_document_is_current() -> None:
    drifted = f"{ASYNCAPI_FILE} drifted from the event schemas: run python -m schemas.asyncapi"
    assert ASYNCAPI_FILE.read_text() == render(), drifted


def test_channels_are_exactly_the_events_the_services_emit(document: dict[str, Any]) -> None:
    assert set(document["channels"]) == set(emitted_payloads())


@pytest.mark.parametrize("event_type", sorted(emitted_payloads()))
def test_channel_carries_the_event_on_its_subject(document: dict[str, Any], event_type: str) -> None:
    channel = document["channels"][event_type]
    assert channel["address"] == nats_subject(event_type) == f"pathway.{event_type}"
    operation = document["operations"][event_type]
    assert operation["action"] == "receive"
    assert resolve(document, operation["channel"]["$ref"]) is channel
    message = resolve(document, channel["messages"][event_type]["$ref"])
    assert message["contentType"] == "application/cloudevents+json"


@pytest.mark.parametrize("event_type", sorted(emitted_payloads()))
def test_message_data_is_the_payload_schema_of_the_code(document: dict[str, Any], event_type: str) -> None:
    schema_path = ASYNCAPI_FILE.parent / data_reference(document, event_type)
    assert json.loads(schema_path.read_text()) == event_schema(event_type, emitted_payloads()[event_type])


def test_document_has_the_structure_asyncapi_3_requires(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert set(document) <= ROOT_FIELDS
    assert document["info"]["title"] and document["info"]["version"]
    for server in document["servers"].values():
        assert server["host"] and server["protocol"] == "nats"
    for channel in document["channels"].values():
        assert isinstance(channel["address"], str)
        for message in channel["messages"].values():
            assert resolve(document, message["$ref"])["payload"]
    for operation in document["operations"].values():
        assert operation["action"] in {"send", "receive"}
        channel_reference = operation["channel"]["$ref"]
        resolve(document, channel_reference)
        for message in operation["messages"]:
            # An operation may only name messages of its own channel.
            assert message["$ref"].startswith(f"{channel_reference}/messages/")
            resolve(document, message["$ref"])
    for kind in document["components"].values():
        assert all(COMPONENT_KEY.match(key) for key in kind)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    for reference in references(document):
        if reference.startswith("#"):
            resolve(document, reference)
        else:
            assert (ASYNCAPI_FILE.parent / reference).is_file(), f"{reference} names no file"


def payload_validator(document: dict[str, Any], event_type: str) -> jsonschema.Draft7Validator:
    """A validator of one message's payload that resolves references from the document's location, as AsyncAPI does."""
    base = ASYNCAPI_FILE.as_uri()
    schema_files = [
        (path.as_uri(), Resource.from_contents(json.loads(path.read_text())))
        for path in EVENT_SCHEMAS_DIR.glob("*.json")
    ]
    registry: Registry[Any] = Registry().with_resources([(base, DRAFT7.create_resource(document)), *schema_files])
    return jsonschema.Draft7Validator({"$ref": f"{base}#/components/messages/{event_type}/payload"}, registry=registry)


def plan_event(event_type: str, payload: BaseModel) -> dict[str, Any]:
    """A plan event exactly as the kit puts it on the wire."""
    event = family_event(
        source="/services/plan",
        type=event_type,
        subject="plan-1",
        data=payload.model_dump(mode="json"),
        family_id="family-1",
        organisation_id="org-council",
    )
    wire: dict[str, Any] = json.loads(to_json(event))
    return wire


def test_an_envelope_from_the_kit_is_a_valid_payload(document: dict[str, Any]) -> None:
    activated = PlanActivated(plan_id="plan-1", family_id="family-1", organisation_id="org-council", version=2)
    payload_validator(document, "plan.activated").validate(plan_event("plan.activated", activated))


def test_payload_rejects_data_of_another_shape_and_another_type(document: dict[str, Any]) -> None:
    validator = payload_validator(document, "plan.activated")
    activated = PlanActivated(plan_id="plan-1", family_id="family-1", organisation_id="org-council", version=2)
    event = plan_event("plan.activated", activated)
    without_plan = {**event, "data": {key: value for key, value in event["data"].items() if key != "plan_id"}}
    closed = plan_event("plan.closed", PlanClosed(**activated.model_dump()))
    assert not validator.is_valid(without_plan)
    assert not validator.is_valid(closed)
    assert not validator.is_valid({key: value for key, value in event.items() if key != "id"})

"""The events the service emits match the schemas integrators read in `schemas/events/`."""

import json

import jsonschema
import pytest
from pydantic import BaseModel

from services.assessment.events import EVENT_PAYLOADS
from services.kit.events.schemas import render, schema_file
from tests.support.assessment import RunningAssessments
from tests.support.samples import sample
from tests.support.streams import data_of, stream_messages
from tests.support.waiting import eventually


@pytest.mark.parametrize("event_type", sorted(EVENT_PAYLOADS))
def test_event_schema_file_matches_the_code(event_type: str) -> None:
    model: type[BaseModel] = EVENT_PAYLOADS[event_type]
    path = schema_file(event_type)
    assert path.exists(), f"run: python -m services.assessment.events (writes {path})"
    assert path.read_text() == render(event_type, model), f"{path} drifted: python -m services.assessment.events"


async def test_every_event_in_the_stream_validates_against_its_schema(assessments: RunningAssessments) -> None:
    health = assessments.organisation("org-health")
    family_id = await assessments.register_family(health)
    body = {"family_id": family_id, "form": {"key": "early-help-assessment", "version": 1}, "answers": {}}
    draft = (await assessments.client.post("/assessments", json=body, headers=health.headers)).json()
    url = f"/assessments/{draft['id']}"
    answers = {"answers": sample("early-help-assessment", 1)}
    await assessments.client.put(url, json=answers, headers={**health.headers, "If-Match": '"1"'})
    await assessments.client.post(f"{url}/submit", headers=health.headers)
    wanted = {"form.version_published", "assessment.created", "assessment.updated", "assessment.submitted"}

    async def all_kinds_arrived() -> bool:
        return wanted <= {m.event.get_type() for m in await stream_messages(assessments.nats.url)}

    await eventually(all_kinds_arrived)
    for message in await stream_messages(assessments.nats.url):
        schema = json.loads(schema_file(message.event.get_type()).read_text())
        jsonschema.validate(message.event.get_data(), schema)


async def test_created_and_submitted_name_the_authors_organisation_type(assessments: RunningAssessments) -> None:
    school = assessments.organisation("org-school", "school")
    family_id = await assessments.register_family(school)
    body = {"family_id": family_id, "form": {"key": "early-help-assessment", "version": 1}, "answers": {}}
    draft = (await assessments.client.post("/assessments", json=body, headers=school.headers)).json()
    url = f"/assessments/{draft['id']}"
    answers = {"answers": sample("early-help-assessment", 1)}
    await assessments.client.put(url, json=answers, headers={**school.headers, "If-Match": '"1"'})
    submitted = await assessments.client.post(f"{url}/submit", headers=school.headers)
    assert submitted.status_code == 200, submitted.text

    async def announced() -> bool:
        types = [m.event.get_type() for m in await stream_messages(assessments.nats.url)]
        return "assessment.submitted" in types

    await eventually(announced)
    by_type = {m.event.get_type(): data_of(m.event) for m in await stream_messages(assessments.nats.url)}
    assert by_type["assessment.created"]["organisation_type"] == "school"
    assert by_type["assessment.submitted"]["organisation_type"] == "school"

"""`examples/plan_changes.py`, run as an integrator would run it, against a real nats-server."""

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from pydantic import BaseModel

from services.access.events import family_event
from services.assessment.events import AssessmentSubmitted
from services.kit.events.broker import ensure_streams
from services.kit.events.envelope import CloudEvent, nats_subject, to_json
from services.kit.events.outbox import MSG_ID_HEADER
from services.kit.natsserver import NatsServer
from services.kit.settings import NatsSettings
from services.plan.events import PlanActivated, PlanClosed, PlanCreated

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plan_changes.py"
PLAN_ID = "plan-1"
FAMILY_ID = "family-1"
COUNCIL = "org-council"


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    """JetStream with the stream the services provision."""
    nc = await nats.connect(nats_server.url)
    context = nc.jetstream()
    await ensure_streams(context, NatsSettings(url=nats_server.url))
    yield context
    await nc.close()


async def publish(js: JetStreamContext, event_type: str, payload: BaseModel) -> CloudEvent:
    """Publish an event the way the outbox relay does."""
    event = family_event(
        source="/services/test",
        type=event_type,
        subject=PLAN_ID,
        data=payload.model_dump(mode="json"),
        family_id=FAMILY_ID,
    )
    await js.publish(nats_subject(event_type), to_json(event), headers={MSG_ID_HEADER: event.get_id()})
    return event


async def run_example(nats_url: str, *arguments: str) -> list[str]:
    """The lines the example prints; it must exit by itself."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--nats-url",
        nats_url,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().splitlines()


async def test_example_prints_plan_changes_in_order_and_resumes_where_it_stopped(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    plan = {"plan_id": PLAN_ID, "family_id": FAMILY_ID, "organisation_id": COUNCIL}
    created = await publish(
        js,
        "plan.created",
        PlanCreated(**plan, version=1, assessment_id="a-1", re_referral=False, stepped_down_from=None),
    )
    await publish(
        js,
        "assessment.submitted",
        AssessmentSubmitted(
            assessment_id="a-1",
            family_id=FAMILY_ID,
            organisation_id=COUNCIL,
            organisation_type="council",
            form_key="early-help-assessment",
            form_version=1,
            revision=1,
        ),
    )
    activated = await publish(js, "plan.activated", PlanActivated(**plan, version=2))

    assert await run_example(nats_server.url, "--count", "2") == [
        f"plan.created plan={PLAN_ID} family={FAMILY_ID} version=1 event={created.get_id()}",
        f"plan.activated plan={PLAN_ID} family={FAMILY_ID} version=2 event={activated.get_id()}",
    ]

    closed = await publish(js, "plan.closed", PlanClosed(**plan, version=3))
    assert await run_example(nats_server.url, "--count", "1") == [
        f"plan.closed plan={PLAN_ID} family={FAMILY_ID} version=3 event={closed.get_id()}",
    ]

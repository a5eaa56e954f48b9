"""The whole story as partner systems tell it over REST, against the stack started the way `make up` starts it.

A school's system asks for support; the health visiting team's system, which cannot
see the family, asks for access; the council (the early help coordinator) finds the
family on its public task and posts a submitted early help assessment; a draft plan
appears; the council approves the health team's request with the family's consent,
and the health team reads the plan and the assessment; the council's webhook sees every
plan change the stream holds (read there by the operator: integrators get no NATS user);
the family withdraws and the health team loses access; the access log tells the story
and verifies. On SQLite, or on PostgreSQL when `TEST_DATABASE_URL` names a server (each
process given its own database).
"""

import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from cloudevents.core.formats.json import JSONFormat
from cryptography.fernet import Fernet
from nats.js.api import ConsumerConfig, DeliverPolicy

from deploy import demo
from deploy.nats_users import STREAMS_USER, Credentials
from services.kit.events.broker import signing_in
from services.kit.natsserver import free_port
from services.kit.testing import DatabaseFactory
from tests.support.makeup import REPOSITORY, MakeUp
from tests.support.receiver import Receiver
from tests.support.samples import submitted_sample
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PROCESSES = ("gateway", "assessment", "consent", "plan", "notifications")
NHS_NUMBER = "9434765919"
BORN = "2017-05-14"


@pytest.fixture
async def running_stack(tmp_path: Path, database_factory: DatabaseFactory) -> AsyncIterator[MakeUp]:
    """`python -m deploy.local`, the runner `make up` calls, with its data in a folder of its own."""
    databases: dict[str, str] = {}
    if os.environ.get("TEST_DATABASE_URL"):
        databases = {f"{name.upper()}_DATABASE_URL": await database_factory(name) for name in PROCESSES}
        databases["NOTIFICATIONS_SECRETS_KEY"] = Fernet.generate_key().decode()
    stack = MakeUp(
        REPOSITORY,
        tmp_path / "data",
        free_port(),
        tmp_path / "stack.log",
        command=(sys.executable, "-m", "deploy.local"),
        extra_env=databases,
    )
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


async def bearer(http: httpx.AsyncClient, entry: dict[str, str]) -> dict[str, str]:
    return await demo.bearer(http, entry["client_id"], entry["client_secret"])


class StreamReader:
    """The operator reading plan events straight off JetStream, as the NATS user that manages the streams."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.settings = Credentials(data_dir / "nats-users").nats_settings(STREAMS_USER, url)
        self.events: list[dict[str, Any]] = []

    async def read(self, family_id: str) -> list[dict[str, Any]]:
        connection = await nats.connect(self.settings.servers, **signing_in(self.settings))
        try:
            js = connection.jetstream()
            config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
            subscription = await js.pull_subscribe("pathway.plan.>", durable="e2e-operator", config=config)
            while True:
                try:
                    messages = await subscription.fetch(100, timeout=1)
                except TimeoutError:  # nothing more: nats-py raises its own subclass, or asyncio's on a busy machine
                    break
                for message in messages:
                    event = JSONFormat().read(None, message.data)
                    data = event.get_data()
                    assert isinstance(data, dict)
                    self.events.append({"id": event.get_id(), "type": event.get_type(), "family_id": data["family_id"]})
                    await message.ack()
        finally:
            await connection.close()
        return [event for event in self.events if event["family_id"] == family_id]


async def test_partner_systems_share_one_familys_story_until_the_family_withdraws(running_stack: MakeUp) -> None:
    stack = running_stack
    log = stack.log.read_text()
    nats_url = re.search(r"nats\s+(nats://\S+)", log)
    assert nats_url, log[-2000:]
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        people = demo.demo_clients(Path(stack.env["PATHWAY_DATA_DIR"]))
        orgs = {kind: entry["organisation_id"] for kind, entry in people.items()}
        school = await bearer(http, people["school"])
        council = await bearer(http, people["council"])
        health = await bearer(http, people["health"])

        # The council's case system subscribes to plan changes.
        receiver = Receiver()
        await receiver.start()
        subscribed = await http.post("/subscriptions", json={"url": receiver.url, "event_types": ["plan.*"]},
                                     headers=council)  # fmt: skip
        assert subscribed.status_code == 201, subscribed.text
        receiver.secrets.append(subscribed.json()["secret"])

        # The school's system registers the family and asks for support.
        family = await http.post(
            "/families",
            json={"members": [{"role": "child", "given_name": "Amara", "family_name": "Okafor",
                               "date_of_birth": BORN, "identifiers": [{"system": "nhs", "value": NHS_NUMBER}]},
                              {"role": "adult", "given_name": "Grace", "family_name": "Okafor",
                               "relationship": "mother"}]},
            headers=school | {"Idempotency-Key": "story-family"},
        )  # fmt: skip
        assert family.status_code == 201, family.text
        family_id = family.json()["id"]
        request = await http.post(
            "/assessments", json=submitted_sample(family_id, "request-for-support"), headers=school
        )
        assert request.status_code == 201, request.text

        # The health visiting team finds nothing by the NHS number: it holds no basis. It asks for access.
        by_number = {"identifier": f"nhs:{NHS_NUMBER}"}
        assert (await http.get("/families", params=by_number, headers=health)).json() == []
        asked = await http.post(
            "/access-requests",
            json={"identifiers": [{"system": "nhs", "value": NHS_NUMBER}], "date_of_birth": BORN,
                  "categories": ["assessment", "plan"], "reason": "The health visitor met Amara at the clinic."},
            headers=health,
        )  # fmt: skip
        assert asked.status_code == 202 and asked.json()["status"] == "waiting", asked.text

        # The council, the early help coordinator, finds the family on its public task.
        found = (await http.get("/families", params=by_number, headers=council)).json()
        assert [f["id"] for f in found] == [family_id]

        # The council's system posts the submitted early help assessment; a draft plan appears by itself.
        assessment = await http.post(
            "/assessments", json=submitted_sample(family_id, "early-help-assessment"), headers=council
        )
        assert assessment.status_code == 201, assessment.text
        plans: list[dict[str, Any]] = []

        async def planned() -> bool:
            plans[:] = (await http.get("/plans", params={"family_id": family_id}, headers=council)).json()
            return len(plans) == 1

        await eventually(planned, within=20)
        plan_path = f"/plans/{plans[0]['id']}"
        plan = await http.get(plan_path, headers=council)
        assert plan.json()["status"] == "draft" and plan.json()["needs"]

        # The council works on the plan; each change is a new version.
        version = plan.headers["ETag"]
        need = plan.json()["needs"][0]
        for method, path, body in [
            ("PATCH", "", {"lead_professional": {"name": "Sam Lead", "organisation_id": orgs["council"]}}),
            ("POST", "/goals", {"need_ids": [need["id"]], "outcome_area": need["outcome_area"],
                                "description": "Amara is in school every day.", "measure_of_success": "95%"}),
            ("POST", "/activate", {}),
        ]:  # fmt: skip
            changed = await http.request(method, plan_path + path, json=body, headers=council | {"If-Match": version})
            assert changed.status_code == 200, changed.text
            version = changed.headers["ETag"]

        # The council sees the health team's request waiting, and approves it with the family's consent.
        incoming = (await http.get("/access-requests", params={"direction": "incoming"}, headers=council)).json()
        assert [(r["id"], r["family_id"]) for r in incoming] == [(asked.json()["id"], family_id)]
        approved = await http.post(
            f"/access-requests/{asked.json()['id']}/approve",
            json={"given_by_role": "parent_or_carer", "evidence": "written"},
            headers=council,
        )
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
        grant_id = approved.json()["grant_id"]

        # The health visiting team's system reads the plan and the assessment under the family's grant.
        read = await http.get(plan_path, headers=health)
        assert read.status_code == 200 and read.json()["status"] == "active"
        assert (await http.get(f"/assessments/{assessment.json()['id']}", headers=health)).status_code == 200

        # Every plan change in the stream reached the webhook, once.
        reader = StreamReader(nats_url.group(1), Path(stack.env["PATHWAY_DATA_DIR"]))
        plan_events: list[dict[str, Any]] = []

        async def all_four_on_nats() -> bool:
            plan_events[:] = await reader.read(family_id)
            return len(plan_events) >= 4

        await eventually(all_four_on_nats, within=20)
        assert [e["type"] for e in plan_events] == ["plan.created", "plan.updated", "plan.goal_added", "plan.activated"]
        await receiver.arrived(4, within=30)
        assert receiver.ids() == [e["id"] for e in plan_events]  # the same events, once each, in order
        assert not receiver.refused

        # The family withdraws: the health team loses access, the school was never given it.
        withdrawn = await http.post(f"/consents/{grant_id}/withdraw", json={}, headers=council)
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"

        async def refused_everywhere() -> bool:
            answers = [
                await http.get(f"/assessments/{assessment.json()['id']}", headers=health),
                await http.get(plan_path, headers=health),
                await http.get(f"/assessments/{assessment.json()['id']}", headers=school),
            ]
            return all(answer.status_code == 403 for answer in answers)

        await eventually(refused_everywhere, within=2)
        refusal = await http.get(f"/assessments/{assessment.json()['id']}", headers=health)
        assert refusal.json()["type"].endswith(":access-refused") and "Amara" not in refusal.text
        assert (await http.get(plan_path, headers=council)).status_code == 200  # the council wrote the plan

        # The access log tells the story, and its chain verifies.
        audit = await http.get("/audit", params={"family_id": family_id}, headers=council)
        assert audit.status_code == 200, audit.text
        told = {(e["organisation_id"], e["action"], e["resource_type"], e["basis"]) for e in audit.json()}
        assert {
            (orgs["school"], "create", "family", "authorship"),
            (orgs["council"], "read", "family", "public_task"),
            (orgs["health"], "read", "assessment", "refused"),
            (orgs["health"], "read", "assessment", "grant"),
            (orgs["health"], "read", "plan", "grant"),
        } <= told, told
        verified = await http.get("/audit/verify", params={"full": "true"}, headers=council)
        assert verified.json()["valid"] is True and verified.json()["entries"] >= len(audit.json())
        await receiver.stop()

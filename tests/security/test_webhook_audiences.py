"""Webhooks follow the rule REST reads follow: an event reaches a subscriber only if its organisation could read
the record the event is about at that moment. Checked over every event type the system publishes."""

from pathlib import Path
from typing import Any

import yaml

from services.kit.events.schemas import EVENT_SCHEMAS_DIR
from services.kit.natsserver import NatsServer
from services.notifications.visibility import HEARD_BY
from tests.support.notifications import MANAGES, NotificationsStack
from tests.support.organisations import Organisation
from tests.support.plan import grant
from tests.support.publishing import publish_events
from tests.support.waiting import eventually

READS_CONSENT = f"{MANAGES} consent:read"
JUSTIFICATION = (
    "The child told a teacher this morning that she is afraid to go home tonight; the social worker needs "
    "the plan before the strategy meeting at four."
)
ASYNCAPI = Path(__file__).parents[2] / "schemas" / "asyncapi.yaml"


def test_every_published_event_type_states_who_may_hear_of_it() -> None:
    published = {path.name.removesuffix(".json") for path in EVENT_SCHEMAS_DIR.glob("*.json")}
    assert set(HEARD_BY) == published
    channels = yaml.safe_load(ASYNCAPI.read_text())["channels"]
    assert set(channels) == set(HEARD_BY)
    for event_type, audience in HEARD_BY.items():
        assert audience.why, event_type
        if audience.kind == "anyone":  # only what names no family and carries nothing private
            properties = _schema_properties(event_type)
            assert "family_id" not in properties and not any("organisation" in p for p in properties), event_type


def _schema_properties(event_type: str) -> set[str]:
    schema = yaml.safe_load((EVENT_SCHEMAS_DIR / f"{event_type}.json").read_text())
    return set(schema.get("properties", {}))


async def _open_override(notifications: NotificationsStack, opener: Organisation, family_id: str) -> str:
    body = {"family_id": family_id, "justification": JUSTIFICATION}
    response = await notifications.plans.consent.post("/safeguarding-overrides", json=body, headers=opener.headers)
    assert response.status_code == 201, response.text
    override_id: str = response.json()["id"]
    return override_id


async def test_an_organisation_with_no_business_with_the_family_hears_of_none_of_its_events(
    notifications: NotificationsStack, nats_server: NatsServer
) -> None:
    council = notifications.plans.organisation("org-council")
    family_id = await notifications.plans.family(council)
    await notifications.plans.submit(council, family_id)
    plan = await notifications.plans.opened_plan(council, family_id)
    given = await grant(notifications.plans, council, family_id, categories=["plan"], recipient_types=["health"])
    override_id = await _open_override(notifications, council, family_id)

    # Subscribed to everything, with every scope a subscriber can hold.
    stranger = notifications.organisation("org-stranger", "voluntary", READS_CONSENT)
    council_officer = notifications.organisation("org-council", "council", READS_CONSENT)
    stranger_receiver, council_receiver = await notifications.receiver(), await notifications.receiver()
    strangers = await notifications.subscribe(stranger, stranger_receiver, ["*"])
    await notifications.subscribe(council_officer, council_receiver, ["*"])

    # One event of every forwarded type, about that family and made by the council, each naming the family's
    # real plan, grant and override: published on the stream the services publish on.
    data = {"family_id": family_id, "plan_id": plan["id"], "grant_id": given["id"], "override_id": override_id}
    forwarded = sorted(t for t, audience in HEARD_BY.items() if audience.forwarded)
    form = {"form_key": "early-help-assessment", "version": 9, "sha256": "0"}
    ids = await publish_events(
        nats_server.url,
        [
            (t, data, family_id, "org-council") if HEARD_BY[t].kind != "anyone" else (t, form, None, None)
            for t in forwarded
        ],
    )
    sent = dict(zip(ids, forwarded, strict=True))

    # The council wrote the plan, recorded the grant and opened the override: it hears of every one of them,
    # which shows each was taken in and decided.
    async def all_told_to_the_council() -> bool:
        return set(sent) <= set(council_receiver.ids())

    await eventually(all_told_to_the_council, within=30.0)

    outcomes: dict[str, str] = {}

    async def all_decided_for_the_stranger() -> bool:
        log = await notifications.deliveries(stranger, strangers["id"])
        outcomes.update({a["webhook_id"]: a["outcome"] for a in log if a["webhook_id"] in sent})
        return set(sent) <= set(outcomes)

    await eventually(all_decided_for_the_stranger, within=30.0)
    heard = {sent[webhook_id] for webhook_id in stranger_receiver.ids() if webhook_id in sent}
    assert heard == {t for t, audience in HEARD_BY.items() if audience.kind == "anyone"}
    withheld = {sent[webhook_id] for webhook_id, outcome in outcomes.items() if outcome == "withheld"}
    assert withheld == {t for t, audience in HEARD_BY.items() if audience.kind in ("family_data", "sharing_record")}
    assert not any(d.event.get("familyid") == family_id for d in stranger_receiver.received)


async def test_who_hears_of_a_grant_or_an_override_is_who_may_read_it(notifications: NotificationsStack) -> None:
    council = notifications.plans.organisation("org-council")
    family_id = await notifications.plans.family(council)
    readers = {
        "org-council": notifications.organisation("org-council", "council", READS_CONSENT),  # recorded and opened
        "org-health": notifications.organisation("org-health", "health", READS_CONSENT),  # named by id
        "org-school": notifications.organisation("org-school", "school", READS_CONSENT),  # named by type
        "org-police": notifications.organisation("org-police", "police", READS_CONSENT),  # named by nothing
    }
    receivers: dict[str, Any] = {}
    subscriptions: dict[str, dict[str, Any]] = {}
    for org_id, reader in readers.items():
        receivers[org_id] = await notifications.receiver()
        subscriptions[org_id] = await notifications.subscribe(reader, receivers[org_id], ["consent.*", "override.*"])

    given = await grant(
        notifications.plans,
        council,
        family_id,
        categories=["assessment"],
        recipient_organisations=["org-health"],
        recipient_types=["school"],
    )
    override_id = await _open_override(notifications, council, family_id)
    for org_id, reader in readers.items():
        await notifications.attempts(reader, subscriptions[org_id]["id"], 2)  # both decided

    consent = notifications.plans.consent
    for org_id, reader in readers.items():
        reads_grant = (await consent.get(f"/consents/{given['id']}", headers=reader.headers)).status_code == 200
        listed = await consent.get("/safeguarding-overrides", params={"family_id": family_id}, headers=reader.headers)
        assert listed.status_code == 200, listed.text
        reads_override = override_id in {o["id"] for o in listed.json()}
        told = {d.event["type"] for d in receivers[org_id].received}
        assert ("consent.granted" in told, "override.opened" in told) == (reads_grant, reads_override), org_id
    assert {d.event["type"] for d in receivers["org-council"].received} == {"consent.granted", "override.opened"}
    assert {d.event["type"] for d in receivers["org-health"].received} == {"consent.granted"}
    assert {d.event["type"] for d in receivers["org-school"].received} == {"consent.granted"}
    assert receivers["org-police"].received == []

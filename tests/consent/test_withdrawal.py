"""Withdrawing a sharing grant, or reaching its end, stops the reads it allowed within a second, in the assessment
service too; the events that announce it carry identifiers and periods, never who gave consent."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

from tests.support.consent import ConsentStack
from tests.support.problems import assert_problem
from tests.support.streams import published, stream_messages
from tests.support.waiting import eventually

PARENT, REASON = "Grace Okafor", "Grace Okafor phoned the school on Tuesday to say she no longer agrees"


async def test_a_withdrawal_refuses_the_next_read_through_the_assessment_service_within_a_second(
    stack: ConsentStack,
) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    grant = await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
    assert read.status_code == 200, read.text
    assert read.json()["id"] == assessment_id

    withdrawn = await stack.consent.post(f"/consents/{grant['id']}/withdraw", json={}, headers=health.headers)
    withdrawn_at = time.perf_counter()
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    reads = 0
    while True:
        reads += 1
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
        if read.status_code != 200:
            refused_at = time.perf_counter()
            break
        assert time.perf_counter() - withdrawn_at < 1.0, "the withdrawn grant still allowed reads after a second"
    delay = refused_at - withdrawn_at
    print(f"refused {delay * 1000:.1f} ms after the withdrawal answered, on read {reads}")
    assert_problem(read, 403, "access-refused")
    assert delay < 1.0


async def test_after_a_withdrawal_the_schools_list_of_the_familys_assessments_neither_shows_nor_counts_it(
    stack: ConsentStack,
) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    grant = await stack.grant(health, family_id, categories=["assessment"], recipient_types=["school"])
    listed = await stack.assessment.get(f"/families/{family_id}/assessments", headers=school.headers)
    assert listed.status_code == 200, listed.text
    assert [summary["id"] for summary in listed.json()] == [assessment_id]

    withdrawn = await stack.consent.post(f"/consents/{grant['id']}/withdraw", json={}, headers=health.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    withdrawn_at = time.perf_counter()

    async def hidden() -> bool:
        listed = await stack.assessment.get(f"/families/{family_id}/assessments", headers=school.headers)
        assert listed.status_code == 200, listed.text
        return listed.json() == [] and assessment_id not in listed.text

    await eventually(hidden, within=1.0)
    assert time.perf_counter() - withdrawn_at < 1.0
    assert not any("count" in header.lower() or "total" in header.lower() for header in listed.headers)
    by_author = await stack.assessment.get(f"/families/{family_id}/assessments", headers=health.headers)
    assert [summary["id"] for summary in by_author.json()] == [assessment_id]


async def test_a_grant_stops_permitting_at_its_end_without_anyone_acting_and_its_expiry_is_announced(
    stack: ConsentStack,
) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    ends_at = datetime.now(UTC) + timedelta(seconds=1.5)
    grant = await stack.grant(
        health, family_id, categories=["assessment"], recipient_organisations=[school.id], ends_at=ends_at.isoformat()
    )
    assert grant["status"] == "active"
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
    assert read.status_code == 200, read.text

    await asyncio.sleep(max(0.0, (ends_at - datetime.now(UTC)).total_seconds()))
    assert_problem(
        await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers), 403, "access-refused"
    )
    decided = await stack.consent.post(
        "/access-decisions", json={"family_id": family_id, "category": "assessment"}, headers=school.headers
    )
    assert decided.json()["decision"] == "deny"
    assert decided.json()["basis"] is None
    status = await stack.consent.get(f"/consents/{grant['id']}", headers=health.headers)
    assert status.json()["status"] == "ended"

    async def expiry_announced() -> bool:
        return bool(await published(stack, "consent.expired"))

    # At its end, not at the sweep's next look (a minute at most): the sweep sleeps until the next end.
    await eventually(expiry_announced, within=3.0)
    expired = await published(stack, "consent.expired")
    assert len(expired) == 1, expired
    assert expired[0]["grant_id"] == grant["id"]
    assert expired[0]["family_id"] == family_id
    assert datetime.fromisoformat(expired[0]["ended_at"]) == ends_at


async def test_granted_and_withdrawn_events_carry_no_name_and_no_reason(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    family_id, _ = await stack.family_with_assessment(health)
    grant = await stack.grant(
        health, family_id, categories=["assessment"], recipient_types=["school"], given_by_name=PARENT
    )
    assert grant["given_by_name"] == PARENT  # kept by the consent service, for whoever may see the grant
    withdrawn = await stack.consent.post(
        f"/consents/{grant['id']}/withdraw", json={"reason": REASON}, headers=health.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text

    async def both_published() -> bool:
        return bool(await published(stack, "consent.granted")) and bool(await published(stack, "consent.withdrawn"))

    await eventually(both_published)
    messages = [
        message
        for message in await stream_messages(stack.nats.url)
        if message.event.get_type() in ("consent.granted", "consent.withdrawn")
    ]
    assert [message.event.get_type() for message in messages] == ["consent.granted", "consent.withdrawn"]
    (granted,) = await published(stack, "consent.granted")
    (withdrawn_event,) = await published(stack, "consent.withdrawn")
    assert set(granted) == {
        "grant_id",
        "family_id",
        "categories",
        "recipient_organisations",
        "recipient_types",
        "purpose",
        "basis",
        "starts_at",
        "ends_at",
        "revision",
    }
    assert granted["grant_id"] == grant["id"]
    assert granted["recipient_types"] == ["school"]
    assert set(withdrawn_event) == {"grant_id", "family_id", "withdrawn_at", "revision"}
    assert withdrawn_event["revision"] == granted["revision"] + 1
    assert withdrawn_event["grant_id"] == grant["id"]
    for message in messages:
        whole = json.dumps(message.event.get_attributes(), default=str) + json.dumps(message.event.get_data())
        for personal in ("Grace", "Okafor", "phoned", "given_by"):
            assert personal not in whole, f"{message.event.get_type()} carries {personal!r}: {whole}"

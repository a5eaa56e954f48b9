"""The assessment service decides reads from its own copy of grants while the copy is current, and asks otherwise."""

import asyncio
import logging
import time

import nats
import pytest

from services.access.projection import ACCESS_REVISION_KEY, FRESH_FOR
from services.consent.service import access_revision
from services.kit.events.keyvalue import WATCH_PREFIX, read_counter
from services.kit.settings import NatsSettings
from tests.support.consent import ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.waiting import eventually


def _decisions_asked(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        1 for record in caplog.records if record.name == "access" and getattr(record, "path", "") == "/access-decisions"
    )


WITHIN_A_SECOND = 1.0  # the security model's limit on trusting what may have changed


async def _read_a_second_later_is_asked(
    stack: ConsentStack, url: str, reader: Organisation, caplog: pytest.LogCaptureFixture, *, since: float
) -> None:
    """A read begun a second after the watch stopped being fed is asked of the consent service.

    The copy gives up `FRESH_FOR` after the last word it heard; the rest of the second allows for that word
    having been read late on a busy machine. Timing the read's start, not its end, keeps a slow reply
    from counting against the copy."""
    assert FRESH_FOR < WITHIN_A_SECOND
    await asyncio.sleep(max(0.0, since + WITHIN_A_SECOND - time.monotonic()))
    caplog.clear()
    read = await stack.assessment.get(url, headers=reader.headers)
    assert read.status_code == 200, read.text
    assert _decisions_asked(caplog) == 1, "a copy was trusted a second after its watch stopped hearing the server"


async def test_a_granted_read_is_decided_from_the_copy_without_asking(
    stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    url = f"/assessments/{assessment_id}"

    caplog.set_level(logging.INFO, logger="access")

    async def decided_locally() -> bool:
        caplog.clear()
        read = await stack.assessment.get(url, headers=school.headers)
        return read.status_code == 200 and _decisions_asked(caplog) == 0

    await eventually(decided_locally, within=2.0)  # once the grant's event is in the copy
    caplog.clear()
    reads = [await stack.assessment.get(url, headers=school.headers) for _ in range(20)]

    assert [read.status_code for read in reads] == [200] * 20
    # A poll answered late on a loaded machine leaves the copy unproven for a moment, and a read
    # then rightly asks; what matters is that reads are decided from the copy, not one by one.
    assert _decisions_asked(caplog) <= 2


async def test_a_refusal_is_asked_again_so_a_new_grant_opens_the_next_read(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    assert_problem(
        await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers), 403, "access-refused"
    )

    await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)

    assert read.status_code == 200, read.text


async def test_with_nats_away_a_withdrawal_still_refuses_within_a_second(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    grant = await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    url = f"/assessments/{assessment_id}"

    async def readable() -> bool:
        return (await stack.assessment.get(url, headers=school.headers)).status_code == 200

    await eventually(readable)
    stack.nats.stop()  # the withdrawal's event cannot reach the copy now
    try:
        withdrawn = await stack.consent.post(f"/consents/{grant['id']}/withdraw", json={}, headers=health.headers)
        assert withdrawn.status_code == 200, withdrawn.text
        withdrawn_at = time.perf_counter()

        async def refused() -> bool:
            read = await stack.assessment.get(url, headers=school.headers)
            if read.status_code == 200:
                return False
            assert_problem(read, 403, "access-refused")
            return True

        await eventually(refused, within=1.0)
        assert time.perf_counter() - withdrawn_at < 1.0
        # And it stays refused while the copy cannot catch up.
        for _ in range(5):
            assert_problem(await stack.assessment.get(url, headers=school.headers), 403, "access-refused")
    finally:
        stack.nats.start()


async def _held_revision(stack: ConsentStack) -> int | None:
    """The access revision the consent service has written into the NATS bucket, as the copies watch it."""
    connection = await nats.connect(stack.nats.url)
    try:
        kv = await connection.jetstream().key_value(NatsSettings().bucket)
        held = await read_counter(kv, ACCESS_REVISION_KEY)
    finally:
        await connection.close()
    return None if held is None else held.value


async def _consent_revision(stack: ConsentStack) -> int:
    async with stack.consent_app.state.database.sessionmaker() as session:
        return await access_revision(session)


async def _granted_and_read_from_the_copy(
    stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> tuple[Organisation, Organisation, str, str]:
    """A family's assessment by health, shared with a school, once the school's reads come from the copy."""
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    caplog.set_level(logging.INFO, logger="access")

    async def decided_locally() -> bool:
        caplog.clear()
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)
        return read.status_code == 200 and _decisions_asked(caplog) == 0

    await eventually(decided_locally, within=5.0)
    return health, school, family_id, assessment_id


async def test_at_idle_no_service_asks_another_and_nothing_is_logged(
    stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> None:
    _, school, _, assessment_id = await _granted_and_read_from_the_copy(stack, caplog)
    assert await _held_revision(stack) == await _consent_revision(stack)

    caplog.set_level(logging.INFO)
    caplog.clear()
    await asyncio.sleep(3)
    quiet = [(record.name, record.getMessage(), getattr(record, "path", "")) for record in caplog.records]
    # The copy stayed current all along (the watch heard its heartbeats) without a request or a log line.
    caplog.set_level(logging.INFO, logger="access")
    read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=school.headers)

    assert quiet == []
    assert read.status_code == 200, read.text
    assert _decisions_asked(caplog) == 0


async def test_with_nats_stopped_reads_are_asked_and_come_back_to_the_copy_when_it_returns(
    stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> None:
    health, school, family_id, assessment_id = await _granted_and_read_from_the_copy(stack, caplog)
    url = f"/assessments/{assessment_id}"
    stack.nats.stop()  # the watch is gone: the copy is no longer trusted
    try:
        caplog.clear()
        asked = await stack.assessment.get(url, headers=school.headers)
        assert asked.status_code == 200, asked.text  # the consent service still decides, and permits
        assert _decisions_asked(caplog) == 1
        # A change while NATS is away raises the revision; its writing into the bucket waits, never lost.
        police = stack.organisation("org-police", "police")
        await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[police.id])
        before = await _consent_revision(stack)
    finally:
        stack.nats.start()

    async def written() -> bool:
        return await _held_revision(stack) == before

    await eventually(written, within=10.0)

    async def decided_locally() -> bool:
        caplog.clear()
        read = await stack.assessment.get(url, headers=school.headers)
        return read.status_code == 200 and _decisions_asked(caplog) == 0

    await eventually(decided_locally, within=10.0)  # the watch made again, the copy caught up with the grant


async def test_a_watch_whose_consumer_is_lost_is_not_trusted_and_is_made_again(
    stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> None:
    _, school, _, assessment_id = await _granted_and_read_from_the_copy(stack, caplog)
    url = f"/assessments/{assessment_id}"
    connection = await nats.connect(stack.nats.url)
    try:
        js = connection.jetstream()
        stream = f"KV_{NatsSettings().bucket}"
        (watch,) = [info.name for info in await js.consumers_info(stream) if info.name.startswith(WATCH_PREFIX)]
        copy_watch = stack.assessment_app.state.access_policy.revision
        await js.delete_consumer(stream, watch)  # NATS stays up, the heartbeats stop

        async def distrusted() -> bool:
            return copy_watch.current(within=FRESH_FOR) is None

        # Not trusted from FRESH_FOR after the last word heard until the watch is made again (a few tenths of
        # a second later, so the copy's own state is looked at, closely, rather than timed by reads).
        await eventually(distrusted, within=10.0, every=0.005)

        async def decided_locally() -> bool:
            caplog.clear()
            read = await stack.assessment.get(url, headers=school.headers)
            return read.status_code == 200 and _decisions_asked(caplog) == 0

        await eventually(decided_locally, within=10.0)
        watches = [info.name for info in await js.consumers_info(stream) if info.name.startswith(WATCH_PREFIX)]
        assert len(watches) == 1 and watches != [watch]
    finally:
        await connection.close()


async def test_a_copy_is_not_trusted_once_the_consent_service_stops_writing_the_revision(
    stack: ConsentStack, caplog: pytest.LogCaptureFixture
) -> None:
    """The consent service cut off from NATS (or dead between a commit and the key's write) while the others are not:
    the server still heartbeats to the watches, but the owner's writes stop, and reads are asked again."""
    _, school, _, assessment_id = await _granted_and_read_from_the_copy(stack, caplog)
    url = f"/assessments/{assessment_id}"
    await stack.consent_app.state.access_revision.stop()
    await _read_a_second_later_is_asked(stack, url, school, caplog, since=time.monotonic())
    caplog.clear()
    reads = [await stack.assessment.get(url, headers=school.headers) for _ in range(3)]
    assert [read.status_code for read in reads] == [200] * 3
    assert _decisions_asked(caplog) == 3, "a copy was trusted though its revision's owner had gone silent"

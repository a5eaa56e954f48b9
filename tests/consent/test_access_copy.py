"""The assessment service decides reads from its own copy of grants while the copy is current, and asks otherwise."""

import logging
import time

import pytest

from tests.support.consent import ConsentStack
from tests.support.problems import assert_problem
from tests.support.waiting import eventually


def _decisions_asked(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        1 for record in caplog.records if record.name == "access" and getattr(record, "path", "") == "/access-decisions"
    )


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

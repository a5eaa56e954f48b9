"""The front door: a coordinator decides each submitted request for support, and allocating the work opens the
family's records to the organisation that is given it, and to no other."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.assessment.service import assessments, front_door
from services.kit.natsserver import NatsServer
from services.kit.testing import TokenMint
from services.kit.workdays import working_days_between
from tests.support.consent import ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.samples import family_body, nhs_numbers, sample, submitted_sample
from tests.support.stack import MigratedDatabase, started
from tests.support.streams import StreamMessage, data_of, published, stream_messages
from tests.support.waiting import eventually

REQUEST = {"key": "request-for-support", "version": 1}
QUEUE = "/requests-for-support"
# What the request for support and the family hold that no list or event may repeat.
PRIVATE = ("Amara", "Okafor", "2017-05-14", "Maisie", "Carter", "2016-05-14", "Alder Road")
ITEM_FIELDS = {
    "assessment_id", "family_id", "organisation_id", "submitted_at", "status", "working_days_waiting", "decision",
}  # fmt: skip


@pytest.fixture
async def stack(
    nats_server: NatsServer, migrated_database: MigratedDatabase, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[ConsentStack]:
    """The assessment service and the consent service it tells of allocations and asks about access."""
    async with started(
        "consent", "assessment", nats=nats_server, database=migrated_database, data_dir=tmp_path, mint=token_mint
    ) as running:
        yield ConsentStack.of(running)


def council(stack: ConsentStack) -> Organisation:
    """The council's Early Help hub: an early help coordinator."""
    return stack.organisation("org-hub", "council", subject="duty-worker@hub", roles=("coordinator",))


async def submitted_request(stack: ConsentStack, requester: Organisation, nhs_number: str = "9434765919") -> Any:
    """A family registered by `requester`, and the request for support it submitted for it."""
    family = await stack.assessment.post("/families", json=family_body(nhs_number), headers=requester.headers)
    assert family.status_code == 201, family.text
    posted = await stack.assessment.post(
        "/assessments", json=submitted_sample(family.json()["id"], "request-for-support"), headers=requester.headers
    )
    assert posted.status_code == 201, posted.text
    return posted.json()


async def queue(stack: ConsentStack, who: Organisation, status: str = "waiting", **params: Any) -> httpx.Response:
    response = await stack.assessment.get(QUEUE, params={"status": status, **params}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response


async def counted(stack: ConsentStack, who: Organisation, status: str) -> int:
    """The front door's badge: how many requests wait for `who` or were allocated to it, without the list."""
    response = await stack.assessment.get(f"{QUEUE}/count", params={"status": status}, headers=who.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"count"}  # a number, naming no request and no family
    count = response.json()["count"]
    assert isinstance(count, int)
    return count


async def decide(stack: ConsentStack, who: Organisation, assessment_id: str, **body: Any) -> httpx.Response:
    return await stack.assessment.post(f"{QUEUE}/{assessment_id}/decision", json=body, headers=who.headers)


async def announced(stack: ConsentStack, assessment_id: str) -> list[StreamMessage]:
    """The `request.decided` messages about the request, once the outbox relay has published one."""
    found: list[StreamMessage] = []

    async def relayed() -> bool:
        found[:] = [
            message
            for message in await stream_messages(stack.nats.url)
            if message.event.get_type() == "request.decided"
            and data_of(message.event)["assessment_id"] == assessment_id
        ]
        return bool(found)

    await eventually(relayed)
    return found


def london_day(moment: str | datetime) -> date:
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return at.astimezone(ZoneInfo("Europe/London")).date()


def eha_for(family_id: str) -> dict[str, Any]:
    return submitted_sample(family_id, "early-help-assessment")


async def test_a_coordinator_allocates_a_request_to_a_school_which_alone_may_then_read_it_and_assess(
    stack: ConsentStack,
) -> None:
    hub = council(stack)
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    other_school = stack.organisation("org-other-school", "school")
    request = await submitted_request(stack, health)
    family_id = request["family_id"]

    # The coordinator sees it waiting, with the working days so far and nothing about the family itself.
    waiting = await queue(stack, hub)
    assert waiting.json() == [
        {
            "assessment_id": request["id"],
            "family_id": family_id,
            "organisation_id": health.id,
            "submitted_at": request["submitted_at"],
            "status": "waiting",
            "working_days_waiting": working_days_between(
                london_day(request["submitted_at"]), london_day(datetime.now(UTC))
            ),
            "decision": None,
        }
    ]
    assert not [secret for secret in PRIVATE if secret in waiting.text]
    assert await counted(stack, hub, "waiting") == 1
    # Nobody else sees the queue, and before the allocation the school has no basis for the family.
    for outsider in (health, school, other_school):
        assert (await queue(stack, outsider)).json() == []
        assert (await queue(stack, outsider, "decided")).json() == []
        assert (await counted(stack, outsider, "waiting"), await counted(stack, outsider, "allocated")) == (0, 0)
    assert_problem(
        await stack.assessment.get(f"/assessments/{request['id']}", headers=school.headers), 403, "access-refused"
    )
    assert_problem(
        await stack.assessment.post("/assessments", json=eha_for(family_id), headers=school.headers),
        403,
        "access-refused",
    )

    note = "School knows the family best; start an early help assessment this week."
    decided = await decide(
        stack, hub, request["id"], outcome="early_help_assessment", allocated_organisation_id=school.id, note=note
    )
    assert decided.status_code == 201, decided.text
    decision = decided.json()
    decided_at = decision.pop("decided_at")
    assert decision == {
        "outcome": "early_help_assessment",
        "allocated_organisation_id": school.id,
        "note": note,
        "decided_by": "duty-worker@hub",
        "decided_by_organisation": hub.id,
        "working_days_to_decision": working_days_between(london_day(request["submitted_at"]), london_day(decided_at)),
    }

    # It leaves the waiting list for the decided one, with its decision.
    assert (await queue(stack, hub)).json() == []
    assert await counted(stack, hub, "waiting") == 0
    (listed,) = (await queue(stack, hub, "decided")).json()
    assert set(listed) == ITEM_FIELDS
    assert (listed["assessment_id"], listed["status"], listed["working_days_waiting"]) == (
        request["id"],
        "decided",
        None,
    )
    assert listed["decision"] == {**decision, "decided_at": decided_at}

    # The school was given the work: it sees the request in its list, reads it and assesses the family.
    assert [item["assessment_id"] for item in (await queue(stack, school, "decided")).json()] == [request["id"]]
    assert await counted(stack, school, "allocated") == 1
    read = await stack.assessment.get(f"/assessments/{request['id']}", headers=school.headers)
    assert read.status_code == 200, read.text
    assert read.json()["answers"] == sample("request-for-support", 1)
    assessed = await stack.assessment.post("/assessments", json=eha_for(family_id), headers=school.headers)
    assert assessed.status_code == 201, assessed.text
    assert (assessed.json()["family_id"], assessed.json()["organisation_id"]) == (family_id, school.id)

    # The school's reads were on the allocation, each in the access log.
    async def read_on_the_allocation() -> bool:
        entries = [e for e in await published(stack, "audit.recorded") if e["organisation_id"] == school.id]
        listed = [e["basis"] for e in entries if e["action"] == "list" and e["resource_id"] == request["id"]]
        return listed == ["allocation"]

    await eventually(read_on_the_allocation)

    # Another school was given nothing: it sees nothing, reads nothing, writes nothing.
    assert (await queue(stack, other_school, "decided")).json() == []
    assert_problem(
        await stack.assessment.get(f"/assessments/{request['id']}", headers=other_school.headers), 403, "access-refused"
    )
    assert_problem(
        await stack.assessment.post("/assessments", json=eha_for(family_id), headers=other_school.headers),
        403,
        "access-refused",
    )
    # Nor does the organisation that asked for support see the decision in the queue: it was not given the work.
    assert (await queue(stack, health, "decided")).json() == []
    assert (await counted(stack, other_school, "allocated"), await counted(stack, health, "allocated")) == (0, 0)
    assert_problem(
        await stack.assessment.get(f"{QUEUE}/count", params={"status": "decided"}, headers=hub.headers),
        422,
        "validation-failed",
    )


async def test_only_a_coordinator_decides(stack: ConsentStack) -> None:
    health = stack.organisation("org-health", "health")
    request = await submitted_request(stack, health)
    school = stack.organisation("org-school", "school")
    council_without_the_role = stack.organisation("org-council", "council")
    for who in (health, school, council_without_the_role):
        refused = await decide(stack, who, request["id"], outcome="signpost")
        problem = assert_problem(refused, 403, "not-a-coordinator")
        assert request["family_id"] not in refused.text
        assert "decision" not in problem
    # The request still waits for the coordinator.
    assert [item["assessment_id"] for item in (await queue(stack, council(stack))).json()] == [request["id"]]


async def test_a_request_is_decided_once(stack: ConsentStack) -> None:
    hub = council(stack)
    request = await submitted_request(stack, stack.organisation("org-health", "health"))
    first = await decide(stack, hub, request["id"], outcome="signpost", note="Parenting course at the family hub.")
    assert first.status_code == 201, first.text
    again = await decide(stack, hub, request["id"], outcome="refer_to_social_care")
    assert_problem(again, 409, "request-for-support-decided")
    (listed,) = (await queue(stack, hub, "decided")).json()
    assert (listed["decision"]["outcome"], listed["decision"]["allocated_organisation_id"]) == ("signpost", None)


async def test_a_draft_request_is_not_decided_and_only_requests_for_support_are(stack: ConsentStack) -> None:
    hub = council(stack)
    health = stack.organisation("org-health", "health")
    family = await stack.assessment.post("/families", json=family_body(), headers=health.headers)
    family_id = family.json()["id"]
    body = {"family_id": family_id, "form": REQUEST, "answers": {}, "status": "draft"}
    draft = await stack.assessment.post("/assessments", json=body, headers=health.headers)
    assert draft.status_code == 201, draft.text

    assert_problem(
        await decide(stack, hub, draft.json()["id"], outcome="signpost"), 409, "request-for-support-not-submitted"
    )
    assert (await queue(stack, hub)).json() == []  # a draft does not wait at the front door
    eha = await stack.assessment.post("/assessments", json=eha_for(family_id), headers=health.headers)
    assert_problem(await decide(stack, hub, eha.json()["id"], outcome="signpost"), 404, "request-for-support-not-found")
    unknown = "3f1c7a52-5a51-4c55-9b39-1f9cf3b1f6d2"
    assert_problem(await decide(stack, hub, unknown, outcome="signpost"), 404, "request-for-support-not-found")


async def test_an_early_help_assessment_is_allocated_to_an_organisation(stack: ConsentStack) -> None:
    hub = council(stack)
    request = await submitted_request(stack, stack.organisation("org-health", "health"))

    unallocated = await decide(stack, hub, request["id"], outcome="early_help_assessment")
    errors = assert_problem(unallocated, 422, "validation-failed")["errors"]
    assert isinstance(errors, list) and [error["pointer"] for error in errors] == ["/allocated_organisation_id"]
    # Signposting shares nothing: naming an organisation would open the records to it.
    signposted = await decide(stack, hub, request["id"], outcome="signpost", allocated_organisation_id="org-charity")
    assert_problem(signposted, 422, "validation-failed")
    assert_problem(await decide(stack, hub, request["id"], outcome="adopt"), 422, "validation-failed")
    # None of them was recorded: the request still waits.
    assert [item["assessment_id"] for item in (await queue(stack, hub)).json()] == [request["id"]]


async def test_the_decision_is_announced_and_audited_with_identifiers_only(stack: ConsentStack) -> None:
    hub = council(stack)
    health = stack.organisation("org-health", "health")
    request = await submitted_request(stack, health)
    note = "Maisie Carter's school is best placed."  # a careless note: it stays out of the event
    decided = await decide(
        stack, hub, request["id"], outcome="multi_agency_panel", allocated_organisation_id="org-panel", note=note
    )
    assert decided.status_code == 201, decided.text

    (message,) = await announced(stack, request["id"])
    assert message.subject == "pathway.request.decided"
    assert message.event.get_extension("familyid") == request["family_id"]
    assert data_of(message.event) == {
        "assessment_id": request["id"],
        "family_id": request["family_id"],
        "organisation_id": hub.id,
        "outcome": "multi_agency_panel",
        "allocated_organisation_id": "org-panel",
        "working_days_to_decision": decided.json()["working_days_to_decision"],
    }
    assert not [secret for secret in (*PRIVATE, note) if secret in str(data_of(message.event))]
    entries = [
        entry
        for entry in await published(stack, "audit.recorded")
        if entry["resource_id"] == request["id"] and entry["action"] == "decide"
    ]
    assert [(e["organisation_id"], e["actor"], e["basis"], e["family_id"]) for e in entries] == [
        (hub.id, "duty-worker@hub", "public_task", request["family_id"])
    ]


async def test_a_long_queue_is_read_in_pages(stack: ConsentStack) -> None:
    hub = council(stack)
    health = stack.organisation("org-health", "health")
    requests = [await submitted_request(stack, health, number) for number in nhs_numbers(3)]

    seen: list[str] = []
    first = await queue(stack, hub, limit=2)
    seen += [item["assessment_id"] for item in first.json()]
    link = first.headers["link"]
    assert link.startswith("</requests-for-support?") and link.endswith('>; rel="next"')
    rest = await stack.assessment.get(link[1 : link.index(">")], headers=hub.headers)
    assert rest.status_code == 200, rest.text
    seen += [item["assessment_id"] for item in rest.json()]
    assert "link" not in rest.headers
    assert seen == [request["id"] for request in requests]  # oldest first
    bad = await stack.assessment.get(QUEUE, params={"after": "not-a-request"}, headers=hub.headers)
    assert_problem(bad, 422, "validation-failed")


async def test_the_working_day_clock_leaves_out_the_weekend_and_bank_holidays(
    stack: ConsentStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submitted on the Thursday before Easter 2025, decided the Wednesday after: Good Friday, the weekend and
    Easter Monday are not working days, so two working days passed (Tuesday and Wednesday), not six."""
    thursday = datetime(2025, 4, 17, 16, 0, tzinfo=UTC)
    wednesday = datetime(2025, 4, 23, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(assessments, "now", lambda: thursday)
    request = await submitted_request(stack, stack.organisation("org-health", "health"))
    assert request["submitted_at"] == "2025-04-17T16:00:00Z"
    monkeypatch.setattr(front_door, "now", lambda: wednesday)

    hub = council(stack)
    (waiting,) = (await queue(stack, hub)).json()
    assert waiting["working_days_waiting"] == 2
    decided = await decide(stack, hub, request["id"], outcome="no_further_action")
    assert decided.status_code == 201, decided.text
    assert (decided.json()["decided_at"], decided.json()["working_days_to_decision"]) == ("2025-04-23T09:30:00Z", 2)
    assert [data_of(m.event)["working_days_to_decision"] for m in await announced(stack, request["id"])] == [2]


async def test_an_allocation_the_consent_service_cannot_be_told_of_is_not_decided(stack: ConsentStack) -> None:
    """Fail closed: a decision whose allocation is not known where access is decided is rolled back, not half made."""
    hub = council(stack)
    request = await submitted_request(stack, stack.organisation("org-health", "health"))
    standing = stack.assessment_app.state.consent.standing
    told_at, standing.url = standing.url, "http://127.0.0.1:9/internal/relations"  # nothing listens there
    try:
        unreachable = await decide(
            stack, hub, request["id"], outcome="early_help_assessment", allocated_organisation_id="org-school"
        )
    finally:
        standing.url = told_at
    assert_problem(unreachable, 503, "service-unavailable")
    assert [item["assessment_id"] for item in (await queue(stack, hub)).json()] == [request["id"]]
    assert (await queue(stack, hub, "decided")).json() == []

    again = await decide(
        stack, hub, request["id"], outcome="early_help_assessment", allocated_organisation_id="org-school"
    )
    assert again.status_code == 201, again.text
    assert [data_of(m.event)["outcome"] for m in await announced(stack, request["id"])] == ["early_help_assessment"]

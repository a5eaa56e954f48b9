"""Referrals to children's social care and their outcomes: from a step-up, the front door or after closure, each
recorded once, read and written only with a basis for the family's plans, audited, and announced without a reason."""

import copy
import json
import uuid
from datetime import date, timedelta
from typing import Any

import nats

from services.kit.events.envelope import nats_subject, to_json
from services.kit.events.outbox import MSG_ID_HEADER
from tests.support.organisations import Organisation
from tests.support.plan import EVERY_SCOPE, PlanStack, grant
from tests.support.problems import assert_problem
from tests.support.samples import assessment_answers
from tests.support.streams import data_of, published, stream_messages
from tests.support.waiting import eventually

STEP_UP_REASON = "Bruising seen at a home visit; the younger child said she is afraid of her stepfather."
REFERRAL_REASON = "Mum told the family worker the children saw a serious assault at home last weekend."
EVERY_OUTCOME = ("child_in_need", "child_protection", "looked_after", "no_further_action", "returned_to_early_help")


def _with_next_step(next_step: str) -> dict[str, Any]:
    answers = copy.deepcopy(assessment_answers())
    answers["next_step"] = next_step
    return answers


def _coordinator(stack: PlanStack) -> Organisation:
    return stack.organisation("org-hub", roles=("coordinator",))


async def _referrals(stack: PlanStack, who: Organisation, family_id: str) -> list[dict[str, Any]]:
    response = await stack.plans.get(f"/families/{family_id}/social-care-referrals", headers=who.headers)
    assert response.status_code == 200, response.text
    referrals: list[dict[str, Any]] = response.json()
    return referrals


async def _refer(stack: PlanStack, who: Organisation, family_id: str, **body: Any) -> dict[str, Any]:
    body = {"referred_on": date.today().isoformat(), "source": "front_door", "reason": REFERRAL_REASON, **body}
    response = await stack.plans.post(f"/families/{family_id}/social-care-referrals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    referral: dict[str, Any] = response.json()
    assert response.headers["Location"] == f"/social-care-referrals/{referral['id']}"
    return referral


async def _announced(stack: PlanStack, event_type: str, family_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The family's events of this type once the outbox has published at least `count` of them."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = [e for e in await published(stack, event_type) if e["family_id"] == family_id]
        return len(found) >= count

    await eventually(arrived)
    return found


async def _audited(stack: PlanStack, resource_id: str, count: int = 1) -> list[tuple[str, str, str]]:
    """(organisation, action, basis) of the accesses to a resource the plan service recorded, once `count` are."""
    found: list[tuple[str, str, str]] = []

    async def recorded() -> bool:
        entries = await published(stack, "audit.recorded")
        found[:] = [(e["organisation_id"], e["action"], e["basis"]) for e in entries if e["resource_id"] == resource_id]
        return len(found) >= count

    await eventually(recorded)
    return found


async def test_a_step_up_refers_the_family_to_social_care_with_the_plan_s_id(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)

    stepped_up = await plan_stack.change(council, plan, "/step-up", {"reason": STEP_UP_REASON})

    (referral,) = await _referrals(plan_stack, council, family_id)
    assert referral == {
        "id": referral["id"],
        "family_id": family_id,
        "referred_on": stepped_up["step_up"]["stepped_up_on"],
        "source": "step_up",
        "reason": STEP_UP_REASON,
        "organisation_id": "org-council",
        "plan_id": plan["id"],
        "assessment_id": None,
        "days_since_closure": None,
        "outcome": None,
        "decided_on": None,
        "allowed_actions": ["record_outcome"],  # the plan's author may record what social care decides
    }
    one = await plan_stack.plans.get(f"/social-care-referrals/{referral['id']}", headers=council.headers)
    assert (one.status_code, one.json()) == (200, referral)
    (event,) = await _announced(plan_stack, "social_care.referred", family_id)
    assert event == {
        "referral_id": referral["id"],
        "family_id": family_id,
        "organisation_id": "org-council",
        "source": "step_up",
        "plan_id": plan["id"],
        "assessment_id": None,
    }
    assert await _audited(plan_stack, referral["id"], 2) == [
        ("org-council", "create", "authorship"),
        ("org-council", "read", "authorship"),
    ]


async def test_an_outcome_is_recorded_once_and_never_before_the_referral_nor_in_the_future(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    hub = _coordinator(plan_stack)
    family_id = await plan_stack.family(council)
    referred_on = date.today() - timedelta(days=10)
    referral = await _refer(plan_stack, hub, family_id, referred_on=referred_on.isoformat())
    assert (referral["source"], referral["organisation_id"], referral["outcome"]) == ("front_door", "org-hub", None)
    outcome_path = f"/social-care-referrals/{referral['id']}/outcome"

    async def record(outcome: str, decided_on: date) -> Any:
        body = {"outcome": outcome, "decided_on": decided_on.isoformat()}
        return await plan_stack.plans.post(outcome_path, json=body, headers=hub.headers)

    before = await record("child_in_need", referred_on - timedelta(days=1))
    assert_problem(before, 422, "invalid-referral")
    assert referred_on.isoformat() in before.json()["detail"]
    assert_problem(await record("child_in_need", date.today() + timedelta(days=1)), 422, "invalid-referral")
    unknown = await plan_stack.plans.post(outcome_path, json={"outcome": "adopted", "decided_on": "2026-01-01"},
                                          headers=hub.headers)  # fmt: skip
    assert_problem(unknown, 422, "validation-failed")

    decided = await record("child_protection", referred_on + timedelta(days=3))
    assert decided.status_code == 200, decided.text
    assert referral["allowed_actions"] == ["record_outcome"]
    assert decided.json() == referral | {
        "outcome": "child_protection",
        "decided_on": (referred_on + timedelta(days=3)).isoformat(),
        "allowed_actions": [],  # recorded once: nothing more to do
    }
    again = await record("no_further_action", date.today())
    assert_problem(again, 409, "outcome-already-recorded")
    assert again.json()["outcome"] == "child_protection"
    assert (await _referrals(plan_stack, hub, family_id)) == [decided.json()]

    (event,) = await _announced(plan_stack, "social_care.outcome_recorded", family_id)
    assert event == {
        "referral_id": referral["id"],
        "family_id": family_id,
        "organisation_id": "org-hub",
        "outcome": "child_protection",
    }
    # Refused attempts are rolled back with their entries; the hub is the referral's author, having written it.
    assert await _audited(plan_stack, referral["id"], 2) == [
        ("org-hub", "create", "authorship"),
        ("org-hub", "record_outcome", "authorship"),
    ]


async def test_every_outcome_social_care_decides_is_recorded(plan_stack: PlanStack) -> None:
    hub = _coordinator(plan_stack)
    family_id = await plan_stack.family(plan_stack.organisation("org-council"))
    for outcome in EVERY_OUTCOME:
        referral = await _refer(plan_stack, hub, family_id)
        body = {"outcome": outcome, "decided_on": date.today().isoformat()}
        response = await plan_stack.plans.post(
            f"/social-care-referrals/{referral['id']}/outcome", json=body, headers=hub.headers
        )
        assert (response.status_code, response.json()["outcome"]) == (200, outcome)


async def _redeliver(stack: PlanStack, assessment_id: str) -> None:
    """The assessment's `assessment.submitted` again: as JetStream redelivers it (its own id), and as a copy
    under a new id (a producer that sent it twice); past the stream's de-duplication either way."""
    (submitted,) = [
        m.event
        for m in await stream_messages(stack.nats.url)
        if m.event.get_type() == "assessment.submitted" and data_of(m.event)["assessment_id"] == assessment_id
    ]
    copy_with_a_new_id = json.loads(to_json(submitted)) | {"id": str(uuid.uuid4())}
    nc = await nats.connect(stack.nats.url)
    try:
        js = nc.jetstream()
        subject = nats_subject("assessment.submitted")
        await js.publish(subject, to_json(submitted), headers={MSG_ID_HEADER: str(uuid.uuid4())})
        await js.publish(subject, json.dumps(copy_with_a_new_id).encode(), headers={MSG_ID_HEADER: str(uuid.uuid4())})
    finally:
        await nc.close()


async def test_an_assessment_referring_to_social_care_records_one_front_door_referral_and_opens_no_plan(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    assessment_id = await plan_stack.submit(council, family_id, _with_next_step("refer_to_social_care"))

    found: list[dict[str, Any]] = []

    async def referred() -> bool:  # until then the council wrote nothing of the family's plans: a 403
        response = await plan_stack.plans.get(f"/families/{family_id}/social-care-referrals", headers=council.headers)
        found[:] = response.json() if response.status_code == 200 else []
        return bool(found)

    await eventually(referred)
    (referral,) = found
    assert referral == {
        "id": referral["id"],
        "family_id": family_id,
        "referred_on": date.today().isoformat(),
        "source": "front_door",
        "reason": None,  # the assessment says why, read there with the family's consent
        "organisation_id": "org-council",
        "plan_id": None,
        "assessment_id": assessment_id,
        "days_since_closure": None,
        "outcome": None,
        "decided_on": None,
        "allowed_actions": ["record_outcome"],  # the referrer records what social care decided
    }

    await _redeliver(plan_stack, assessment_id)
    # The consumer takes events in order: once the next assessment's plan is open, the redeliveries were handled.
    await plan_stack.submit(council, family_id, _with_next_step("team_around_the_family"))
    plan = await plan_stack.opened_plan(council, family_id)
    assert plan["assessment_id"] != assessment_id, "the referring assessment opened no plan"
    assert await _referrals(plan_stack, council, family_id) == [referral]
    assert await _announced(plan_stack, "social_care.referred", family_id) == [
        {
            "referral_id": referral["id"],
            "family_id": family_id,
            "organisation_id": "org-council",
            "source": "front_door",
            "plan_id": None,
            "assessment_id": assessment_id,
        }
    ]
    assert ("org-council", "create", "authorship") in await _audited(plan_stack, referral["id"])


async def test_closed_then_referred_to_social_care_within_6_weeks_is_counted_from_the_family_s_referrals(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    family_id = await plan_stack.family(council)
    today = date.today()
    too_early = {"referred_on": today.isoformat(), "source": "after_closure", "reason": REFERRAL_REASON}
    never_closed = await plan_stack.plans.post(
        f"/families/{family_id}/social-care-referrals", json=too_early, headers=council.headers
    )
    assert_problem(never_closed, 403, "access-refused")  # no plan yet: the council holds no basis for its plans

    await plan_stack.submit(council, family_id, assessment_answers(started=(today - timedelta(days=120)).isoformat()))
    plan = await plan_stack.active_plan(council, family_id, activated_on=(today - timedelta(days=100)).isoformat())
    open_plan = await plan_stack.plans.post(
        f"/families/{family_id}/social-care-referrals", json=too_early, headers=council.headers
    )
    assert_problem(open_plan, 422, "invalid-referral")  # nothing has closed yet
    closed_on = today - timedelta(days=60)
    await plan_stack.change(council, plan, "/close", {"reason": "outcomes_met", "closed_on": closed_on.isoformat()})

    before_closure = await plan_stack.plans.post(
        f"/families/{family_id}/social-care-referrals",
        json=too_early | {"referred_on": (closed_on - timedelta(days=1)).isoformat()},
        headers=council.headers,
    )
    assert_problem(before_closure, 422, "invalid-referral")
    in_the_future = too_early | {"referred_on": (today + timedelta(days=1)).isoformat()}
    future = await plan_stack.plans.post(
        f"/families/{family_id}/social-care-referrals", json=in_the_future, headers=council.headers
    )
    assert_problem(future, 422, "invalid-referral")
    step_up = await plan_stack.plans.post(
        f"/families/{family_id}/social-care-referrals", json=too_early | {"source": "step_up"}, headers=council.headers
    )
    assert_problem(step_up, 422, "invalid-referral")
    assert "/step-up" in step_up.json()["detail"]

    within = await _refer(plan_stack, council, family_id, source="after_closure",
                          referred_on=(closed_on + timedelta(days=40)).isoformat())  # fmt: skip
    later = await _refer(plan_stack, council, family_id, source="after_closure",
                         referred_on=(closed_on + timedelta(days=50)).isoformat())  # fmt: skip
    assert (within["plan_id"], within["days_since_closure"]) == (plan["id"], 40)
    assert (later["plan_id"], later["days_since_closure"]) == (plan["id"], 50)

    # The measure a council publishes: closed, then referred to social care within 6 weeks.
    referrals = await _referrals(plan_stack, council, family_id)
    within_6_weeks = [
        r for r in referrals if r["source"] == "after_closure" and r["days_since_closure"] <= 42
    ]  # fmt: skip
    assert [r["id"] for r in within_6_weeks] == [within["id"]]


async def test_an_organisation_without_a_basis_learns_nothing_and_a_grantee_reads_but_does_not_refer(
    plan_stack: PlanStack,
) -> None:
    council = plan_stack.organisation("org-council")
    stranger = plan_stack.organisation("org-stranger", "school")
    grantee = plan_stack.organisation("org-grantee", "health")
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)
    await plan_stack.change(council, plan, "/step-up", {"reason": STEP_UP_REASON})
    (referral,) = await _referrals(plan_stack, council, family_id)
    unknown_family = str(uuid.uuid4())
    new_referral = {"referred_on": date.today().isoformat(), "source": "front_door", "reason": REFERRAL_REASON}
    decision = {"outcome": "child_in_need", "decided_on": date.today().isoformat()}

    calls = {
        "list": ("GET", f"/families/{family_id}/social-care-referrals", None),
        "list of an unknown family": ("GET", f"/families/{unknown_family}/social-care-referrals", None),
        "read": ("GET", f"/social-care-referrals/{referral['id']}", None),
        "refer": ("POST", f"/families/{family_id}/social-care-referrals", new_referral),
        "refer an unknown family": ("POST", f"/families/{unknown_family}/social-care-referrals", new_referral),
        "outcome": ("POST", f"/social-care-referrals/{referral['id']}/outcome", decision),
    }
    answers = {}
    for name, (method, path, body) in calls.items():
        response = await plan_stack.plans.request(method, path, json=body, headers=stranger.headers)
        assert_problem(response, 403, "access-refused")
        for secret in (referral["id"], STEP_UP_REASON, plan["id"], "org-council"):
            assert secret not in response.text.replace(path, ""), (name, secret)
        answers[name] = {k: v for k, v in response.json().items() if k not in ("instance", "request_id")}
    # A family that exists and one that does not are refused alike.
    assert answers["list"] == answers["list of an unknown family"]
    assert answers["refer"] == answers["refer an unknown family"]
    missing = await plan_stack.plans.get(f"/social-care-referrals/{uuid.uuid4()}", headers=council.headers)
    assert_problem(missing, 404, "social-care-referral-not-found")

    about_the_family = set(await _audited(plan_stack, family_id, 3))
    assert {("org-stranger", "read_social_care_referrals", "refused"), ("org-stranger", "refer", "refused")} <= (
        about_the_family
    )
    assert set(await _audited(plan_stack, referral["id"], 3)) == {
        ("org-council", "create", "authorship"),
        ("org-stranger", "read", "refused"),
        ("org-stranger", "record_outcome", "refused"),
    }

    await grant(plan_stack, council, family_id, categories=["plan"], recipient_organisations=["org-grantee"])

    async def granted() -> bool:
        read = await plan_stack.plans.get(f"/social-care-referrals/{referral['id']}", headers=grantee.headers)
        return read.status_code == 200

    await eventually(granted)
    # The grantee reads the referral as it is, and is offered nothing to do to it.
    assert await _referrals(plan_stack, grantee, family_id) == [referral | {"allowed_actions": []}]
    assert referral["allowed_actions"] == ["record_outcome"]
    path = f"/social-care-referrals/{referral['id']}/outcome"
    refused = await plan_stack.plans.post(path, json=decision, headers=grantee.headers)
    assert_problem(refused, 403, "not-a-referrer")
    refer = await plan_stack.plans.post(
        f"/families/{family_id}/social-care-referrals", json=new_referral, headers=grantee.headers
    )
    assert_problem(refer, 403, "not-a-referrer")
    assert (await _referrals(plan_stack, council, family_id)) == [referral]


async def test_no_event_carries_a_referral_s_reason(plan_stack: PlanStack) -> None:
    council = plan_stack.organisation("org-council", scopes=EVERY_SCOPE)
    hub = _coordinator(plan_stack)
    family_id = await plan_stack.family(council)
    await plan_stack.submit(council, family_id)
    plan = await plan_stack.active_plan(council, family_id)
    await plan_stack.change(council, plan, "/step-up", {"reason": STEP_UP_REASON})
    referral = await _refer(plan_stack, hub, family_id)
    decided = await plan_stack.plans.post(
        f"/social-care-referrals/{referral['id']}/outcome",
        json={"outcome": "no_further_action", "decided_on": date.today().isoformat()},
        headers=hub.headers,
    )
    assert decided.status_code == 200, decided.text

    await _announced(plan_stack, "social_care.referred", family_id, 2)
    await _announced(plan_stack, "social_care.outcome_recorded", family_id)
    for message in await stream_messages(plan_stack.nats.url):
        told = json.dumps(message.event.get_data())
        assert STEP_UP_REASON not in told and REFERRAL_REASON not in told, message.event.get_type()

"""Every route that names or returns a family's data, for every kind of actor, answers by the access rule.

The matrix is checked against the OpenAPI document the gateway serves: an operation in it that is neither
in `MATRIX` nor in `NOT_FAMILY_DATA` (with its reason) fails the test, so a new route cannot slip past.
Every call goes through the gateway, with tokens of clients the admin API made (docs/security.md).
One stack serves the whole matrix; every wrong cell is collected, and they are reported together.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.support.gateway import Gateway, GatewayStack
from tests.support.problems import PROBLEM
from tests.support.samples import family_body, sample, submitted_sample
from tests.support.waiting import eventually

NHS_NUMBER = "9434765919"
SECOND_NHS_NUMBER = "9434765927"  # the family where safeguarding overrides are opened
BORN = "2017-05-14"  # the child's date of birth in family_body
EVERY_SCOPE = [
    "assessments:read", "assessments:write", "plans:read", "plans:write",
    "consent:read", "consent:write", "reports:read", "subscriptions:manage",
]  # fmt: skip
NOT_AN_ACTOR = "org-not-an-actor"
FORM = {"key": "early-help-assessment", "version": 1}
ANSWERS = sample("early-help-assessment", 1)
CONSENTED = {"given_by_role": "parent_or_carer", "evidence": "verbal"}
JUSTIFICATION = "The younger child came to school with bruising and said she is afraid to go home tonight."
SETTLING_SECONDS = 30.0  # generous: two cores shared with other test runs

AUTHOR = "author"
TEAM_MEMBER = "team member"
GRANTEE = "grantee of the category"
OTHER_GRANTEE = "grantee of the other category"
WITHDRAWN_GRANTEE = "withdrawn grantee"
EXPIRED_GRANTEE = "expired grantee"
COORDINATOR = "coordinator"
SAME_TYPE_STRANGER = "stranger of the same type"
OTHER_TYPE_STRANGER = "stranger of another type"
# name: (organisation type, early help coordinator); the order in which every row calls them.
ACTORS = {
    AUTHOR: ("school", False),
    TEAM_MEMBER: ("council", False),
    GRANTEE: ("health", False),
    OTHER_GRANTEE: ("voluntary", False),
    WITHDRAWN_GRANTEE: ("police", False),
    EXPIRED_GRANTEE: ("social_care", False),
    COORDINATOR: ("council", True),
    SAME_TYPE_STRANGER: ("school", False),
    OTHER_TYPE_STRANGER: ("health", False),
}
# Who holds a basis for the family as a whole, by category (docs/security.md, "A basis").
ASSESSMENT_HOLDERS = frozenset({AUTHOR, TEAM_MEMBER, GRANTEE, COORDINATOR})
PLAN_HOLDERS = frozenset({AUTHOR, TEAM_MEMBER, OTHER_GRANTEE, COORDINATOR})
ANY_HOLDERS = ASSESSMENT_HOLDERS | PLAN_HOLDERS
ON_THE_PLAN = frozenset({AUTHOR, TEAM_MEMBER})  # the plan's author, and its team and lead's organisation
# The plan's case notes: its author and lead's organisation (the team member leads it) keep them; the grantee of
# plans does not see them, a coordinator does by its public task (docs/security.md, "Case notes").
CASE_NOTES_HOLDERS = frozenset({AUTHOR, TEAM_MEMBER, COORDINATOR})
CASE_NOTE = "Home visit: the children were at home with their grandmother; Mum was at work."
WITHDRAWERS = frozenset({AUTHOR, TEAM_MEMBER, COORDINATOR})  # recorder, lead's organisation, coordinator


@dataclass(frozen=True)
class Actor:
    name: str
    id: str
    headers: dict[str, str]


@dataclass
class World:
    """The family every cell asks about, as its author left it, and who is who."""

    http: httpx.AsyncClient
    actors: dict[str, Actor]
    family_id: str = ""
    assessment_id: str = ""  # submitted by the author; the plan opened from it
    draft_id: str = ""  # a draft of the author's, for PUT
    plan_id: str = ""
    contact_id: str = ""  # recorded on the plan by the author
    grant_id: str = ""  # the grant of the category to its grantee
    second_family_id: str = ""
    waiting_request_id: str = ""  # asked by the stranger of the same type
    support_request_id: str = ""  # a request for support the author submitted, waiting at the front door
    overrides: dict[str, str] = field(default_factory=dict)  # the override each actor opened
    auditor: dict[str, str] = field(default_factory=dict)  # the coordinator council's client holding audit:read

    @property
    def author(self) -> Actor:
        return self.actors[AUTHOR]

    async def as_author(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, headers=self.author.headers, **kwargs)
        assert response.status_code in (200, 201, 202), (method, path, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    async def current(self, path: str) -> tuple[dict[str, Any], dict[str, str]]:
        """What the author reads at `path`, and the `If-Match` header that changes it."""
        response = await self.http.get(path, headers=self.author.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body, {"If-Match": response.headers["etag"]}

    def private(self) -> tuple[str, ...]:
        """What no refusal may hold: the family's id, its members' names, the author's id."""
        return self.family_id, "Amara", "Okafor", self.author.id


Call = Callable[[World, Actor], Awaitable[httpx.Response]]
Inspection = Callable[[World, Actor, httpx.Response], Awaitable[str | None]]


@dataclass(frozen=True)
class Expected:
    statuses: frozenset[int]
    slug: str | None = None  # the problem type of a refusal


def answers(*statuses: int) -> Expected:
    return Expected(frozenset(statuses))


def refused(status: int, slug: str) -> Expected:
    return Expected(frozenset({status}), slug)


ACCESS_REFUSED = refused(403, "access-refused")
CHANGES_ITS_STATE = answers(200, 201, 409, 422)  # on the plan: anything but a refusal


def rule(holders: frozenset[str], then: Expected, otherwise: Expected) -> Callable[[str], Expected]:
    return lambda actor: then if actor in holders else otherwise


def by_actor(default: Expected, **special: Expected) -> Callable[[str], Expected]:
    named = {name.replace("_", " "): expected for name, expected in special.items()}
    return lambda actor: named.get(actor, default)


async def nothing_more(world: World, actor: Actor, response: httpx.Response) -> str | None:
    return None


@dataclass(frozen=True)
class Row:
    call: Call
    expect: Callable[[str], Expected]
    inspect: Inspection = nothing_more  # what must (not) be in an answer of the expected status
    why: str = ""  # where the expectation is other than the bare rule, and why


def lists(item: Callable[[World], str], holders: frozenset[str]) -> Inspection:
    """A list that holds `item` for holders and is empty for everyone else."""

    async def inspect(world: World, actor: Actor, response: httpx.Response) -> str | None:
        ids = [entry["id"] for entry in response.json()]
        if actor.name in holders:
            return None if item(world) in ids else f"{item(world)} not listed: {ids}"
        return None if ids == [] else f"lists {ids}, expected []"

    return inspect


# --- the calls, and what their answers must hold -------------------------------------------


async def register_the_same_child(world: World, actor: Actor) -> httpx.Response:
    return await world.http.post("/families", json=family_body(NHS_NUMBER), headers=actor.headers)


async def names_no_family(world: World, actor: Actor, response: httpx.Response) -> str | None:
    told = response.text + str(dict(response.headers))
    if "location" in response.headers or world.family_id in told:
        return "the 409 names the family (its id or a Location)"
    return None


async def draft(world: World) -> str:
    body = {"family_id": world.family_id, "form": FORM, "answers": ANSWERS, "status": "draft"}
    return str((await world.as_author("POST", "/assessments", json=body))["id"])


async def start_a_draft(world: World, actor: Actor) -> httpx.Response:
    body = {"family_id": world.family_id, "form": FORM, "answers": ANSWERS, "status": "draft"}
    return await world.http.post("/assessments", json=body, headers=actor.headers)


async def change_the_draft(world: World, actor: Actor) -> httpx.Response:
    _, if_match = await world.current(f"/assessments/{world.draft_id}")
    path = f"/assessments/{world.draft_id}"
    return await world.http.put(path, json={"answers": ANSWERS}, headers=actor.headers | if_match)


async def submit_a_fresh_draft(world: World, actor: Actor) -> httpx.Response:
    return await world.http.post(f"/assessments/{await draft(world)}/submit", headers=actor.headers)


async def correct_the_assessment(world: World, actor: Actor) -> httpx.Response:
    path = f"/assessments/{world.assessment_id}"
    _, if_match = await world.current(path)
    body = {"answers": ANSWERS, "reason": "The school's contact details were out of date."}
    return await world.http.post(f"{path}/corrections", json=body, headers=actor.headers | if_match)


async def withdraw_a_fresh_agreement(world: World, actor: Actor) -> httpx.Response:
    agreement = await world.as_author("POST", "/agreements", json={"family_id": world.family_id, **CONSENTED})
    return await world.http.post(f"/agreements/{agreement['id']}/withdraw", headers=actor.headers)


def grant_terms(world: World, categories: list[str], recipient: str, **terms: str) -> dict[str, Any]:
    body = {"family_id": world.family_id, **CONSENTED, "categories": categories, "recipient_organisations": [recipient]}
    return body | terms


async def withdraw_a_fresh_grant(world: World, actor: Actor) -> httpx.Response:
    grant = await world.as_author("POST", "/consents", json=grant_terms(world, ["assessment"], NOT_AN_ACTOR))
    return await world.http.post(f"/consents/{grant['id']}/withdraw", json={}, headers=actor.headers)


async def recorded_or_named(world: World, actor: Actor, response: httpx.Response) -> str | None:
    grants: list[dict[str, Any]] = response.json()
    if actor.name == COORDINATOR:
        return None if world.grant_id in [g["id"] for g in grants] else "the coordinator does not see every grant"
    if actor.name in (SAME_TYPE_STRANGER, OTHER_TYPE_STRANGER) and grants:
        return f"a stranger sees {len(grants)} grants"
    foreign = [
        g["id"] for g in grants if actor.id != g["organisation_id"] and actor.id not in g["recipient_organisations"]
    ]
    return f"lists grants it neither recorded nor is named in: {foreign}" if foreign else None


async def ask_about_access(world: World, actor: Actor) -> httpx.Response:
    return await world.http.post("/access-decisions", json={"family_id": world.family_id, "category": "assessment"},
                                 headers=actor.headers)  # fmt: skip


def decides(permitted: frozenset[str]) -> Inspection:
    async def inspect(world: World, actor: Actor, response: httpx.Response) -> str | None:
        decision = response.json()["decision"]
        expected = "permit" if actor.name in permitted else "deny"
        return None if decision == expected else f"decision {decision}, expected {expected}: {response.text}"

    return inspect


async def queue_to_coordinators(world: World, actor: Actor, response: httpx.Response) -> str | None:
    """The waiting request to the coordinator, with no names; nothing to anyone else, as none is allocated."""
    listed = [item["assessment_id"] for item in response.json()]
    if any(name in response.text for name in ("Amara", "Okafor")):
        return "the queue names the family's members"
    if actor.name == COORDINATOR:
        return None if world.support_request_id in listed else f"the waiting request is not listed: {listed}"
    return None if listed == [] else f"lists {listed}, expected []"


async def own_drafts_only(world: World, actor: Actor, response: httpx.Response) -> str | None:
    """The caller's organisation's own drafts, the author's among them; never another organisation's."""
    listed = response.json()
    others = [item["id"] for item in listed if item["organisation_id"] != actor.id]
    if others:
        return f"lists another organisation's drafts: {others}"
    ids = [item["id"] for item in listed]
    if actor.name == AUTHOR and world.draft_id not in ids:
        return f"the author's draft {world.draft_id} is not listed: {ids}"
    return None


async def open_an_override(world: World, actor: Actor) -> httpx.Response:
    body = {"family_id": world.second_family_id, "justification": JUSTIFICATION, "hours": 1}
    response = await world.http.post("/safeguarding-overrides", json=body, headers=actor.headers)
    if response.status_code == 201:
        world.overrides[actor.name] = response.json()["id"]
    return response


async def only_its_own_overrides(world: World, actor: Actor, response: httpx.Response) -> str | None:
    overrides: list[dict[str, Any]] = response.json()
    foreign = [o["id"] for o in overrides if o["organisation_id"] != actor.id]
    if foreign:
        return f"lists overrides of other organisations: {foreign}"
    own = world.overrides.get(actor.name)
    return None if own is None or own in [o["id"] for o in overrides] else "its own override is not listed"


async def close_a_fresh_override(world: World, actor: Actor) -> httpx.Response:
    body = {"family_id": world.second_family_id, "justification": JUSTIFICATION, "hours": 1}
    override = await world.as_author("POST", "/safeguarding-overrides", json=body)
    return await world.http.post(f"/safeguarding-overrides/{override['id']}/close", headers=actor.headers)


def access_request(reason: str = "We met the family at a drop-in and need the school's assessment.") -> dict[str, Any]:
    return {"identifiers": [{"system": "nhs", "value": NHS_NUMBER}], "date_of_birth": BORN,
            "categories": ["assessment"], "reason": reason}  # fmt: skip


async def waiting_and_nothing_else(world: World, actor: Actor, response: httpx.Response) -> str | None:
    body = response.json()
    return None if set(body) == {"id", "status"} and body["status"] == "waiting" else f"answered {body}"


async def incoming_if_a_holder(world: World, actor: Actor, response: httpx.Response) -> str | None:
    listed = {r["id"]: r["family_id"] for r in response.json()}
    if actor.name not in ASSESSMENT_HOLDERS:
        return "the stranger's request is listed" if world.waiting_request_id in listed else None
    if listed.get(world.waiting_request_id) != world.family_id:
        return f"the stranger's request is not listed with the family's id: {listed}"
    return None


async def family_to_holders_only(world: World, actor: Actor, response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    family_id = response.json()["family_id"]
    expected = None if actor.name == SAME_TYPE_STRANGER else world.family_id
    return None if family_id == expected else f"family_id {family_id}, expected {expected}"


async def fresh_request(world: World) -> str:
    asked = await world.http.post(
        "/access-requests", json=access_request(), headers=world.actors[SAME_TYPE_STRANGER].headers
    )
    assert asked.status_code == 202, asked.text
    return str(asked.json()["id"])


async def approve_a_fresh_request(world: World, actor: Actor) -> httpx.Response:
    response = await world.http.post(f"/access-requests/{await fresh_request(world)}/approve", json=CONSENTED,
                                     headers=actor.headers)  # fmt: skip
    if response.status_code == 200:  # the approval granted the stranger a basis: take it back for the next cells
        coordinator = world.actors[COORDINATOR]
        await world.http.post(f"/consents/{response.json()['grant_id']}/withdraw", json={}, headers=coordinator.headers)
        await eventually(lambda: refused_to(world, SAME_TYPE_STRANGER), within=SETTLING_SECONDS)
    return response


async def decline_a_fresh_request(world: World, actor: Actor) -> httpx.Response:
    path = f"/access-requests/{await fresh_request(world)}/decline"
    return await world.http.post(path, json={"reason": "The family has not agreed."}, headers=actor.headers)


async def subscribe_to_the_family(world: World, actor: Actor) -> httpx.Response:
    return await world.http.post("/subscriptions", json=subscription(world.family_id), headers=actor.headers)


def subscription(family_id: str) -> dict[str, Any]:
    return {"url": "http://127.0.0.1:9/hook", "event_types": ["plan.*"], "family_ids": [family_id]}


async def same_for_an_unknown_family(world: World, actor: Actor, response: httpx.Response) -> str | None:
    unknown = await world.http.post("/subscriptions", json=subscription(str(uuid.uuid4())), headers=actor.headers)
    if unknown.status_code != response.status_code:
        return f"an unknown family answers {unknown.status_code}, the family {response.status_code}"
    return None


def change_the_plan(action: str, body: Callable[[dict[str, Any]], dict[str, Any]]) -> Call:
    """A change of the plan at the version the author last read, with a body made from that plan."""

    async def call(world: World, actor: Actor) -> httpx.Response:
        plan, if_match = await world.current(f"/plans/{world.plan_id}")
        method, path = (
            ("PATCH", f"/plans/{world.plan_id}") if action == "" else ("POST", f"/plans/{world.plan_id}/{action}")
        )
        return await world.http.request(method, path, json=body(plan), headers=actor.headers | if_match)

    return call


def goal(plan: dict[str, Any]) -> dict[str, Any]:
    need = plan["needs"][0]
    return {
        "need_ids": [need["id"]],
        "outcome_area": need["outcome_area"],
        "description": "Maisie is at school on time every day.",
        "measure_of_success": "95% attendance this term",
    }


def review(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "held_on": date.today().isoformat(),
        "attendees": [{"name": "Family worker", "role": "lead professional"}],
        "family_voice": "Mornings are calmer now.",
        "ratings": [{"goal_id": g["id"], "stage": "action", "score": 6} for g in plan["goals"]],
    }


def get(path: Callable[[World], str]) -> Call:
    async def call(world: World, actor: Actor) -> httpx.Response:
        return await world.http.get(path(world), headers=actor.headers)

    return call


def post(path: Callable[[World], str], body: Callable[[World], dict[str, Any]]) -> Call:
    async def call(world: World, actor: Actor) -> httpx.Response:
        return await world.http.post(path(world), json=body(world), headers=actor.headers)

    return call


def new_referral(world: World) -> dict[str, Any]:
    return {"referred_on": date.today().isoformat(), "source": "front_door", "reason": "Concerns raised at school."}


async def fresh_referral(world: World) -> str:
    return str((await world.as_author("POST", f"/families/{world.family_id}/social-care-referrals",
                                      json=new_referral(world)))["id"])  # fmt: skip


async def read_a_fresh_referral(world: World, actor: Actor) -> httpx.Response:
    return await world.http.get(f"/social-care-referrals/{await fresh_referral(world)}", headers=actor.headers)


async def decide_a_fresh_referral(world: World, actor: Actor) -> httpx.Response:
    body = {"outcome": "child_in_need", "decided_on": date.today().isoformat()}
    path = f"/social-care-referrals/{await fresh_referral(world)}/outcome"
    return await world.http.post(path, json=body, headers=actor.headers)


def contact(world: World) -> dict[str, Any]:
    occurred_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return {
        "kind": "visit",
        "occurred_at": occurred_at,
        "participants": [{"role": "grandmother"}],
        "summary": CASE_NOTE,
    }


async def notes_to_holders(world: World, actor: Actor, response: httpx.Response) -> str | None:
    """The world's contact in the chronology, with its summary for a holder of case notes and without otherwise."""
    if response.status_code != 200:
        return None
    summaries = [e["contact"]["summary"] for e in response.json()["entries"] if e["kind"] == "contact"]
    expected = CASE_NOTE if actor.name in CASE_NOTES_HOLDERS else None
    if expected is None and CASE_NOTE in response.text:
        return "the chronology holds the case note"
    return (
        None if summaries and set(summaries) == {expected} else f"contacts' summaries {summaries}, expected {expected}"
    )


async def contacts_to_holders(world: World, actor: Actor, response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    listed = {c["id"]: c["summary"] for c in response.json()}
    return None if listed.get(world.contact_id) == CASE_NOTE else f"the world's contact is not listed: {listed}"


NOT_THE_AUTHOR = by_actor(ACCESS_REFUSED, author=answers(200), **{
    name.replace(" ", "_"): refused(403, "not-the-author") for name in ASSESSMENT_HOLDERS - {AUTHOR}
})  # fmt: skip
ON_THE_PLAN_ONLY = by_actor(ACCESS_REFUSED, **{
    name.replace(" ", "_"): CHANGES_ITS_STATE if name in ON_THE_PLAN else refused(403, "not-on-the-team")
    for name in PLAN_HOLDERS
})  # fmt: skip
PLAN_CHANGE = "the plan's author, team and lead change it; a grantee or coordinator reads it only (not-on-the-team)"
REFERRERS = ON_THE_PLAN | {COORDINATOR}


def referral_write(status: int) -> Callable[[str], Expected]:
    return by_actor(ACCESS_REFUSED, **{
        name.replace(" ", "_"): answers(status) if name in REFERRERS else refused(403, "not-a-referrer")
        for name in PLAN_HOLDERS
    })  # fmt: skip


REFERRAL = "a basis for the family's plans: its plans' organisations and a coordinator refer; a grantee reads only"
# The Supporting Families programme is the council's: the family's council (the team member, a council on the plan)
# and the coordinator keep its records; another holder of a basis for the family's plans is told so.
SUPPORTING_FAMILIES = (
    "a basis for the family's plans, held by a council or a coordinator; other holders not-the-council"
)
COUNCILS = frozenset({TEAM_MEMBER, COORDINATOR})


def the_council(then: Expected) -> Callable[[str], Expected]:
    return by_actor(ACCESS_REFUSED, **{
        name.replace(" ", "_"): then if name in COUNCILS else refused(403, "not-the-council") for name in PLAN_HOLDERS
    })  # fmt: skip


def enrolment(world: World) -> dict[str, Any]:
    return {"family_id": world.family_id, "areas": ["education_and_attendance", "housing"]}


async def claim_for_the_family(world: World, actor: Actor) -> httpx.Response:
    """A claim by continuous employment for the family's enrolment, as the coordinator lists it."""
    listed = await world.http.get(
        f"/supporting-families/enrolments?family_id={world.family_id}", headers=world.actors[COORDINATOR].headers
    )
    assert listed.status_code == 200 and listed.json(), listed.text
    body = {  # six months of work since the plan opened on the day its assessment started, 17 February 2025
        "enrolment_id": listed.json()[0]["id"],
        "route": "continuous_employment",
        "employment": {"started_on": "2025-03-01", "sustained_until": "2025-09-01"},
    }
    return await world.http.post("/supporting-families/claims", json=body, headers=actor.headers)


async def enrolment_to_councils(world: World, actor: Actor, response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return None
    listed = [(e["family_id"], e["areas"]) for e in response.json()]
    expected = [(world.family_id, enrolment(world)["areas"])]
    return None if listed == expected else f"lists {listed}, expected {expected}"


async def the_family_s_claim(world: World, actor: Actor, response: httpx.Response) -> str | None:
    """This year's ledger holds the claim the team member's council made, to it and to the coordinator."""
    if response.status_code != 200:
        return None
    ledger = response.json()
    claimed = [(c["family_id"], c["organisation_id"]) for c in ledger["claims"]]
    expected = [(world.family_id, world.actors[TEAM_MEMBER].id)]
    return None if claimed == expected and ledger["claimed"] == 1 else f"claims {claimed}, expected {expected}"


RECORDS_CONTACTS = by_actor(ACCESS_REFUSED, **{
    name.replace(" ", "_"): answers(201) if name in ON_THE_PLAN else refused(403, "not-on-the-team")
    for name in PLAN_HOLDERS
})  # fmt: skip

# Rows run in this order: the plan's own changes come last, as they close it.
MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/families"): Row(
        get(lambda w: f"/families?identifier=nhs:{NHS_NUMBER}"),
        lambda _: answers(200),
        lists(lambda w: w.family_id, ASSESSMENT_HOLDERS),
    ),
    ("GET", "/families/{family_id}"): Row(
        get(lambda w: f"/families/{w.family_id}"), rule(ASSESSMENT_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("GET", "/families/{family_id}/fhir"): Row(
        get(lambda w: f"/families/{w.family_id}/fhir"), rule(ASSESSMENT_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("GET", "/families/{family_id}/assessments"): Row(
        get(lambda w: f"/families/{w.family_id}/assessments"),
        lambda _: answers(200),
        lists(lambda w: w.assessment_id, ASSESSMENT_HOLDERS),
    ),
    ("GET", "/assessments"): Row(
        get(lambda w: "/assessments?status=draft"),
        lambda _: answers(200),
        own_drafts_only,
        why="an organisation's unfinished work is its own: each lists its own drafts, whatever its basis",
    ),
    ("POST", "/families"): Row(register_the_same_child, lambda _: refused(409, "family-exists"), names_no_family),
    ("POST", "/assessments"): Row(start_a_draft, rule(ASSESSMENT_HOLDERS, answers(201), ACCESS_REFUSED)),
    ("GET", "/assessments/{assessment_id}"): Row(
        get(lambda w: f"/assessments/{w.assessment_id}"), rule(ASSESSMENT_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("GET", "/assessments/{assessment_id}/revisions"): Row(
        get(lambda w: f"/assessments/{w.assessment_id}/revisions"),
        rule(ASSESSMENT_HOLDERS, answers(200), ACCESS_REFUSED),
    ),
    ("GET", "/assessments/{assessment_id}/fhir"): Row(
        get(lambda w: f"/assessments/{w.assessment_id}/fhir"), rule(ASSESSMENT_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("PUT", "/assessments/{assessment_id}"): Row(change_the_draft, NOT_THE_AUTHOR),
    ("POST", "/assessments/{assessment_id}/submit"): Row(submit_a_fresh_draft, NOT_THE_AUTHOR),
    ("POST", "/assessments/{assessment_id}/corrections"): Row(correct_the_assessment, NOT_THE_AUTHOR),
    ("POST", "/assessments/{assessment_id}/carry-forward"): Row(
        post(lambda w: f"/assessments/{w.assessment_id}/carry-forward", lambda w: {}),
        rule(ASSESSMENT_HOLDERS, answers(201), ACCESS_REFUSED),
    ),
    ("GET", "/requests-for-support"): Row(
        get(lambda w: "/requests-for-support?status=waiting"),
        lambda _: answers(200),
        queue_to_coordinators,
        why="the front door's queue is the coordinators'; another organisation sees only the requests allocated to "
        "it, and none is allocated here",
    ),
    ("POST", "/requests-for-support/{assessment_id}/decision"): Row(
        post(lambda w: f"/requests-for-support/{w.support_request_id}/decision", lambda w: {"outcome": "signpost"}),
        rule(frozenset({COORDINATOR}), answers(201), refused(403, "not-a-coordinator")),
        why="only an early help coordinator decides, whatever its basis; a signpost allocates nothing, so no standing "
        "changes for the rows after it",
    ),
    ("POST", "/agreements"): Row(
        post(lambda w: "/agreements", lambda w: {"family_id": w.family_id, **CONSENTED}),
        rule(ANY_HOLDERS, answers(201), ACCESS_REFUSED),
    ),
    ("GET", "/agreements"): Row(
        get(lambda w: f"/agreements?family_id={w.family_id}"), rule(ANY_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("POST", "/agreements/{agreement_id}/withdraw"): Row(
        withdraw_a_fresh_agreement,
        rule(WITHDRAWERS, answers(200), refused(403, "forbidden")),
        why="no one is named by an agreement, so everyone else is refused alike",
    ),
    ("POST", "/consents"): Row(
        post(lambda w: "/consents", lambda w: grant_terms(w, ["assessment"], NOT_AN_ACTOR)),
        rule(ASSESSMENT_HOLDERS, answers(201), ACCESS_REFUSED),
    ),
    ("GET", "/consents"): Row(
        get(lambda w: f"/consents?family_id={w.family_id}"), lambda _: answers(200), recorded_or_named
    ),
    ("GET", "/consents/{grant_id}"): Row(
        get(lambda w: f"/consents/{w.grant_id}"),
        rule(frozenset({AUTHOR, GRANTEE, COORDINATOR}), answers(200), refused(404, "consent-not-found")),
    ),
    ("POST", "/consents/{grant_id}/withdraw"): Row(
        withdraw_a_fresh_grant, rule(WITHDRAWERS, answers(200), refused(404, "consent-not-found"))
    ),
    ("POST", "/access-decisions"): Row(
        ask_about_access,
        lambda _: answers(200),
        decides(ASSESSMENT_HOLDERS),
        why="decided from the consent service's own records (docs/security.md, Deciding), which hold the author's "
        "standing as the plan service tells it (the plan's organisations, its author among them: basis `team`); "
        "authorship of one record is still decided by the service that keeps it",
    ),
    ("POST", "/safeguarding-overrides"): Row(
        open_an_override, lambda _: answers(201), why="break-glass: any organisation with consent:write (second family)"
    ),
    ("GET", "/safeguarding-overrides"): Row(
        get(lambda w: f"/safeguarding-overrides?family_id={w.second_family_id}"),
        lambda _: answers(200),
        only_its_own_overrides,
    ),
    ("POST", "/safeguarding-overrides/{override_id}/close"): Row(
        close_a_fresh_override, rule(frozenset({AUTHOR}), answers(200), refused(404, "override-not-found"))
    ),
    ("GET", "/audit"): Row(
        get(lambda w: f"/audit?family_id={w.family_id}"),
        lambda _: refused(403, "insufficient-scope"),
        why="the access log is read with audit:read (the data protection officer, the admin), which no actor's "
        "client holds: every practitioner's scope is refused, a council's and a coordinator's too",
    ),
    ("POST", "/access-requests"): Row(
        post(lambda w: "/access-requests", lambda w: access_request()),
        lambda _: answers(202),
        waiting_and_nothing_else,
    ),
    ("GET", "/access-requests"): Row(
        get(lambda w: "/access-requests?direction=incoming"), lambda _: answers(200), incoming_if_a_holder
    ),
    ("GET", "/access-requests/{request_id}"): Row(
        get(lambda w: f"/access-requests/{w.waiting_request_id}"),
        rule(ASSESSMENT_HOLDERS | {SAME_TYPE_STRANGER}, answers(200), refused(404, "access-request-not-found")),
        family_to_holders_only,
    ),
    ("POST", "/access-requests/{request_id}/approve"): Row(
        approve_a_fresh_request, rule(ASSESSMENT_HOLDERS, answers(200), refused(404, "access-request-not-found"))
    ),
    ("POST", "/access-requests/{request_id}/decline"): Row(
        decline_a_fresh_request, rule(ASSESSMENT_HOLDERS, answers(200), refused(404, "access-request-not-found"))
    ),
    ("POST", "/subscriptions"): Row(
        subscribe_to_the_family,
        lambda _: answers(201),
        same_for_an_unknown_family,
        why="events are filtered by what the subscriber may read; the answer says nothing of the family",
    ),
    ("POST", "/plans"): Row(
        post(lambda w: "/plans", lambda w: {"family_id": w.family_id, "stepped_down_from_social_care": True}),
        rule(PLAN_HOLDERS, refused(409, "open-plan-exists"), ACCESS_REFUSED),
    ),
    ("GET", "/plans"): Row(
        get(lambda w: f"/plans?family_id={w.family_id}"),
        lambda _: answers(200),
        lists(lambda w: w.plan_id, PLAN_HOLDERS),
    ),
    ("GET", "/plans/{plan_id}"): Row(
        get(lambda w: f"/plans/{w.plan_id}"), rule(PLAN_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("POST", "/plans/{plan_id}/contacts"): Row(
        post(lambda w: f"/plans/{w.plan_id}/contacts", contact),
        RECORDS_CONTACTS,
        why="contacts are recorded by whoever changes the plan; a grantee or coordinator reads only (not-on-the-team)",
    ),
    ("GET", "/plans/{plan_id}/contacts"): Row(
        get(lambda w: f"/plans/{w.plan_id}/contacts"),
        rule(CASE_NOTES_HOLDERS, answers(200), ACCESS_REFUSED),
        contacts_to_holders,
        why="case notes are a category of their own: the plan's team member is its lead (authorship), the grantee "
        "of plans holds no grant for case_notes",
    ),
    ("GET", "/plans/{plan_id}/chronology"): Row(
        get(lambda w: f"/plans/{w.plan_id}/chronology"),
        rule(PLAN_HOLDERS, answers(200), ACCESS_REFUSED),
        notes_to_holders,
        why="a reader of the plan reads its chronology; the contacts' notes only with a basis for case_notes",
    ),
    ("POST", "/families/{family_id}/social-care-referrals"): Row(
        post(lambda w: f"/families/{w.family_id}/social-care-referrals", new_referral),
        referral_write(201),
        why=REFERRAL,
    ),
    ("GET", "/families/{family_id}/social-care-referrals"): Row(
        get(lambda w: f"/families/{w.family_id}/social-care-referrals"),
        rule(PLAN_HOLDERS, answers(200), ACCESS_REFUSED),
    ),
    ("GET", "/social-care-referrals/{referral_id}"): Row(
        read_a_fresh_referral, rule(PLAN_HOLDERS, answers(200), ACCESS_REFUSED)
    ),
    ("POST", "/social-care-referrals/{referral_id}/outcome"): Row(
        decide_a_fresh_referral, referral_write(200), why=REFERRAL
    ),
    ("POST", "/supporting-families/enrolments"): Row(
        post(lambda w: "/supporting-families/enrolments", enrolment),
        the_council(answers(201, 409)),
        why=f"{SUPPORTING_FAMILIES}; once per episode: the first council to enrol makes it, the next is told 409",
    ),
    ("GET", "/supporting-families/enrolments"): Row(
        get(lambda w: f"/supporting-families/enrolments?family_id={w.family_id}"),
        the_council(answers(200)),
        enrolment_to_councils,
        why=SUPPORTING_FAMILIES,
    ),
    ("POST", "/supporting-families/claims"): Row(
        claim_for_the_family,
        the_council(answers(201, 409)),
        why=f"{SUPPORTING_FAMILIES}; once per family and episode: the first council to claim makes it, the next 409",
    ),
    ("GET", "/supporting-families/claims"): Row(
        get(lambda w: "/supporting-families/claims"),
        rule(COUNCILS, answers(200), refused(403, "not-the-council")),
        the_family_s_claim,
        why="the year's ledger names no family in its request: a council reads the claims it made, a coordinator "
        "every claim, and anyone else is told the ledger is the council's",
    ),
    ("PATCH", "/plans/{plan_id}"): Row(
        change_the_plan("", lambda p: {"next_review_due": (date.today() + timedelta(days=30)).isoformat()}),
        ON_THE_PLAN_ONLY,
        why=PLAN_CHANGE,
    ),
    ("POST", "/plans/{plan_id}/goals"): Row(change_the_plan("goals", goal), ON_THE_PLAN_ONLY, why=PLAN_CHANGE),
    ("POST", "/plans/{plan_id}/activate"): Row(
        change_the_plan("activate", lambda p: {}), ON_THE_PLAN_ONLY, why=PLAN_CHANGE
    ),
    ("POST", "/plans/{plan_id}/reviews"): Row(change_the_plan("reviews", review), ON_THE_PLAN_ONLY, why=PLAN_CHANGE),
    ("POST", "/plans/{plan_id}/step-up"): Row(
        change_the_plan("step-up", lambda p: {"reason": "A home visit raised concerns for social care."}),
        ON_THE_PLAN_ONLY,
        why=PLAN_CHANGE,
    ),
    ("POST", "/plans/{plan_id}/step-down"): Row(
        change_the_plan("step-down", lambda p: {}), ON_THE_PLAN_ONLY, why=PLAN_CHANGE
    ),
    ("POST", "/plans/{plan_id}/reopen"): Row(
        change_the_plan("reopen", lambda p: {"reason": "The family asked for help again."}),
        ON_THE_PLAN_ONLY,
        why=PLAN_CHANGE,
    ),
    ("POST", "/plans/{plan_id}/close"): Row(
        change_the_plan("close", lambda p: {"reason": "outcomes_met"}), ON_THE_PLAN_ONLY, why=PLAN_CHANGE
    ),
    ("POST", "/plans/{plan_id}/discard"): Row(
        change_the_plan("discard", lambda p: {"reason": "Nobody is going on with this draft."}),
        ON_THE_PLAN_ONLY,
        why=PLAN_CHANGE,
    ),
}

REPORT = "the caller's own plans (or every plan with reports:all), not one family's data"
SUBSCRIPTION = "the caller's own subscription; its events are filtered by what the subscriber may read"
FORM_DEFINITION = "a form's definition, the same for every family"
ADMINISTRATION = "the gateway's administration of organisations, clients, users and keys"
COUNT = "how many of the caller's own organisation's items a list would give; a number, naming no family"
NOT_FAMILY_DATA: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health of the gateway",
    ("GET", "/readyz"): "readiness of the gateway",
    ("GET", "/metrics"): "the gateway's own counters for the cluster's scraper; route templates and outcomes only",
    ("POST", "/oauth/token"): "a token for the calling client",
    ("GET", "/.well-known/jwks.json"): "the gateway's public signing keys",
    ("GET", "/.well-known/oauth-authorization-server"): "the authorisation server's metadata",
    ("GET", "/admin/organisations"): ADMINISTRATION,
    ("POST", "/admin/organisations"): ADMINISTRATION,
    ("POST", "/admin/organisations/{organisation_id}/disable"): ADMINISTRATION,
    ("POST", "/admin/clients"): ADMINISTRATION,
    ("GET", "/admin/clients"): ADMINISTRATION,
    ("POST", "/admin/clients/{client_id}/disable"): ADMINISTRATION,
    ("POST", "/admin/users"): ADMINISTRATION,
    ("GET", "/admin/users"): ADMINISTRATION,
    ("POST", "/admin/users/{user_id}/disable"): ADMINISTRATION,
    ("POST", "/admin/signing-keys/rotate"): ADMINISTRATION,
    ("GET", "/forms"): FORM_DEFINITION,
    ("GET", "/forms/{key}/versions/{version}"): FORM_DEFINITION,
    ("PUT", "/forms/{key}/versions/{version}"): FORM_DEFINITION,
    ("POST", "/forms/{key}/versions"): FORM_DEFINITION,
    ("POST", "/forms/{key}/versions/{version}/publish"): FORM_DEFINITION,
    ("POST", "/forms/{key}/versions/{version}/retire"): FORM_DEFINITION,
    ("GET", "/forms/{key}/versions/{version}/fhir"): FORM_DEFINITION,
    ("GET", "/audit/verify"): "recomputes the hash chain against the signed checkpoints; names no family",
    ("GET", "/audit/signing-keys"): "the public key that verifies the access log's signed checkpoints",
    ("GET", "/plans/led/count"): COUNT,
    ("GET", "/assessments/drafts/count"): COUNT,
    ("GET", "/requests-for-support/count"): COUNT,
    ("GET", "/reports/assessments-started"): REPORT,
    ("GET", "/reports/time-to-plan"): REPORT,
    ("GET", "/reports/closures"): REPORT,
    ("GET", "/reports/re-referrals"): REPORT,
    ("GET", "/reports/caseload"): REPORT,
    ("GET", "/reports/claims"): REPORT,
    ("GET", "/reports/open-work"): REPORT,
    ("GET", "/reports/plan-duration"): REPORT,
    ("GET", "/reports/reviews-overdue"): REPORT,
    ("GET", "/reports/distance-travelled"): REPORT,
    ("GET", "/reports/step-down-outcomes"): REPORT,
    ("GET", "/reports/localities"): REPORT,
    ("GET", "/reports/referral-sources"): REPORT,
    ("GET", "/reports/needs-profile"): REPORT,
    ("GET", "/reports/front-door"): "counts and outcomes of the requests the caller made or was allocated (every "
    "request for a coordinator or with reports:all), not one family's data",
    ("GET", "/supporting-families/outcomes-plan"): "the council's outcomes plan, the same for every family",
    ("GET", "/subscriptions"): SUBSCRIPTION,
    ("GET", "/subscriptions/{subscription_id}"): SUBSCRIPTION,
    ("DELETE", "/subscriptions/{subscription_id}"): SUBSCRIPTION,
    ("POST", "/subscriptions/{subscription_id}/pause"): SUBSCRIPTION,
    ("POST", "/subscriptions/{subscription_id}/resume"): SUBSCRIPTION,
    ("POST", "/subscriptions/{subscription_id}/rotate-secret"): SUBSCRIPTION,
    ("GET", "/subscriptions/{subscription_id}/deliveries"): SUBSCRIPTION,
    ("POST", "/subscriptions/{subscription_id}/replay"): SUBSCRIPTION,
}


# --- the world the matrix asks about ----------------------------------------------------------


async def actor(gateway: Gateway, admin: dict[str, str], name: str, org_type: str, coordinator: bool) -> Actor:
    body = {"name": f"{name} ({org_type})", "type": org_type, "coordinator": coordinator}
    organisation = await gateway.http.post("/admin/organisations", json=body, headers=admin)
    assert organisation.status_code == 201, organisation.text
    org_id = organisation.json()["id"]
    return Actor(name, org_id, await client_of(gateway, admin, org_id, name, EVERY_SCOPE))


async def client_of(
    gateway: Gateway, admin: dict[str, str], org_id: str, name: str, scopes: list[str]
) -> dict[str, str]:
    """The headers of a new client of the organisation, with these scopes."""
    client = await gateway.http.post(
        "/admin/clients", json={"organisation_id": org_id, "name": name, "scopes": scopes}, headers=admin
    )
    assert client.status_code == 201, client.text
    return await gateway.bearer(client_id=client.json()["id"], secret=client.json()["client_secret"])


async def refused_to(world: World, name: str) -> bool:
    read = await world.http.get(f"/families/{world.family_id}", headers=world.actors[name].headers)
    return read.status_code == 403


async def world_of(gateway: Gateway) -> World:
    """The family, its assessment and plan, its team and every grant, as the author leaves them."""
    admin = await gateway.bearer()
    actors = {name: await actor(gateway, admin, name, *kind) for name, kind in ACTORS.items()}
    world = World(gateway.http, actors)
    world.auditor = await client_of(gateway, admin, actors[COORDINATOR].id, "information governance", ["audit:read"])
    world.family_id = str((await world.as_author("POST", "/families", json=family_body(NHS_NUMBER)))["id"])
    submitted = submitted_sample(world.family_id, "early-help-assessment")
    world.assessment_id = str((await world.as_author("POST", "/assessments", json=submitted))["id"])
    world.draft_id = await draft(world)
    world.second_family_id = str(
        (await world.as_author("POST", "/families", json=family_body(SECOND_NHS_NUMBER)))["id"]
    )

    async def plan_opened() -> bool:  # by the plan service itself, from the assessment's event
        plans = await gateway.http.get(f"/plans?family_id={world.family_id}", headers=world.author.headers)
        world.plan_id = plans.json()[0]["id"] if plans.status_code == 200 and plans.json() else ""
        return bool(world.plan_id)

    await eventually(plan_opened, within=SETTLING_SECONDS)
    team_member = actors[TEAM_MEMBER].id
    _, if_match = await world.current(f"/plans/{world.plan_id}")
    team = {"team": [{"organisation_id": team_member, "role": "family support"}],
            "lead_professional": {"name": "Lead professional", "organisation_id": team_member}}  # fmt: skip
    patched = await gateway.http.patch(f"/plans/{world.plan_id}", json=team, headers=world.author.headers | if_match)
    assert patched.status_code == 200, patched.text
    world.contact_id = str(
        (await world.as_author("POST", f"/plans/{world.plan_id}/contacts", json=contact(world)))["id"]
    )

    grant = await world.as_author("POST", "/consents", json=grant_terms(world, ["assessment"], actors[GRANTEE].id))
    world.grant_id = str(grant["id"])

    async def plan_grant_recorded() -> bool:  # once the consent service knows the author wrote the plan
        body = grant_terms(world, ["plan"], actors[OTHER_GRANTEE].id)
        return (await gateway.http.post("/consents", json=body, headers=world.author.headers)).status_code == 201

    await eventually(plan_grant_recorded, within=SETTLING_SECONDS)
    both = ["assessment", "plan"]
    withdrawn = await world.as_author("POST", "/consents", json=grant_terms(world, both, actors[WITHDRAWN_GRANTEE].id))
    await world.as_author("POST", f"/consents/{withdrawn['id']}/withdraw", json={})
    at = datetime.now(UTC)
    ended = {"starts_at": (at - timedelta(days=2)).isoformat(), "ends_at": (at - timedelta(days=1)).isoformat()}
    await world.as_author("POST", "/consents", json=grant_terms(world, both, actors[EXPIRED_GRANTEE].id, **ended))
    request_for_support = submitted_sample(world.family_id, "request-for-support")
    world.support_request_id = str((await world.as_author("POST", "/assessments", json=request_for_support))["id"])
    world.waiting_request_id = await fresh_request(world)

    async def every_standing_in_force() -> bool:
        reads = [
            (TEAM_MEMBER, f"/families/{world.family_id}", 200), (TEAM_MEMBER, f"/plans/{world.plan_id}", 200),
            (GRANTEE, f"/families/{world.family_id}", 200), (OTHER_GRANTEE, f"/plans/{world.plan_id}", 200),
            (WITHDRAWN_GRANTEE, f"/families/{world.family_id}", 403),
        ]  # fmt: skip
        for name, path, status in reads:
            if (await gateway.http.get(path, headers=actors[name].headers)).status_code != status:
                return False
        return True

    await eventually(every_standing_in_force, within=SETTLING_SECONDS)
    return world


# --- judging the answers -----------------------------------------------------------------------


async def operations_served(gateway: Gateway) -> set[tuple[str, str]]:
    document = (await gateway.http.get("/openapi.json", headers=await gateway.bearer())).json()
    assert "x-unavailable-services" not in document, document["x-unavailable-services"]
    methods = {"get", "put", "post", "patch", "delete"}
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item if method in methods}


def slug_of(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return None
    return str(response.json().get("type", "")).removeprefix("urn:graduated-pathway:problem:")


async def judged(world: World, actor: Actor, row: Row, response: httpx.Response) -> list[str]:
    expected = row.expect(actor.name)
    status = response.status_code
    if status not in expected.statuses:
        got = f"got {status} {slug_of(response) or ''}".strip()
        return [f"{got}, expected {sorted(expected.statuses)} {expected.slug or ''}".strip()]
    wrong = []
    if expected.slug is not None and slug_of(response) != expected.slug:
        wrong.append(f"{response.headers.get('content-type')} {slug_of(response)}, expected problem {expected.slug}")
    if status in (403, 404):
        # A problem's `instance` repeats the path the caller sent: an id it already held tells it nothing new.
        sent = str(response.request.url)
        leaked = [secret for secret in world.private() if secret in response.text and secret not in sent]
        wrong.extend(f"the refusal holds {secret!r}" for secret in leaked)
    if not wrong and (found := await row.inspect(world, actor, response)) is not None:
        wrong.append(found)
    return wrong


async def unlogged(world: World, refusals: list[tuple[str, Actor, str]]) -> list[str]:
    """The refused reads the access log does not hold as `refused` for that organisation and record."""
    missing: list[str] = []

    async def every_refusal_logged() -> bool:
        log = await world.http.get(f"/audit?family_id={world.family_id}", headers=world.auditor)
        entries = {(e["organisation_id"], e["resource_id"]) for e in log.json() if e["basis"] == "refused"}
        missing[:] = [
            f"{path} as {actor.name}: refused, but not in the access log"
            for path, actor, resource in refusals
            if (actor.id, resource) not in entries and (actor.id, world.family_id) not in entries
        ]
        return not missing

    try:
        await eventually(every_refusal_logged, within=SETTLING_SECONDS)
    except AssertionError:
        return missing
    return []


async def test_every_family_route_answers_every_actor_by_the_access_rule(stack: GatewayStack) -> None:
    gateway = stack.gateway
    served = await operations_served(gateway)
    wrong = [f"{m} {p}: served, but neither in MATRIX nor in NOT_FAMILY_DATA" for m, p in sorted(
        served - MATRIX.keys() - NOT_FAMILY_DATA.keys()
    )]  # fmt: skip
    wrong += [
        f"{m} {p}: in the tables, but not served" for m, p in sorted((MATRIX.keys() | NOT_FAMILY_DATA.keys()) - served)
    ]
    world = await world_of(gateway)
    refused_reads: list[tuple[str, Actor, str]] = []
    for (method, path), row in MATRIX.items():
        for name in ACTORS:
            caller = world.actors[name]
            response = await row.call(world, caller)
            because = f" (expected because {row.why})" if row.why else ""
            findings = await judged(world, caller, row, response)
            wrong += [f"{method} {path} as {name}: {finding}{because}" for finding in findings]
            if method == "GET" and response.status_code == 403 and slug_of(response) == "access-refused":
                segments = response.request.url.path.split("/")
                record = segments[2] if len(segments) > 2 else world.family_id
                refused_reads.append((f"{method} {path}", caller, record))
    wrong += await unlogged(world, refused_reads)
    assert not wrong, "\n" + "\n".join(wrong)

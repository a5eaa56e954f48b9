"""`make demo-data`: fill a running stack with 18 months of believable early help, through the gateway only.

Each family's story is planned first from the seed and the family's number
alone (`plan_story`), so a seed gives the same families, needs and dates on a
given day whatever order the requests finish in; then it is told to the public
API as partner systems would: a school, a health visitor or the council
registers the family; the council's early help team assesses it and leads the
plan the plan service opens from that assessment; the plan is agreed,
reviewed and closed, stepped up to social care (and sometimes back down), and
some closed families come back. The shares follow published figures: about
two thirds of plans close with outcomes met, about one in ten steps up to
social care, and 6-9% of families are re-referred within 6 months of closure.

The council authors the assessments because a plan belongs to the organisation
whose assessment opened it, and of the demo clients only the council's may
change plans.
"""

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from deploy.demo import CREDENTIALS_FILE

WINDOW_DAYS = 548  # 18 months
STEPPED_UP = "stepped_up_to_social_care"
OUTCOMES_MET = "outcomes_met"
# How the plans that have ended, ended (weights, of 100).
CLOSE_REASONS = {
    OUTCOMES_MET: 66, STEPPED_UP: 10, "stepped_down_to_universal_services": 9,
    "family_disengaged": 8, "moved_away": 5, "other": 2,
}  # fmt: skip
RE_REFERRAL_SHARE = 0.075  # of plans closed other than by a step-up: back within 6 months
STEP_DOWN_SHARE = 0.4  # of step-ups at least 3 months old: social care hands the family back
REFERRERS = {"school": 40, "health": 30, "council": 30}
LEVELS_OF_NEED = {"1": 4, "2": 52, "3": 38, "4": 6}
STAGES = ("pre_contemplation", "contemplation", "action", "maintenance", "sustained")

# NHS numbers: 8 digits scrambled from the member's serial by a bijection, so none repeats within a run;
# each seed (0-99) draws from its own block of serials.
SERIALS_PER_SEED = 1_000_000
MEMBERS_PER_FAMILY = 5  # at most 3 children and 2 adults
SCRAMBLE, OFFSET = 61_803_399, 31_415_926  # an affine bijection on 8 digits: SCRAMBLE is coprime with 10**8

TOKEN_MARGIN_SECONDS = 60.0  # fetch a new token this long before the old one runs out
MAX_THROTTLED_TRIES = 120
PLAN_OPENS_WITHIN_SECONDS = 120.0
PROGRESS_EVERY_SECONDS = 10.0

NEEDS: dict[str, tuple[int, tuple[str, ...], tuple[str, str]]] = {
    # outcome area: (weight, needs an assessment finds, (goal, measure of success))
    "education_and_attendance": (22, (
        "Attendance below 90% this term", "Often late to school and falling behind in class",
        "At risk of exclusion after repeated incidents at school"),
        ("Attend school every day and on time", "Attendance above 95% for a half term")),
    "early_years": (7, (
        "Speech and language below the level expected for age", "Not taking up the funded nursery place"),
        ("Ready for school, with speech and play on track", "Two-year check shows expected progress")),
    "physical_and_mental_health": (20, (
        "A parent's low mood makes daily routines hard", "Child anxious and not sleeping well",
        "Missed health and dental appointments"),
        ("Health needs met and appointments kept", "Appointments attended and the family reports coping")),
    "substance_use": (5, (
        "A parent's alcohol use affects the children's routines", "Concern about cannabis use by an older child"),
        ("Substance use no longer affects the children", "Engaged with the substance misuse service for 3 months")),
    "family_relationships": (15, (
        "Frequent arguments at home leave the children unsettled", "Boundaries at home are inconsistent",
        "Child is a young carer for a parent"),
        ("Calmer home with consistent routines", "Parenting course completed and fewer arguments reported")),
    "safety_from_abuse_and_exploitation": (5, (
        "Going missing in the evenings; concern about exploitation", "Contact with unsafe adults online"),
        ("Child safe from exploitation", "No missing episodes for 3 months")),
    "crime": (4, (
        "Involved in anti-social behaviour in the neighbourhood", "An older sibling has been cautioned by police"),
        ("No further offending or anti-social behaviour", "No police call-outs for 3 months")),
    "domestic_abuse": (8, (
        "Children witnessed domestic abuse in the past", "An ex-partner still makes unwanted contact"),
        ("The family is safe from domestic abuse", "Safety plan in place and support taken up")),
    "housing": (7, (
        "Overcrowded accommodation", "Notice served on a private tenancy", "Damp housing and rent arrears"),
        ("Settled, suitable housing", "Tenancy secure or a move agreed")),
    "financial_stability_and_work": (7, (
        "Debts and rent arrears are mounting", "Nobody in work; a parent wants help into employment",
        "Struggling to afford food and energy"),
        ("Stable income and manageable debts", "Debt plan agreed and benefits maximised")),
}  # fmt: skip
FAMILY_VOICES = (
    "We are not sure this will make a difference.",
    "We can see what needs to change.",
    "Things are starting to get better at home.",
    "The new routines are working for us.",
    "We feel confident managing on our own now.",
)
LEADS = (
    "Aisha Rahman", "Ben Thornton", "Chloe Evans", "Dev Patel", "Ellie Morgan", "Farah Hussain",
    "Gareth Jones", "Hannah Byrne", "Isaac Mensah", "Jade Collins", "Kieran Walsh", "Lucy Adeyemi",
)  # fmt: skip
REQUESTERS = {"school": "Joanne Whitfield", "health": "Priya Shah"}  # who writes a request for support
TEAM_ROLES = {"school": "Designated safeguarding lead", "health": "Health visitor", "voluntary": "Family worker"}
GIVEN_NAMES = {
    "female": ("Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Sophia", "Grace", "Aisha", "Zara", "Maya",
               "Poppy", "Ruby", "Evie", "Hana", "Nadia", "Chloe", "Ellie", "Layla", "Sienna", "Amara", "Leah", "Megan"),
    "male": ("Oliver", "Noah", "George", "Leo", "Arthur", "Muhammad", "Harry", "Oscar", "Jack", "Charlie", "Theo",
             "Finley", "Ethan", "Kai", "Rhys", "Tyler", "Zain", "Jayden", "Callum", "Reuben", "Kofi", "Adam", "Liam"),
}  # fmt: skip
FAMILY_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
    "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris",
    "Clarke", "Patel", "Khan", "Ahmed", "Ali", "Begum", "Hussain", "Okafor", "Mensah", "Nowak", "Kowalski",
    "Murphy", "Kelly", "O'Brien", "Campbell", "Stewart", "Singh", "Kaur", "Chen", "Nguyen", "Osei", "Mohamed",
    "Carter", "Price", "Bennett", "Wood", "Turner", "Hill", "Cooper", "Ward", "Morris", "King", "Baker", "Fisher",
)  # fmt: skip
NARRATIVE: dict[str, Any] = {
    "child_development": {
        "health": "Generally well and immunised; some missed appointments.",
        "education": "Attendance and progress discussed with school.",
        "emotional_behavioural": "Settled at times; worried about things at home.",
        "identity": "Has interests the family encourages; no concerns.",
        "family_social_relationships": "Close to siblings and parents; has friends at school.",
        "social_presentation": "Clean and suitably dressed.",
        "self_care": "As expected for age.",
    },
    "parenting_capacity": {
        "basic_care": "Basic care is met, though routines slip under pressure.",
        "ensuring_safety": "Parents supervise appropriately.",
        "emotional_warmth": "Warm, affectionate relationships.",
        "stimulation": "Some play and reading at home.",
        "guidance_boundaries": "Boundaries are not always consistent.",
        "stability": "The same carers throughout; current pressures unsettle the family.",
    },
    "family_environment": {
        "family_history": "Discussed with the family; recorded in the case file.",
        "wider_family": "Some help from wider family.",
        "housing": "Discussed with the family.",
        "employment": "Discussed with the family.",
        "income": "Discussed with the family.",
        "social_integration": "Know some neighbours; would like more support locally.",
        "community_resources": "Family hub and children's centre nearby.",
    },
    "voice_of_the_child": "Wants things at home to be calmer.",
    "parents_views": "Parents want help and agree to a plan.",
    "strengths": "A loving family, open to help.",
    "tried_before": "Support from school and the health visitor.",
}

T = TypeVar("T")


# --- the stories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    role: str  # child or adult
    given_name: str
    family_name: str
    date_of_birth: date
    relationship: str  # as the assessment form names it
    gender: str
    nhs_number: str


@dataclass(frozen=True)
class Review:
    held_on: date
    ratings: tuple[tuple[str, int], ...]  # (stage, score) of each goal, in the order the goals were added


@dataclass(frozen=True)
class Episode:
    """One plan, from the assessment that opens it to its ending."""

    started: date
    completed: date
    needs: tuple[tuple[str, str], ...]  # (outcome area, description), one need per area
    level_of_need: str
    lead: str
    activated: date | None  # None: the plan is still being agreed
    reviews: tuple[Review, ...]
    ending: str | None  # the close reason, once the plan has ended
    ended: date | None


@dataclass(frozen=True)
class Story:
    referrer: str  # the organisation type that registers the family
    members: tuple[Member, ...]
    episodes: tuple[Episode, ...]  # the first plan, then a re-referral's
    stepped_down: bool
    charity_on_team: bool

    @property
    def request_for_support(self) -> bool:
        """A school's or health's written request, sent only for families whose first plan is still open.

        The service dates a request on receipt, the day of the load: for a family whose plan
        closed months ago it would read as a re-referral in the councils' reports.
        """
        return self.referrer != "council" and len(self.episodes) == 1 and self.episodes[0].ending is None


def _pick(rng: random.Random, weights: Mapping[T, int]) -> T:
    return rng.choices(list(weights), list(weights.values()))[0]


def nhs_number(seed: int, serial: int) -> str:
    """A valid NHS number (Modulus 11), different for every serial below SERIALS_PER_SEED within a seed."""
    digits = f"{(SCRAMBLE * (seed * SERIALS_PER_SEED + serial) + OFFSET) % 10**8:08d}"
    for ninth in "0123456789":  # at most one ninth digit leaves no check digit (11 - total % 11 == 10)
        body = digits + ninth
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return body + str(check % 11)
    raise AssertionError("unreachable: two ninth digits cannot both leave no check digit")


def _born(rng: random.Random, as_of: date, youngest: int, oldest: int) -> date:
    return as_of - timedelta(days=rng.randint(youngest * 365 + 30, oldest * 365 + 300))


def _members(rng: random.Random, seed: int, index: int, as_of: date) -> tuple[Member, ...]:
    """One to three children and one or two adults; mostly one surname."""
    surname = rng.choice(FAMILY_NAMES)
    people: list[tuple[str, str, str, date, str]] = []  # role, gender, relationship, born, family name
    for n in range(_pick(rng, {1: 45, 2: 35, 3: 20})):
        gender = rng.choice(("female", "male"))
        people.append(("child", gender, "sibling" if n else "child", _born(rng, as_of, 0, 16), surname))
    carer = _pick(rng, {"mother": 88, "father": 12})
    people.append(("adult", "female" if carer == "mother" else "male", carer, _born(rng, as_of, 20, 48), surname))
    if rng.random() < 0.45:
        other = _pick(
            rng,
            {"father": 45, "step_parent": 40, "grandparent": 15}
            if carer == "mother"
            else {"step_parent": 60, "grandparent": 40},
        )
        born = _born(rng, as_of, 40, 70) if other == "grandparent" else _born(rng, as_of, 20, 52)
        name = rng.choice(FAMILY_NAMES) if other == "step_parent" else surname
        people.append(("adult", "male" if carer == "mother" else "female", other, born, name))
    return tuple(
        Member(role, rng.choice(GIVEN_NAMES[gender]), name, born, relationship, gender,
               nhs_number(seed, index * MEMBERS_PER_FAMILY + n))
        for n, (role, gender, relationship, born, name) in enumerate(people)
    )  # fmt: skip


def add_working_days(start: date, days: int) -> date:
    on = start
    while days:
        on += timedelta(days=1)
        if on.weekday() < 5:
            days -= 1
    return on


def _reviews(rng: random.Random, goals: int, activated: date, until: date) -> tuple[Review, ...]:
    """Reviews about every 6 weeks before `until`, each goal moving up the change matrix by fits and starts."""
    stages = [rng.randint(0, 1) for _ in range(goals)]
    reviews = []
    held_on = activated + timedelta(days=rng.randint(35, 49))
    while held_on < until:
        stages = [min(stage + int(rng.random() < 0.5), len(STAGES) - 1) for stage in stages]
        ratings = tuple((STAGES[stage], min(10, 2 + 2 * stage + rng.randint(0, 1))) for stage in stages)
        reviews.append(Review(held_on, ratings))
        held_on += timedelta(days=rng.randint(35, 49))
    return tuple(reviews)


def _episode(rng: random.Random, started: date, as_of: date) -> Episode:
    count = _pick(rng, {1: 15, 2: 30, 3: 30, 4: 15, 5: 10})
    areas: list[str] = []
    while len(areas) < count:
        area = _pick(rng, {area: weight for area, (weight, _, _) in NEEDS.items()})
        if area not in areas:
            areas.append(area)
    needs = tuple((area, rng.choice(NEEDS[area][1])) for area in areas)
    level, lead = _pick(rng, LEVELS_OF_NEED), rng.choice(LEADS)
    activated = add_working_days(started, rng.randint(3, 20))
    ends = activated + timedelta(days=rng.randint(61, 274))  # 2 to 9 months
    ending = _pick(rng, CLOSE_REASONS)
    completed = min(started + timedelta(days=rng.randint(0, 7)), activated, as_of)
    if activated > as_of:
        return Episode(started, completed, needs, level, lead, None, (), None, None)
    reviews = _reviews(rng, len(needs), activated, min(ends, as_of))
    if ends > as_of:
        return Episode(started, completed, needs, level, lead, activated, reviews, None, None)
    return Episode(started, completed, needs, level, lead, activated, reviews, ending, ends)


def plan_story(seed: int, index: int, as_of: date) -> Story:
    """Family `index` of the seed's run: who they are and what happens to them, up to `as_of`."""
    rng = random.Random(f"{seed}:{index}")
    referrer = _pick(rng, REFERRERS)
    members = _members(rng, seed, index, as_of)
    first = _episode(rng, as_of - timedelta(days=rng.randrange(WINDOW_DAYS)), as_of)
    episodes = [first]
    if first.ended is not None and first.ending != STEPPED_UP and rng.random() < RE_REFERRAL_SHARE:
        back_on = first.ended + timedelta(days=rng.randint(21, 180))
        if back_on <= as_of:
            episodes.append(_episode(rng, back_on, as_of))
    last = episodes[-1]
    stepped_down = (
        last.ending == STEPPED_UP
        and last.ended is not None
        and last.ended <= as_of - timedelta(days=90)
        and rng.random() < STEP_DOWN_SHARE
    )
    return Story(referrer, members, tuple(episodes), stepped_down, rng.random() < 0.3)


# --- what the stories look like to the API ----------------------------------------------------


def family_body(story: Story) -> dict[str, Any]:
    return {
        "members": [
            {
                "role": member.role,
                "given_name": member.given_name,
                "family_name": member.family_name,
                "date_of_birth": member.date_of_birth.isoformat(),
                **({"relationship": member.relationship} if member.role == "adult" else {}),
                "identifiers": [{"system": "nhs", "value": member.nhs_number}],
            }
            for member in story.members
        ]
    }


def _areas(episode: Episode) -> str:
    return ", ".join(area.replace("_", " ") for area, _ in episode.needs)


def assessment_answers(story: Story, episode: Episode) -> dict[str, Any]:
    """An early help assessment (form version 1) of the episode's needs, in general words."""
    return {
        "about_the_assessment": {
            "reason": f"Concerns raised about {_areas(episode)}.",
            "date_started": episode.started.isoformat(),
            "consent_to_share": True,
            "consent_date": episode.started.isoformat(),
        },
        "family_members": [
            {
                "name": f"{member.given_name} {member.family_name}",
                "date_of_birth": member.date_of_birth.isoformat(),
                "relationship": member.relationship,
                "lives_in_household": True,
                "nhs_number": member.nhs_number,
            }
            for member in story.members
        ],
        **NARRATIVE,
        "needs": [{"description": description, "outcome_area": area} for area, description in episode.needs],
        "summary": f"Needs agreed with the family: {_areas(episode)}. The early help team will lead a plan.",
        "level_of_need": episode.level_of_need,
        "next_step": "team_around_the_family" if episode.level_of_need in {"3", "4"} else "early_help_plan",
        "completion": {
            "date_completed": episode.completed.isoformat(),
            "practitioner_name": episode.lead,
            "practitioner_role": "Family support worker, Early Help",
        },
    }


def request_answers(story: Story, organisation: str, organisation_type: str) -> dict[str, Any]:
    """A request for support (form version 1) from the referring school or health team."""
    first = story.episodes[0]
    return {
        "requester": {
            "name": REQUESTERS[organisation_type],
            "role": TEAM_ROLES[organisation_type],
            "organisation": organisation,
            "organisation_type": organisation_type,
            "email": f"early.help@{organisation_type}.example",
        },
        "children": [
            {
                "name": f"{m.given_name} {m.family_name}",
                "date_of_birth": m.date_of_birth.isoformat(),
                "gender": m.gender,
            }
            for m in story.members
            if m.role == "child"
        ],
        "parents_carers": [
            {
                "name": f"{m.given_name} {m.family_name}",
                "relationship": m.relationship.replace("_", " ").capitalize(),
                "parental_responsibility": m.relationship in {"mother", "father"},
            }
            for m in story.members
            if m.role == "adult"
        ],
        "reason": {
            "why_now": f"Concerns about {_areas(first)}.",
            "concerns": [area for area, _ in first.needs],
            "tried_already": "Support within our own service.",
        },
        "consent": {"family_agrees": True, "date_agreed": first.started.isoformat()},
        "safeguarding": {"immediate_concern": False},
    }


def review_body(review: Review, plan: dict[str, Any], lead: dict[str, str], carer: Member) -> dict[str, Any]:
    average_stage = sum(STAGES.index(stage) for stage, _ in review.ratings) // len(review.ratings)
    return {
        "held_on": review.held_on.isoformat(),
        "attendees": [
            {"name": lead["name"], "role": "Lead professional", "organisation_id": lead["organisation_id"]},
            {"name": f"{carer.given_name} {carer.family_name}", "role": "Parent or carer"},
        ],
        "family_voice": FAMILY_VOICES[average_stage],
        "ratings": [
            {"goal_id": goal["id"], "stage": stage, "score": score}
            for goal, (stage, score) in zip(plan["goals"], review.ratings, strict=True)
        ],
    }


# --- talking to the gateway -------------------------------------------------------------------


class LoadFailed(Exception):
    """An answer the loader did not expect, told by the problem document's type, title and detail alone."""

    @classmethod
    def of(cls, response: httpx.Response) -> "LoadFailed":
        try:
            problem = response.json()
        except ValueError:
            problem = None
        problem = problem if isinstance(problem, dict) else {}
        request = response.request
        told = " | ".join(str(problem.get(part, "-")) for part in ("type", "title", "detail"))
        hint = ""
        if str(problem.get("type", "")).endswith(":family-exists"):
            hint = " (this seed's families are already in this stack: choose another --seed)"
        return cls(f"{request.method} {request.url.path} answered {response.status_code}: {told}{hint}")


@dataclass
class Client:
    """A demo organisation's API client; its token is fetched again before it runs out."""

    type: str
    organisation: str
    client_id: str
    secret: str
    organisation_id: str = ""
    token: str = ""
    expires_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def token_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified: the loader only wants its own organisation's id from it."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


class Gateway:
    """Requests through the gateway, at most `concurrency` at once, each retried while it answers 429."""

    def __init__(self, http: httpx.AsyncClient, concurrency: int) -> None:
        self.http = http
        self.slots = asyncio.Semaphore(concurrency)
        self.requests = 0
        self.throttled = 0

    async def send(self, method: str, path: str, expect: int, **options: Any) -> httpx.Response:
        for _ in range(MAX_THROTTLED_TRIES):
            async with self.slots:
                response = await self.http.request(method, path, **options)
            self.requests += 1
            if response.status_code != 429:
                break
            self.throttled += 1
            try:
                wait = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                wait = 1.0
            await asyncio.sleep(wait)
        if response.status_code != expect:
            raise LoadFailed.of(response)
        return response

    async def bearer(self, client: Client) -> str:
        async with client.lock:
            if time.monotonic() > client.expires_at - TOKEN_MARGIN_SECONDS:
                answer = (
                    await self.send(
                        "POST", "/oauth/token", 200,
                        data={"grant_type": "client_credentials"}, auth=(client.client_id, client.secret),
                    )
                ).json()  # fmt: skip
                client.token, client.expires_at = answer["access_token"], time.monotonic() + answer["expires_in"]
                client.organisation_id = str(token_claims(client.token)["org"])
        return client.token

    async def call(
        self, client: Client, method: str, path: str, expect: int = 200, *, version: int | None = None, **options: Any
    ) -> Any:
        """The answer's JSON; `version` is sent as `If-Match`."""
        headers = {"Authorization": f"Bearer {await self.bearer(client)}"}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        return (await self.send(method, path, expect, headers=headers, **options)).json()


# --- telling the stories ----------------------------------------------------------------------


class Loader:
    def __init__(self, gateway: Gateway, clients: dict[str, Client]) -> None:
        self.gateway = gateway
        self.clients = clients
        self.council = clients["council"]
        self.tally: Counter[str] = Counter()
        self.families_done = 0

    async def family(self, story: Story) -> None:
        referrer = self.clients[story.referrer]
        family = await self.gateway.call(referrer, "POST", "/families", 201, json=family_body(story))
        self.tally["families registered"] += 1
        self.tally[f"families registered by {story.referrer}"] += 1
        if story.request_for_support:
            await self._assessment(referrer, family["id"], "request-for-support",
                                   request_answers(story, referrer.organisation, referrer.type))  # fmt: skip
            self.tally["requests for support"] += 1
        plan: dict[str, Any] = {}
        for episode in story.episodes:
            if plan:
                self.tally["re-referred"] += 1
            plan = await self._episode(story, episode, family["id"])
        if story.stepped_down:
            await self.gateway.call(
                self.council, "POST", f"/plans/{plan['id']}/step-down", 201, version=plan["version"],
                json={"lead_professional": self._lead(story.episodes[-1])},
            )  # fmt: skip
            self.tally["stepped down"] += 1
            self.tally["plans in draft"] += 1
        self.families_done += 1

    async def _assessment(self, client: Client, family_id: str, form: str, answers: dict[str, Any]) -> None:
        body = {"family_id": family_id, "form": {"key": form, "version": 1}, "answers": answers, "status": "submitted"}
        await self.gateway.call(client, "POST", "/assessments", 201, json=body)

    def _lead(self, episode: Episode) -> dict[str, str]:
        return {"name": episode.lead, "organisation_id": self.council.organisation_id}

    async def _opened_plan(self, family_id: str) -> dict[str, Any]:
        """The draft the plan service opens on its own once it hears of the submitted assessment."""
        deadline = time.monotonic() + PLAN_OPENS_WITHIN_SECONDS
        wait = 0.1
        while True:
            plans = await self.gateway.call(self.council, "GET", "/plans", params={"family_id": family_id})
            draft = next((plan for plan in plans if plan["status"] == "draft"), None)
            if draft is not None:
                opened: dict[str, Any] = await self.gateway.call(self.council, "GET", f"/plans/{draft['id']}")
                return opened
            if time.monotonic() > deadline:
                raise LoadFailed(
                    f"no plan opened within {PLAN_OPENS_WITHIN_SECONDS:.0f}s of an assessment of family {family_id}: "
                    "is the plan service consuming assessment.submitted?"
                )
            await asyncio.sleep(wait)
            wait = min(wait * 2, 2.0)

    async def _change(self, plan: dict[str, Any], method: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        changed: dict[str, Any] = await self.gateway.call(
            self.council, method, f"/plans/{plan['id']}{action}", version=plan["version"], json=body
        )
        return changed

    async def _episode(self, story: Story, episode: Episode, family_id: str) -> dict[str, Any]:
        await self._assessment(self.council, family_id, "early-help-assessment", assessment_answers(story, episode))
        self.tally["early help assessments"] += 1
        plan = await self._opened_plan(family_id)
        self.tally["plans opened"] += 1
        lead = self._lead(episode)
        team = [{"organisation_id": self.council.organisation_id, "role": "Lead professional"}]
        for kind in [story.referrer, *(["voluntary"] if story.charity_on_team else [])]:
            if kind in TEAM_ROLES and kind in self.clients:
                team.append({"organisation_id": self.clients[kind].organisation_id, "role": TEAM_ROLES[kind]})
        first_visit = {"description": "Home visit to agree the plan with the family", "owner": episode.lead,
                       "organisation_id": lead["organisation_id"], "due_on": episode.completed.isoformat()}  # fmt: skip
        plan = await self._change(
            plan, "PATCH", "", {"lead_professional": lead, "team": team, "actions": [first_visit]}
        )
        for need in plan["needs"]:
            goal, measure = NEEDS[need["outcome_area"]][2]
            body = {"need_ids": [need["id"]], "outcome_area": need["outcome_area"], "description": goal,
                    "measure_of_success": measure}  # fmt: skip
            plan = await self._change(plan, "POST", "/goals", body)
        if episode.activated is None:
            self.tally["plans in draft"] += 1
            return plan
        plan = await self._change(plan, "POST", "/activate", {"activated_on": episode.activated.isoformat()})
        self.tally["plans activated"] += 1
        carer = next(member for member in story.members if member.role == "adult")
        for review in episode.reviews:
            plan = await self._change(plan, "POST", "/reviews", review_body(review, plan, lead, carer))
            self.tally["reviews recorded"] += 1
        if episode.ending is None or episode.ended is None:
            self.tally["plans active"] += 1
            return plan
        self.tally["plans closed"] += 1
        self.tally[f"closed: {episode.ending}"] += 1
        if episode.ending == STEPPED_UP:
            body = {"reason": "Concerns escalated; children's social care takes the lead",
                    "stepped_up_on": episode.ended.isoformat()}  # fmt: skip
            return await self._change(plan, "POST", "/step-up", body)
        if episode.ending == OUTCOMES_MET:
            plan = await self._change(
                plan, "PATCH", "", {"needs": [{**need, "status": "met"} for need in plan["needs"]]}
            )
        return await self._change(
            plan, "POST", "/close", {"reason": episode.ending, "closed_on": episode.ended.isoformat()}
        )


# --- running it -------------------------------------------------------------------------------


def as_of_today() -> date:
    """Yesterday (UTC): the services refuse dates after their own today, and a long load may cross midnight."""
    return datetime.now(UTC).date() - timedelta(days=1)


def summary(loader: Loader, seconds: float, seed: int, as_of: date) -> str:
    tally, gateway = loader.tally, loader.gateway

    def line(label: str, whole: int = 0) -> str:
        share = f"  ({tally[label] / whole:.1%})" if whole else ""
        return f"  {label:<44}{tally[label]:>9,}{share}"

    closed = tally["plans closed"]
    lines = [
        f"Loaded {loader.families_done:,} families (seed {seed}, stories up to {as_of}) in {seconds:.0f}s: "
        f"{gateway.requests:,} requests, {gateway.requests / max(seconds, 1e-9):.0f} a second, "
        f"{gateway.throttled:,} answered 429 and retried",
        line("families registered"),
        *(line(f"families registered by {kind}") for kind in REFERRERS),
        line("requests for support"),
        line("early help assessments"),
        line("plans opened"),
        line("plans activated"),
        line("reviews recorded"),
        line("plans closed"),
        *(line(f"closed: {reason}", closed) for reason in CLOSE_REASONS),
        line("stepped down"),
        line("re-referred", closed - tally[f"closed: {STEPPED_UP}"]),  # within 6 months, of closures not stepped up
        line("plans active"),
        line("plans in draft"),
    ]
    return "\n".join(lines)


async def report_progress(loader: Loader, total: int, started: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        seconds = time.monotonic() - started
        print(
            f"{loader.families_done:,}/{total:,} families, {loader.gateway.requests:,} requests "
            f"({loader.gateway.requests / seconds:.0f}/s), {loader.gateway.throttled:,} answered 429",
            flush=True,
        )


async def load(gateway_url: str, credentials: list[dict[str, str]], families: int, seed: int, concurrency: int) -> str:
    """Tell `families` stories to the gateway; the summary of what was done."""
    clients = {c["type"]: Client(c["type"], c["organisation"], c["client_id"], c["client_secret"]) for c in credentials}
    missing = {"council", "school", "health"} - set(clients)
    if missing:
        raise LoadFailed(f"the demo credentials name no {', '.join(sorted(missing))} client")
    as_of, started = as_of_today(), time.monotonic()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60.0, limits=limits) as http:
        gateway = Gateway(http, concurrency)
        for client in clients.values():  # each organisation's id is in its token
            await gateway.bearer(client)
        loader = Loader(gateway, clients)
        stories: Iterator[Story] = (plan_story(seed, index, as_of) for index in range(families))

        async def work() -> None:
            for story in stories:  # shared: each story is taken by one worker
                await loader.family(story)

        print(f"Loading {families:,} families (seed {seed}) into {gateway_url}, {concurrency} requests at a time…",
              flush=True)  # fmt: skip
        progress = asyncio.create_task(report_progress(loader, families, started))
        # Twice as many workers as request slots: a family waiting for its plan to open holds no slot.
        workers = [asyncio.create_task(work()) for _ in range(2 * concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in [progress, *workers]:
                task.cancel()
            await asyncio.gather(progress, *workers, return_exceptions=True)
    return summary(loader, time.monotonic() - started, seed, as_of)


def main(argv: list[str] | None = None) -> int:
    data_dir = Path(os.environ.get("PATHWAY_DATA_DIR", ".data"))
    port = os.environ.get("PATHWAY_GATEWAY_PORT", "8000")
    parser = argparse.ArgumentParser(prog="python -m deploy.demo_data", description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=10_000, help="how many families (default 10000)")
    parser.add_argument("--gateway", default=f"http://127.0.0.1:{port}", help="the gateway's URL")
    parser.add_argument("--seed", type=int, default=1, help="0-99; the same seed tells the same stories (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests at once (default 16)")
    parser.add_argument(
        "--credentials", type=Path, default=data_dir / CREDENTIALS_FILE, help="the demo clients, written by make up"
    )
    options = parser.parse_args(argv)
    if not 1 <= options.families <= SERIALS_PER_SEED // MEMBERS_PER_FAMILY:
        parser.error(f"--families is 1 to {SERIALS_PER_SEED // MEMBERS_PER_FAMILY}")
    if not 0 <= options.seed <= 99:
        parser.error("--seed is 0 to 99")
    if options.concurrency < 1:
        parser.error("--concurrency is at least 1")
    if not options.credentials.exists():
        parser.error(f"no demo credentials at {options.credentials}: start the stack with `make up` first")
    credentials = json.loads(options.credentials.read_text())
    try:
        print(asyncio.run(load(options.gateway, credentials, options.families, options.seed, options.concurrency)))
    except LoadFailed as failure:
        print(f"demo data: {failure}", file=sys.stderr)
        return 1
    except httpx.HTTPError as failure:
        print(f"demo data: the gateway at {options.gateway} cannot be reached: {failure!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

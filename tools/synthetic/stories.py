"""What happens to each family, planned from the seed and the family's number alone.

A seed gives the same families, needs and dates on a given day whatever order the
requests that tell them finish in: a request for support and the front door's
decision, the council's assessment and its next step, the plan it opens (now and
then after a discarded draft), its contacts with the family, its reviews and its
ending, a step-up to social care with social care's decision (and sometimes back
down), and what follows a closure: a re-referral, a reopening, or a referral straight
to social care.
"""

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from services.kit.workdays import add_working_days
from tools.synthetic.people import LEADS, Member, family_members
from tools.synthetic.proportions import (
    CLOSE_REASONS,
    CONTACT_KINDS,
    CONTACTS_PER_MONTH,
    CONTINUOUS_EMPLOYMENT_SHARE,
    DISCARDED_DRAFT_SHARE,
    EARLY_HELP_ASSESSMENT,
    FRONT_DOOR_OUTCOMES,
    LEVELS_OF_NEED,
    NO_PLAN_NEXT_STEPS,
    OUTCOMES_MET,
    RE_REFERRAL_SHARE,
    REFER_TO_SOCIAL_CARE,
    REFERRAL_OUTCOMES,
    REFERRED_AFTER_CLOSURE,
    REFERRERS,
    REOPENED_CLOSED_DAYS,
    REOPENED_SHARE,
    STEP_DOWN_AFTER,
    STEP_DOWN_SHARE,
    STEPPED_UP,
    SUPPORTING_FAMILIES_SHARE,
    WINDOW_DAYS,
    WORK_AND_MONEY,
    pick,
)

STAGES = ("pre_contemplation", "contemplation", "action", "maintenance", "sustained")

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


@dataclass(frozen=True)
class Review:
    held_on: date
    ratings: tuple[tuple[str, int], ...]  # (stage, score) of each goal, in the order the goals were added


@dataclass(frozen=True)
class Contact:
    """A visit, call, message, meeting or note with the family, as the plan service names its kinds."""

    kind: str
    occurred_at: datetime  # in working hours, UTC


PLAN_NEXT_STEPS = frozenset({"early_help_plan", "team_around_the_family"})


@dataclass(frozen=True)
class Episode:
    """One early help assessment and, when its next step calls for one, the plan it opens, to its ending."""

    started: date
    completed: date
    needs: tuple[tuple[str, str], ...]  # (outcome area, description), one need per area
    level_of_need: str
    lead: str
    next_step: str  # as the assessment form names it
    discarded_draft: bool  # an earlier assessment's draft plan was discarded before this one
    activated: date | None  # None: the plan is still being agreed, or there is no plan
    reviews: tuple[Review, ...]
    ending: str | None  # the close reason, once the plan has ended
    ended: date | None
    contacts: tuple[Contact, ...] = ()  # in the order they happened, while the plan was active

    @property
    def opens_a_plan(self) -> bool:
        return self.next_step in PLAN_NEXT_STEPS


@dataclass(frozen=True)
class Referral:
    """A referral to children's social care and what social care decided on it."""

    source: str  # step_up, front_door or after_closure, as the API names them
    referred_on: date | None  # None: the service dates it (a front-door assessment's, on its submission)
    outcome: str
    decided_on: date | None  # None: the day the service dated the referral


@dataclass(frozen=True)
class FrontDoor:
    """A school's or health's request for support and the front door's decision on it."""

    asked_on: date  # when the family agreed to the request
    concerns: tuple[str, ...]  # outcome areas
    outcome: str  # the decision, as the API names it


SIGNIFICANT_AND_SUSTAINED = "significant_and_sustained"
CONTINUOUS_EMPLOYMENT = "continuous_employment"


@dataclass(frozen=True)
class Enrolment:
    """The family joins Supporting Families in one episode's plan, and what a claim for it would rest on."""

    episode: int  # which of the story's episodes
    enrolled_on: date  # the day its plan was activated
    areas: tuple[str, ...]  # the headline areas of its needs, two or more
    route: str | None  # how it is claimed for, once the outcomes plan's months have passed; None: never
    evidence_from: date | None  # progress achieved (the plan closed with outcomes met), or an adult started work


@dataclass(frozen=True)
class Story:
    referrer: str  # the organisation type that registers the family
    members: tuple[Member, ...]
    front_door: FrontDoor | None  # the family's request for support; None: none was sent
    episodes: tuple[Episode, ...]  # the first assessment, then a re-referral's
    referrals: tuple[Referral, ...]  # to social care, in the order they are made
    reopened: bool  # the last plan, closed 6 to 12 months ago, is reopened
    stepped_down: bool
    charity_on_team: bool
    supporting_families: Enrolment | None = None

    @property
    def request_for_support(self) -> bool:
        """A school's or health's written request, sent only for families still in early help at the load.

        The service dates a request on receipt, the day of the load: for a family whose plan
        closed months ago it would read as a re-referral in the councils' reports.
        """
        return self.front_door is not None


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


def _contacts(rng: random.Random, activated: date, until: date) -> tuple[Contact, ...]:
    """Contacts in each month from `activated` to the day before `until`, at a quarter hour from 9:00 to 16:45."""
    contacts: list[Contact] = []
    month = activated
    while month < until:
        moments = sorted(
            datetime.combine(month + timedelta(days=rng.randrange(30)), time(rng.randint(9, 16), 15 * rng.randrange(4)))
            for _ in range(pick(rng, CONTACTS_PER_MONTH))
        )
        contacts += [
            Contact(pick(rng, CONTACT_KINDS), moment.replace(tzinfo=UTC)) for moment in moments if moment.date() < until
        ]
        month += timedelta(days=30)
    return tuple(contacts)


def _next_step(rng: random.Random, level: str, may_skip_a_plan: bool) -> str:
    draw = rng.random()
    if may_skip_a_plan:
        for step, share in NO_PLAN_NEXT_STEPS.items():
            if draw < share:
                return step
            draw -= share
    return "team_around_the_family" if level in {"3", "4"} else "early_help_plan"


def _episode(rng: random.Random, started: date, as_of: date, *, may_skip_a_plan: bool) -> tuple[Episode, bool]:
    """The episode, and whether help would still be going on by `as_of` (a plan or not: the front door's shares
    must not depend on the next step)."""
    count = pick(rng, {1: 15, 2: 30, 3: 30, 4: 15, 5: 10})
    areas: list[str] = []
    while len(areas) < count:
        area = pick(rng, {area: weight for area, (weight, _, _) in NEEDS.items()})
        if area not in areas:
            areas.append(area)
    needs = tuple((area, rng.choice(NEEDS[area][1])) for area in areas)
    level, lead = pick(rng, LEVELS_OF_NEED), rng.choice(LEADS)
    next_step = _next_step(rng, level, may_skip_a_plan)
    discarded = next_step in PLAN_NEXT_STEPS and rng.random() < DISCARDED_DRAFT_SHARE
    activated = add_working_days(started, rng.randint(3, 20))
    ends = activated + timedelta(days=rng.randint(61, 274))  # 2 to 9 months
    ending = pick(rng, CLOSE_REASONS)
    completed = min(started + timedelta(days=rng.randint(0, 7)), activated, as_of)
    assessed = (started, completed, needs, level, lead, next_step, discarded)
    going_on = ends > as_of
    if next_step not in PLAN_NEXT_STEPS or activated > as_of:
        return Episode(*assessed, None, (), None, None), going_on
    reviews = _reviews(rng, len(needs), activated, min(ends, as_of))
    if going_on:
        return Episode(*assessed, activated, reviews, None, None), going_on
    return Episode(*assessed, activated, reviews, ending, ends), going_on


def _decided(rng: random.Random, source: str, on: date | None, as_of: date) -> Referral:
    """Social care's decision, within 6 weeks of a dated referral; on the day of one the service dates."""
    decided_on = None if on is None else min(on + timedelta(days=rng.randint(1, 42)), as_of)
    return Referral(source, on, pick(rng, REFERRAL_OUTCOMES), decided_on)


def _after_closure(rng: random.Random, closed: Episode, as_of: date) -> tuple[bool, tuple[Referral, ...]]:
    """A plan closed other than by a step-up, its family not back otherwise: reopened, or referred to social care."""
    assert closed.ended is not None
    days_closed = (as_of - closed.ended).days
    if REOPENED_CLOSED_DAYS[0] <= days_closed <= REOPENED_CLOSED_DAYS[1] and rng.random() < REOPENED_SHARE:
        return True, ()
    draw = rng.random()
    for (earliest, latest), share in REFERRED_AFTER_CLOSURE.items():
        if draw < share:
            referred_on = closed.ended + timedelta(days=rng.randint(earliest, latest))
            if referred_on > as_of:
                break
            return False, (_decided(rng, "after_closure", referred_on, as_of),)
        draw -= share
    return False, ()


def plan_story(seed: int, index: int, as_of: date) -> Story:
    """Family `index` of the seed's run: who they are and what happens to them, up to `as_of`."""
    rng = random.Random(f"{seed}:{index}")
    referrer = pick(rng, REFERRERS)
    members = family_members(rng, seed, index, as_of)
    started = as_of - timedelta(days=rng.randrange(WINDOW_DAYS))
    first, going_on = _episode(rng, started, as_of, may_skip_a_plan=True)
    charity_on_team = rng.random() < 0.3
    front_door = None
    if referrer != "council" and going_on:
        outcome = pick(rng, FRONT_DOOR_OUTCOMES)
        front_door = FrontDoor(first.started, tuple(area for area, _ in first.needs), outcome)
        if outcome != EARLY_HELP_ASSESSMENT:  # the front door sends the family elsewhere: no assessment
            told = (
                (Referral("front_door", as_of, pick(rng, REFERRAL_OUTCOMES), as_of),)
                if outcome == REFER_TO_SOCIAL_CARE
                else ()
            )
            return Story(referrer, members, front_door, (), told, False, False, charity_on_team)
    if first.next_step == REFER_TO_SOCIAL_CARE:
        referral = _decided(rng, "front_door", None, as_of)
        return Story(referrer, members, front_door, (first,), (referral,), False, False, charity_on_team)
    episodes = [first]
    if first.ended is not None and first.ending != STEPPED_UP and rng.random() < RE_REFERRAL_SHARE:
        back_on = first.ended + timedelta(days=rng.randint(21, 180))
        if back_on <= as_of:
            episodes.append(_episode(rng, back_on, as_of, may_skip_a_plan=False)[0])
    last = episodes[-1]
    referrals: tuple[Referral, ...] = ()
    reopened = stepped_down = False
    if last.ending == STEPPED_UP and last.ended is not None:
        step_up = _decided(rng, "step_up", last.ended, as_of)
        referrals = (step_up,)
        stepped_down = (
            step_up.outcome in STEP_DOWN_AFTER
            and last.ended <= as_of - timedelta(days=90)
            and rng.random() < STEP_DOWN_SHARE
        )
    elif last.ended is not None:
        reopened, referrals = _after_closure(rng, last, as_of)
    # Contacts draw on a generator of their own: the rest of a story does not depend on how many there are.
    contact_rng = random.Random(f"{seed}:{index}:contacts")
    episodes = [
        replace(e, contacts=_contacts(contact_rng, e.activated, e.ended or as_of)) if e.activated else e
        for e in episodes
    ]
    enrolment = _supporting_families(
        random.Random(f"{seed}:{index}:supporting-families"), episodes, referrals, reopened
    )
    return Story(
        referrer, members, front_door, tuple(episodes), referrals, reopened, stepped_down, charity_on_team, enrolment
    )


def _supporting_families(
    rng: random.Random, episodes: list[Episode], referrals: tuple[Referral, ...], reopened: bool
) -> Enrolment | None:
    """The last activated episode with needs in two or more areas may join; a claim needs the family not back
    since (drawn on a generator of its own, so the rest of the story does not depend on it)."""
    number, episode = len(episodes) - 1, episodes[-1]
    if episode.activated is None or len(episode.needs) < 2 or rng.random() >= SUPPORTING_FAMILIES_SHARE:
        return None
    areas = tuple(area for area, _ in episode.needs)
    unsettled = reopened or any(r.source == "after_closure" for r in referrals)
    if episode.ending == OUTCOMES_MET and not unsettled:
        return Enrolment(number, episode.activated, areas, SIGNIFICANT_AND_SUSTAINED, episode.ended)
    if WORK_AND_MONEY in areas and episode.ending != STEPPED_UP and rng.random() < CONTINUOUS_EMPLOYMENT_SHARE:
        started_work = episode.activated + timedelta(days=rng.randint(14, 90))
        return Enrolment(number, episode.activated, areas, CONTINUOUS_EMPLOYMENT, started_work)
    return Enrolment(number, episode.activated, areas, None, None)


def as_of_today() -> date:
    """Yesterday (UTC): the services refuse dates after their own today, and a long load may cross midnight."""
    return datetime.now(UTC).date() - timedelta(days=1)

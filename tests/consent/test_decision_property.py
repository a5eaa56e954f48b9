"""The pure access rule against a model of its own: over any history of one family's grants, overrides and
organisations' standing with it, a read is permitted exactly when some basis held at that moment, and the decision
names one that did.

The history is a list of events on an hour-by-hour timeline: grants (categories, recipients by id and by type, a
start and maybe an end around the moment they are recorded), withdrawals, safeguarding overrides opened for a
practitioner for some hours and perhaps closed early, an organisation's standing told and ended (it wrote the
family's records, joined the team, was allocated the work), and reads, some by a coordinator. Expiry is time
passing. Many events share an hour, so starts, ends, withdrawals and closures often fall on the very moment of a
read.

The model recomputes from the events alone which bases held at a moment; it shares no code with `decisions.py`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.access.rule import Decision, GrantTerms, OverrideTerms, Question, RelationTerms, decide

FAMILY, OTHER_FAMILY = "family-okafor", "family-other"
ORGANISATIONS = {"org-school-a": "school", "org-school-b": "school", "org-health": "health", "org-police": "police"}
TYPES = ("school", "health", "police", "council")
PRACTITIONERS = ("pw-ada", "pw-ben")
CATEGORIES = ("assessment", "plan")
PURPOSES = ("early-help", "research")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PRECEDENCE = ("authorship", "team", "allocation", "override", "grant", "public_task")  # the order rule.py documents
RELATION_KINDS = ("authorship", "team", "allocation")


def moment(hour: int) -> datetime:
    return START + timedelta(hours=hour)


# --- the events -------------------------------------------------------------------------


@dataclass(frozen=True)
class Granted:
    grant_id: str
    family_id: str
    categories: frozenset[str]
    organisations: frozenset[str]
    types: frozenset[str]
    purpose: str
    starts: int  # hours on the timeline
    ends: int | None


@dataclass(frozen=True)
class Withdrawn:
    grant_id: str


@dataclass(frozen=True)
class Opened:
    override_id: str
    family_id: str
    organisation: str
    practitioner: str
    hours: int


@dataclass(frozen=True)
class Closed:
    override_id: str


@dataclass(frozen=True)
class Related:
    """An organisation's standing with a family, told by the service that keeps the records behind it."""

    family_id: str
    organisation: str
    kind: str
    categories: frozenset[str]


@dataclass(frozen=True)
class Unrelated:
    """That standing ended (a team member removed)."""

    family_id: str
    organisation: str
    kind: str


@dataclass(frozen=True)
class Read:
    family_id: str
    organisation: str
    organisation_type: str
    practitioner: str
    category: str
    purpose: str
    authors: frozenset[str]
    team: frozenset[str]
    coordinator: bool = False


Event = Granted | Withdrawn | Opened | Closed | Related | Unrelated | Read


@dataclass(frozen=True)
class At:
    hour: int
    event: Event


# --- what hypothesis draws: steps, each some hours after the one before ------------------


@dataclass(frozen=True)
class GrantStep:
    grant_id: str
    family_id: str
    categories: frozenset[str]
    organisations: frozenset[str]
    types: frozenset[str]
    purpose: str
    start_offset: int  # backdated or future-dated, relative to when it is recorded
    ends_after: int | None


@dataclass(frozen=True)
class WithdrawStep:
    which: int  # of the grants recorded so far


@dataclass(frozen=True)
class CloseStep:
    which: int  # of the overrides opened so far


Step = GrantStep | WithdrawStep | Opened | CloseStep | Related | Unrelated | Read

organisations = st.sampled_from(sorted(ORGANISATIONS))
some_organisations = st.frozensets(organisations, max_size=2)
families = st.sampled_from((FAMILY,) * 7 + (OTHER_FAMILY,))
purposes = st.sampled_from(("early-help",) * 7 + ("research",))
ids = st.uuids().map(str)


@st.composite
def reads(draw: st.DrawFn) -> Read:
    organisation = draw(organisations)
    return Read(
        family_id=draw(families),
        organisation=organisation,
        organisation_type=draw(st.sampled_from((ORGANISATIONS[organisation],) * 3 + TYPES)),
        practitioner=draw(st.sampled_from(PRACTITIONERS)),
        category=draw(st.sampled_from(CATEGORIES)),
        purpose=draw(purposes),
        # Rarely an author or on the team: those bases would hide the others.
        authors=draw(some_organisations) if draw(st.integers(0, 7)) == 0 else frozenset(),
        team=draw(some_organisations) if draw(st.integers(0, 7)) == 0 else frozenset(),
        coordinator=draw(st.integers(0, 9)) == 0,
    )


step: st.SearchStrategy[Step] = st.one_of(
    st.builds(
        GrantStep,
        grant_id=ids,
        family_id=families,
        categories=st.frozensets(st.sampled_from(CATEGORIES), min_size=1),
        organisations=some_organisations,
        types=st.frozensets(st.sampled_from(TYPES), max_size=2),
        purpose=purposes,
        start_offset=st.integers(-3, 3),
        ends_after=st.none() | st.integers(1, 4),
    ),
    reads(),
    reads(),
    reads(),
    st.builds(WithdrawStep, which=st.integers(0, 20)),
    st.builds(
        Opened,
        override_id=ids,
        family_id=families,
        organisation=organisations,
        practitioner=st.sampled_from(PRACTITIONERS),
        hours=st.integers(1, 6),
    ),
    st.builds(CloseStep, which=st.integers(0, 20)),
    st.builds(
        Related,
        family_id=families,
        organisation=organisations,
        kind=st.sampled_from(RELATION_KINDS),
        categories=st.frozensets(st.sampled_from(CATEGORIES), min_size=1),
    ),
    st.builds(Unrelated, family_id=families, organisation=organisations, kind=st.sampled_from(RELATION_KINDS)),
)
waits = st.sampled_from((0, 0, 1, 1, 2, 3))  # hours since the step before


def timeline(drawn: Sequence[tuple[int, Step]]) -> list[At]:
    """The drawn steps as events, dropping what the service would refuse: a second withdrawal, closing an override
    that ended, withdrawing or closing when there is nothing to withdraw or close."""
    events: list[At] = []
    hour = 0
    grants: list[str] = []
    withdrawn: set[str] = set()
    overrides: list[tuple[str, int]] = []  # id, hour it expires
    closed: set[str] = set()
    for wait, drawn_step in drawn:
        hour += wait
        if isinstance(drawn_step, GrantStep):
            starts = hour + drawn_step.start_offset
            ends = None if drawn_step.ends_after is None else starts + drawn_step.ends_after
            grant = Granted(
                grant_id=drawn_step.grant_id,
                family_id=drawn_step.family_id,
                categories=drawn_step.categories,
                organisations=drawn_step.organisations,
                types=drawn_step.types,
                purpose=drawn_step.purpose,
                starts=starts,
                ends=ends,
            )
            grants.append(grant.grant_id)
            events.append(At(hour, grant))
        elif isinstance(drawn_step, WithdrawStep):
            if grants and (grant_id := grants[drawn_step.which % len(grants)]) not in withdrawn:
                withdrawn.add(grant_id)
                events.append(At(hour, Withdrawn(grant_id)))
        elif isinstance(drawn_step, Opened):
            overrides.append((drawn_step.override_id, hour + drawn_step.hours))
            events.append(At(hour, drawn_step))
        elif isinstance(drawn_step, CloseStep):
            if overrides:
                override_id, expires = overrides[drawn_step.which % len(overrides)]
                if override_id not in closed and hour < expires:
                    closed.add(override_id)
                    events.append(At(hour, Closed(override_id)))
        else:
            events.append(At(hour, drawn_step))
    return events


# --- the model: which bases held at a moment, from the events alone -----------------------


def bases_held(history: Sequence[At], read: Read, hour: int) -> set[tuple[str, str]]:
    """Every (kind, reference) on which `read` could be permitted at `hour`, knowing `history`."""
    held: set[tuple[str, str]] = set()
    if read.organisation in read.authors:
        held.add(("authorship", read.organisation))
    if read.organisation in read.team:
        held.add(("team", read.organisation))
    if read.coordinator:
        held.add(("public_task", read.organisation))
    for kind, categories in standing(history, read.family_id, read.organisation, hour).items():
        if read.category in categories:
            held.add((kind, read.organisation))
    withdrawn_at = {at.event.grant_id: at.hour for at in history if isinstance(at.event, Withdrawn)}
    closed_at = {at.event.override_id: at.hour for at in history if isinstance(at.event, Closed)}
    for at in history:
        event = at.event
        if at.hour > hour:
            continue  # it did not exist yet
        if isinstance(event, Granted):
            started = event.starts <= hour
            not_ended = event.ends is None or hour < event.ends
            not_withdrawn = event.grant_id not in withdrawn_at or hour < withdrawn_at[event.grant_id]
            names_it = read.organisation in event.organisations or read.organisation_type in event.types
            if (
                event.family_id == read.family_id
                and read.category in event.categories
                and read.purpose == event.purpose
                and names_it
                and started
                and not_ended
                and not_withdrawn
            ):
                held.add(("grant", event.grant_id))
        if isinstance(event, Opened):
            open_now = at.hour <= hour < at.hour + event.hours
            not_closed = event.override_id not in closed_at or hour < closed_at[event.override_id]
            if (
                event.family_id == read.family_id
                and event.organisation == read.organisation
                and event.practitioner == read.practitioner
                and open_now
                and not_closed
            ):
                held.add(("override", event.override_id))
    return held


def standing(history: Sequence[At], family_id: str, organisation: str, hour: int) -> dict[str, frozenset[str]]:
    """The organisation's standing with the family at `hour`, by kind: the categories told, until ended.

    As the consent service records it: told again, the categories add up; ended and told again, it starts anew.
    """
    held: dict[str, frozenset[str]] = {}
    for at in history:
        event = at.event
        if at.hour > hour or getattr(event, "family_id", None) != family_id:
            continue
        if isinstance(event, Related) and event.organisation == organisation:
            held[event.kind] = held.get(event.kind, frozenset()) | event.categories
        if isinstance(event, Unrelated) and event.organisation == organisation:
            held.pop(event.kind, None)
    return held


def relations_known(history: Sequence[At], hour: int) -> list[RelationTerms]:
    """The standing recorded by `hour`, as the consent service's rows would hold it then."""
    known = []
    for family_id in (FAMILY, OTHER_FAMILY):
        for organisation in ORGANISATIONS:
            for kind, categories in standing(history, family_id, organisation, hour).items():
                since = moment(0)  # the rows' own start is after any read that could see them
                known.append(RelationTerms(family_id, organisation, kind, sorted(categories), since))
    return known


# --- what the service hands the rule: its rows as they stand, turned into terms -----------


def terms_known(
    history: Sequence[At], hour: int, *, closing_moves_expiry: bool
) -> tuple[list[GrantTerms], list[OverrideTerms]]:
    """The grants and overrides recorded by `hour`, with the withdrawals and closures in `history`. The consent
    service brings an override's expiry forward to its closure; without that, the rule must honour `closed_at`."""
    withdrawn_at = {at.event.grant_id: at.hour for at in history if isinstance(at.event, Withdrawn)}
    closed_at = {at.event.override_id: at.hour for at in history if isinstance(at.event, Closed)}
    grants, overrides = [], []
    for at in history:
        event = at.event
        if at.hour > hour:
            continue
        if isinstance(event, Granted):
            withdrawn = withdrawn_at.get(event.grant_id)
            grants.append(
                GrantTerms(
                    id=event.grant_id,
                    family_id=event.family_id,
                    categories=sorted(event.categories),
                    recipient_organisations=sorted(event.organisations),
                    recipient_types=sorted(event.types),
                    purpose=event.purpose,
                    starts_at=moment(event.starts),
                    ends_at=None if event.ends is None else moment(event.ends),
                    withdrawn_at=None if withdrawn is None else moment(withdrawn),
                )
            )
        if isinstance(event, Opened):
            closed = closed_at.get(event.override_id)
            overrides.append(
                OverrideTerms(
                    id=event.override_id,
                    family_id=event.family_id,
                    organisation_id=event.organisation,
                    practitioner=event.practitioner,
                    opened_at=moment(at.hour),
                    expires_at=moment(closed if closed is not None and closing_moves_expiry else at.hour + event.hours),
                    closed_at=None if closed is None else moment(closed),
                )
            )
    return grants, overrides


def question(read: Read) -> Question:
    return Question(
        family_id=read.family_id,
        organisation_id=read.organisation,
        organisation_type=read.organisation_type,
        practitioner=read.practitioner,
        category=read.category,
        purpose=read.purpose,
        authors=read.authors,
        team=read.team,
        coordinator=read.coordinator,
    )


def problems_with(decision: Decision, held: set[tuple[str, str]], ids: set[str]) -> list[str]:
    if not held:
        if decision.permit or decision.basis is not None or decision.reference is not None:
            return [f"permitted on {decision.basis} {decision.reference} when no basis held"]
        if any(record_id in decision.reason for record_id in ids):
            return [f"the refusal names a record: {decision.reason}"]
        return []
    if not decision.permit:
        return [f"refused although {sorted(held)} held"]
    if (decision.basis, decision.reference) not in held:
        return [f"permitted on {decision.basis} {decision.reference}, which did not hold; {sorted(held)} did"]
    first = next(kind for kind in PRECEDENCE if any(kind == held_kind for held_kind, _ in held))
    if decision.basis != first:
        return [f"permitted on {decision.basis} although {first} held: {sorted(held)}"]
    return []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(waits, step), min_size=10, max_size=50))
def test_a_read_is_permitted_exactly_when_a_basis_held_and_on_one_that_did(drawn: list[tuple[int, Step]]) -> None:
    events = timeline(drawn)
    everything_recorded = events
    record_ids = {
        record_id
        for at in events
        for record_id in (getattr(at.event, "grant_id", None), getattr(at.event, "override_id", None))
        if record_id is not None
    }
    problems: list[str] = []
    for position, at in enumerate(events):
        if not isinstance(at.event, Read):
            continue
        read = at.event
        # Asked then, knowing what was recorded before the read, as the service asks at `now`.
        recorded_so_far = events[:position]
        held = bases_held(recorded_so_far, read, at.hour)
        grants, overrides = terms_known(recorded_so_far, at.hour, closing_moves_expiry=True)
        relations = relations_known(recorded_so_far, at.hour)
        decision = decide(question(read), grants, overrides, moment(at.hour), relations)
        for problem in problems_with(decision, held, record_ids):
            problems.append(f"read {position} at hour {at.hour}: {problem}")
        # Asked later about that moment, knowing the withdrawals and closures that came after it.
        held = bases_held(everything_recorded, read, at.hour)
        grants, overrides = terms_known(everything_recorded, at.hour, closing_moves_expiry=False)
        relations = relations_known(everything_recorded, at.hour)
        decision = decide(question(read), grants, overrides, moment(at.hour), relations)
        for problem in problems_with(decision, held, record_ids):
            problems.append(f"read {position} at hour {at.hour}, asked afterwards: {problem}")
    assert not problems, "\n".join([*problems, "events:", *(repr(at) for at in events)])


def test_the_model_sees_a_withdrawal_and_an_expiry_at_their_very_moment() -> None:
    """The model itself, on a history small enough to check by eye."""
    grant = Granted(
        "g-1", FAMILY, frozenset({"assessment"}), frozenset({"org-school-a"}), frozenset(), "early-help", 0, 5
    )
    withdrawn_grant = Granted(
        "g-2", FAMILY, frozenset({"plan"}), frozenset(), frozenset({"school"}), "early-help", 0, None
    )
    history = [At(0, grant), At(0, withdrawn_grant), At(3, Withdrawn("g-2"))]
    school = Read(FAMILY, "org-school-a", "school", "pw-ada", "assessment", "early-help", frozenset(), frozenset())
    plan = Read(FAMILY, "org-school-b", "school", "pw-ada", "plan", "early-help", frozenset(), frozenset())
    assert bases_held(history, school, 4) == {("grant", "g-1")}
    assert bases_held(history, school, 5) == set()
    assert bases_held(history, plan, 2) == {("grant", "g-2")}
    assert bases_held(history, plan, 3) == set()

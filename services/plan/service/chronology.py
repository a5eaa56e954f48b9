"""A plan's chronology: one list, in date order, of the family's time on it.

The assessment it was built from, its opening (or the step-down that opened
it), activation, reviews, contacts, closures, step-ups, discarding,
reopenings, the referrals to social care linked to it and their outcomes, and
a step-down from it. Whoever may read the plan reads the chronology; the
contacts' notes (participants and summary) are in it only for a reader of the
plan's case notes, and that read is audited apart.

Practice dates have no time of day (the assessment's is the day it started, on
which the plan opened); contacts have one. Entries are ordered by their day (in
England), then by the episode they belong to (a step by its own; anything else
by the episode open on its day, the latest if one closed and another opened
that day), then by where such a step falls in a day (an assessment, an opening,
activation, reviews, contacts, then a closure and what follows it), then by
their time.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import AccessPolicy, AccessRefused
from services.kit.auth import Principal
from services.plan import repository
from services.plan.document import dumped
from services.plan.models import AssessmentRecord, Plan, PlanContact, SocialCareReferral
from services.plan.schemas import (
    AssessmentEntry,
    Chronology,
    ChronologyEntry,
    ContactEntry,
    ReferralEntry,
    ReviewEntry,
    StatusEntry,
)
from services.plan.service.access import authorised, authorised_for_case_notes, found
from services.plan.transitions import DISCARDED, STEPPED_UP

DAYS_OF = ZoneInfo("Europe/London")
# Where each kind of step falls within its day.
RANK = {
    "assessment": 0,
    "plan_opened": 1,
    "plan_reopened": 1,
    "plan_activated": 2,
    "review": 3,
    "contact": 4,
    "plan_closed": 5,
    "plan_stepped_up": 5,
    "plan_discarded": 5,
    "social_care_referral": 6,
    "social_care_outcome": 7,
    "plan_stepped_down": 8,  # on the stepped-up plan; the plan it opens begins with it (rank 1)
}
START_OF_DAY = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Placed:
    day: date
    rank: int
    moment: datetime
    entry: ChronologyEntry
    episode: int | None = None  # a step's own; for anything else, the episode open on its day


def _on(day: date, entry: ChronologyEntry, rank: int | None = None, episode: int | None = None) -> Placed:
    return Placed(day, RANK[entry.kind] if rank is None else rank, START_OF_DAY, entry, episode)


def _at(moment: datetime, entry: ChronologyEntry) -> Placed:
    return Placed(moment.astimezone(DAYS_OF).date(), RANK[entry.kind], moment, entry)


def _status(kind: str, day: date, episode: int, rank: int | None = None, **terms: object) -> Placed:
    body = {"reason": None, "re_referral": None, "stepped_down_from": None, "stepped_down_to": None} | terms
    status = StatusEntry.model_validate({"episode": episode, **body})
    return _on(day, ChronologyEntry.model_validate({"occurred_at": day, "kind": kind, "status": status}), rank, episode)


def _steps(plan: Plan, stepped_down_to: list[tuple[str, date]]) -> list[Placed]:
    """Each episode's opening (or reopening) and closure, the activation, and any step-down from the plan."""
    steps = []
    for episode in plan.episodes:
        if episode.number == 1:
            kind = "plan_stepped_down" if plan.stepped_down_from else "plan_opened"
            terms = {"re_referral": episode.re_referral, "stepped_down_from": plan.stepped_down_from}
            steps.append(_status(kind, episode.opened_on, 1, RANK["plan_opened"], **terms))
            if plan.activated_on is not None:
                steps.append(_status("plan_activated", plan.activated_on, 1))
        else:
            steps.append(_status("plan_reopened", episode.opened_on, episode.number, re_referral=episode.re_referral))
        if episode.closed_on is not None:
            closed = {DISCARDED: "plan_discarded", STEPPED_UP: "plan_stepped_up"}.get(episode.close_reason or "")
            steps.append(
                _status(closed or "plan_closed", episode.closed_on, episode.number, reason=episode.close_reason)
            )
    last = plan.episodes[-1].number if plan.episodes else 1
    steps += [_status("plan_stepped_down", on, last, stepped_down_to=new) for new, on in stepped_down_to]
    return steps


def _reviews(plan: Plan) -> list[Placed]:
    placed = []
    for review in plan.reviews:
        body = ReviewEntry(id=review.id, organisation_id=review.organisation_id, next_review_due=review.next_review_due)
        placed.append(_on(review.held_on, ChronologyEntry(occurred_at=review.held_on, kind="review", review=body)))
    return placed


def _contacts(contacts: list[PlanContact], notes: bool) -> list[Placed]:
    """The contacts, with their notes (participants, summary) only when `notes`."""
    placed = []
    for contact in contacts:
        body = ContactEntry.model_validate(
            {
                "id": contact.id,
                "kind": contact.kind,
                "organisation_id": contact.organisation_id,
                "participants": dumped(contact.participants) if notes else None,
                "summary": contact.summary if notes else None,
            }
        )
        placed.append(
            _at(contact.occurred_at, ChronologyEntry(occurred_at=contact.occurred_at, kind="contact", contact=body))
        )
    return placed


def _assessment(record: AssessmentRecord | None, started_on: date) -> list[Placed]:
    """The assessment the plan was built from, on the day it started, which is the day the plan opened."""
    if record is None:
        return []
    entry = AssessmentEntry(
        assessment_id=record.assessment_id,
        form_key=record.form_key,
        organisation_id=record.organisation_id,
        submitted_at=record.submitted_at,
    )
    return [_on(started_on, ChronologyEntry(occurred_at=started_on, kind="assessment", assessment=entry))]


def _referrals(referrals: list[SocialCareReferral]) -> list[Placed]:
    """Each referral on the day it was made, and social care's decision on the day it was decided."""
    placed = []
    for referral in referrals:
        terms = {"referral_id": referral.id, "source": referral.source, "organisation_id": referral.organisation_id}
        referred = ReferralEntry.model_validate({**terms, "outcome": None})
        on = referral.referred_on
        placed.append(_on(on, ChronologyEntry(occurred_at=on, kind="social_care_referral", referral=referred)))
        if referral.decided_on is not None:
            decided = ReferralEntry.model_validate({**terms, "outcome": referral.outcome})
            on = referral.decided_on
            placed.append(_on(on, ChronologyEntry(occurred_at=on, kind="social_care_outcome", referral=decided)))
    return placed


async def chronology(session: AsyncSession, policy: AccessPolicy, principal: Principal, plan_id: str) -> Chronology:
    """The plan's chronology, to whoever may read the plan; the contacts' notes to a reader of its case notes."""
    plan = await found(session, plan_id)
    await authorised(session, policy, principal, plan, "read_chronology")
    try:
        await authorised_for_case_notes(session, policy, principal, plan, "read_case_notes")
        notes = True
    except AccessRefused:  # the chronology without its notes: not a refusal of the read
        notes = False
    record = await repository.assessment_record(session, plan.assessment_id) if plan.assessment_id else None
    placed = [
        *_assessment(record, plan.opened_on),
        *_steps(plan, await repository.stepped_down_from(session, plan.id)),
        *_reviews(plan),
        *_contacts(await repository.plan_contacts(session, plan.id), notes),
        *_referrals(await repository.plan_referrals(session, plan.id)),
    ]
    openings = [(episode.opened_on, episode.number) for episode in plan.episodes]

    def episode_on(day: date) -> int:
        return max((number for opened_on, number in openings if opened_on <= day), default=0)

    # Stable: steps of one kind on one day keep the order they were built in.
    placed.sort(key=lambda p: (p.day, episode_on(p.day) if p.episode is None else p.episode, p.rank, p.moment))
    return Chronology(plan_id=plan.id, family_id=plan.family_id, case_notes=notes, entries=[p.entry for p in placed])

"""The Supporting Families ledger: families enrolled in the programme and the claims made for them, checked
against the council's outcomes plan (`outcomes_plan`).

A family joins in an episode of its open plan, on the headline outcome areas that make it eligible (the plan's
`minimum_areas` or more). A claim for it is made once per family and episode, by one of two routes: significant
and sustained progress, evidenced in every area it joined on (an indicator of the area met, and held for the
area's months), or continuous employment (an adult in work without a break for the plan's months). Progress and
work count from the opening of the episode, and are seen on or before the day of the claim. Claims are counted
by the council's financial year (April to March) against the plan's target for it.

The programme is the council's: the family's council (an organisation of type `council` that holds a basis for
the family's plans) and an early help coordinator keep these records; a sharing grant or override lets a
council read them, not write them. Anyone else with a basis for the family's plans is told so (`not-the-council`),
and anyone without one gets the refusal every read of a family gets. Every read and write is audited, and
every enrolment and claim announced with identifiers, the route and the year only.
"""

import calendar
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import record_access
from services.access.decisions import COORDINATOR, AccessPolicy, Basis
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.problems import ValidationFailed
from services.plan import events, repository
from services.plan.document import Episode
from services.plan.models import SupportingFamiliesClaim, SupportingFamiliesEnrolment
from services.plan.outcomes_plan import OutcomesPlan, financial_year, year_bounds
from services.plan.schemas import ClaimIn, EmploymentEvidence, EnrolmentIn, OutcomeEvidence
from services.plan.service.access import authorise_for_family
from services.plan.service.problems import (
    AlreadyClaimed,
    AlreadyEnrolled,
    ClaimNotEvidenced,
    EnrolmentNotFound,
    InvalidEnrolment,
    NoOpenPlan,
    NotEligible,
    NotTheCouncil,
)

ENROLMENT = "supporting_families_enrolment"
CLAIM = "supporting_families_claim"
COUNCIL = "council"
READ_ONLY = frozenset({"grant", "override"})  # bases that let a council read the family's records, not write them
REFUSAL = "Your organisation holds no basis for this family's plans, and so none for its Supporting Families records."
NOT_THE_COUNCIL = (
    "The Supporting Families programme is the council's: its records are kept by the family's council and the "
    "early help coordinator."
)


def months_after(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day (31 August + 6 is 28 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if year > date.max.year:  # a date no evidence could reach: later than any claim
        return date.max
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def _authorised(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    family_id: str,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
) -> Basis:
    return await authorise_for_family(
        session, policy, principal, family_id, action=action, resource_type=resource_type,
        resource_id=resource_id, refusal=REFUSAL,
    )  # fmt: skip


def _the_council(principal: Principal, basis: Basis, *, writes: bool) -> None:
    if COORDINATOR in principal.organisation_roles:
        return
    if principal.organisation_type == COUNCIL and not (writes and basis.kind in READ_ONLY):
        return
    raise NotTheCouncil(NOT_THE_COUNCIL)


def _created(session: AsyncSession, principal: Principal, resource_type: str, resource_id: str, family_id: str) -> None:
    """Audited as written by the caller's organisation, which is the basis of the record's first entry."""
    record_access(
        session,
        principal,
        source=events.SOURCE,
        action="create",
        resource_type=resource_type,
        resource_id=resource_id,
        family_id=family_id,
        basis=Basis("authorship", principal.organisation_id),
    )


# --- enrolments ---------------------------------------------------------------------------


def _eligible_areas(outcomes: OutcomesPlan, areas: list[str]) -> list[str]:
    unknown = [area for area in areas if outcomes.area(area) is None]
    if unknown:
        raise InvalidEnrolment(
            f"Not headline areas of the council's outcomes plan: {', '.join(unknown)}.",
            errors=[{"pointer": f"/areas/{areas.index(area)}", "detail": "Not a headline area."} for area in unknown],
        )
    if len(set(areas)) != len(areas):
        raise InvalidEnrolment("An area is named twice.")
    if len(areas) < outcomes.minimum_areas:
        raise NotEligible(
            f"A family joins with needs in {outcomes.minimum_areas} or more headline areas; {len(areas)} given.",
            minimum_areas=outcomes.minimum_areas,
        )
    return areas


async def enrol(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, outcomes: OutcomesPlan, body: EnrolmentIn
) -> SupportingFamiliesEnrolment:
    """The family joins in the current episode of its open plan; once per episode (409 `already-enrolled`)."""
    family_id = body.family_id
    basis = await _authorised(
        session, policy, principal, family_id, action="enrol", resource_type="family", resource_id=family_id
    )
    _the_council(principal, basis, writes=True)
    plan = await repository.open_plan(session, family_id)
    if plan is None:
        raise NoOpenPlan("The family has no draft or active plan: a family joins in an episode of its open plan.")
    episode = plan.episodes[-1]
    areas = _eligible_areas(outcomes, body.areas)
    enrolled_on = body.enrolled_on or now().date()
    if enrolled_on > now().date():
        raise InvalidEnrolment("The enrolment date is in the future.")
    if enrolled_on < episode.opened_on:
        raise InvalidEnrolment(
            f"The enrolment date is before {episode.opened_on.isoformat()}, when the episode opened."
        )
    enrolment = SupportingFamiliesEnrolment(
        id=new_id(),
        family_id=family_id,
        plan_id=plan.id,
        episode=episode.number,
        areas=areas,
        enrolled_on=enrolled_on,
        organisation_id=principal.organisation_id,
        enrolled_by=principal.subject,
        created_at=now(),
    )
    if not await repository.saved_once(session, enrolment):
        existing = await repository.enrolment_in(session, plan.id, episode.number)
        raise AlreadyEnrolled(
            "The family is already enrolled in this episode of its plan.",
            **({"enrolment_id": existing.id} if existing else {}),
        )
    events.emit(
        session,
        events.SupportingFamiliesEnrolled(
            enrolment_id=enrolment.id,
            family_id=family_id,
            plan_id=plan.id,
            episode=episode.number,
            organisation_id=principal.organisation_id,
        ),
        subject=f"{ENROLMENT}/{enrolment.id}",
        family_id=family_id,
    )
    _created(session, principal, ENROLMENT, enrolment.id, family_id)
    return enrolment


async def family_enrolments(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str
) -> list[tuple[SupportingFamiliesEnrolment, str | None]]:
    """The family's enrolments, each with its claim's id once made; the read is audited as one entry."""
    basis = await _authorised(
        session, policy, principal, family_id, action="read_supporting_families", resource_type="family",
        resource_id=family_id,
    )  # fmt: skip
    _the_council(principal, basis, writes=False)
    return await repository.family_enrolments(session, family_id)


# --- claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    pointer: str
    detail: str


def _progress_failures(
    outcomes: OutcomesPlan,
    enrolment: SupportingFamiliesEnrolment,
    opened_on: date,
    claimed_on: date,
    evidence: list[OutcomeEvidence],
) -> list[Failure]:
    """What keeps the evidence from showing significant and sustained progress in every area enrolled on."""
    failures: list[Failure] = []
    seen: set[str] = set()
    for number, item in enumerate(evidence):
        at = f"/outcomes/{number}"
        area = outcomes.area(item.area)
        if item.area not in enrolment.areas or area is None:
            failures.append(Failure(f"{at}/area", f"The family was not enrolled on {item.area}."))
            continue
        if item.area in seen:
            failures.append(Failure(f"{at}/area", f"{item.area} is evidenced twice."))
        seen.add(item.area)
        if item.indicator not in {indicator.key for indicator in area.indicators}:
            failures.append(Failure(f"{at}/indicator", f"Not an indicator of {item.area} in the outcomes plan."))
        if item.achieved_on < opened_on:
            failures.append(
                Failure(f"{at}/achieved_on", f"Before {opened_on.isoformat()}, when the family's episode opened.")
            )
        months = outcomes.months_sustained(area)
        if item.sustained_until < months_after(item.achieved_on, months):
            failures.append(
                Failure(f"{at}/sustained_until", f"{item.area} must hold for {months} months after it was achieved.")
            )
        if item.sustained_until > claimed_on:
            failures.append(Failure(f"{at}/sustained_until", "After the day of the claim."))
    failures += [
        Failure("/outcomes", f"No evidence for {area}, which the family was enrolled on.")
        for area in enrolment.areas
        if area not in seen
    ]
    return failures


def _employment_failures(
    outcomes: OutcomesPlan, opened_on: date, claimed_on: date, work: EmploymentEvidence
) -> list[Failure]:
    failures: list[Failure] = []
    if work.started_on < opened_on:
        failures.append(
            Failure("/employment/started_on", f"Before {opened_on.isoformat()}, when the family's episode opened.")
        )
    months = outcomes.continuous_employment.months
    if work.sustained_until < months_after(work.started_on, months):
        failures.append(Failure("/employment/sustained_until", f"Work must last {months} months without a break."))
    if work.sustained_until > claimed_on:
        failures.append(Failure("/employment/sustained_until", "After the day of the claim."))
    return failures


def _failures(
    outcomes: OutcomesPlan, enrolment: SupportingFamiliesEnrolment, opened_on: date, claimed_on: date, body: ClaimIn
) -> list[Failure]:
    if body.route == "significant_and_sustained":
        if body.employment is not None:
            return [Failure("/employment", "A claim by significant and sustained progress takes `outcomes` only.")]
        return _progress_failures(outcomes, enrolment, opened_on, claimed_on, body.outcomes or [])
    if body.outcomes:
        return [Failure("/outcomes", "A claim by continuous employment takes `employment` only.")]
    if body.employment is None:
        return [Failure("/employment", "A claim by continuous employment needs the work it rests on.")]
    return _employment_failures(outcomes, opened_on, claimed_on, body.employment)


def _episode(episodes: list[Episode], number: int) -> Episode:
    return next(episode for episode in episodes if episode.number == number)


async def claim(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, outcomes: OutcomesPlan, body: ClaimIn
) -> SupportingFamiliesClaim:
    """A claim for an enrolled family, checked against the outcomes plan; once per family and episode (409)."""
    enrolment = await repository.enrolment(session, body.enrolment_id)
    if enrolment is None:
        raise EnrolmentNotFound(f"There is no Supporting Families enrolment {body.enrolment_id}.")
    family_id = enrolment.family_id
    basis = await _authorised(
        session, policy, principal, family_id, action="claim", resource_type=ENROLMENT, resource_id=enrolment.id
    )
    _the_council(principal, basis, writes=True)
    if (made := await repository.claim_in(session, family_id, enrolment.plan_id, enrolment.episode)) is not None:
        raise AlreadyClaimed("The family has already been claimed for in this episode of its plan.", claim_id=made.id)
    plan = await repository.plan(session, enrolment.plan_id)
    assert plan is not None  # an enrolment's plan is never deleted
    opened_on = _episode(plan.episodes, enrolment.episode).opened_on
    claimed_on = body.claimed_on or now().date()
    failures = []
    if claimed_on > now().date():
        failures.append(Failure("/claimed_on", "In the future."))
    if claimed_on < enrolment.enrolled_on:
        failures.append(Failure("/claimed_on", f"Before {enrolment.enrolled_on.isoformat()}, when the family joined."))
    failures += _failures(outcomes, enrolment, opened_on, claimed_on, body)
    if failures:
        raise ClaimNotEvidenced(
            " ".join(f"{failure.pointer}: {failure.detail}" for failure in failures),
            errors=[{"pointer": failure.pointer, "detail": failure.detail} for failure in failures],
        )
    made = SupportingFamiliesClaim(
        id=new_id(),
        enrolment_id=enrolment.id,
        family_id=family_id,
        plan_id=enrolment.plan_id,
        episode=enrolment.episode,
        route=body.route,
        outcomes=[item.model_dump(mode="json") for item in body.outcomes or []],
        employment=body.employment.model_dump(mode="json") if body.employment else None,
        claimed_on=claimed_on,
        financial_year=financial_year(claimed_on),
        payment=outcomes.payment_per_claim,
        organisation_id=principal.organisation_id,
        claimed_by=principal.subject,
        created_at=now(),
    )
    if not await repository.saved_once(session, made):  # a claim made at the same moment won
        raise AlreadyClaimed("The family has already been claimed for in this episode of its plan.")
    events.emit(
        session,
        events.SupportingFamiliesClaimed(
            claim_id=made.id,
            enrolment_id=enrolment.id,
            family_id=family_id,
            plan_id=made.plan_id,
            episode=made.episode,
            organisation_id=principal.organisation_id,
            route=body.route,
            financial_year=made.financial_year,
        ),
        subject=f"{CLAIM}/{made.id}",
        family_id=family_id,
    )
    _created(session, principal, CLAIM, made.id, family_id)
    return made


@dataclass(frozen=True)
class YearsClaims:
    year: str
    starts_on: date
    ends_on: date
    target: int | None
    claims: list[SupportingFamiliesClaim]


async def claims_of_year(
    session: AsyncSession, principal: Principal, outcomes: OutcomesPlan, year: str | None
) -> YearsClaims:
    """The claims of a financial year (this one when left out) against its target, each read audited.

    A coordinator reads every claim; a council the claims it made; anyone else is told the ledger is the
    council's.
    """
    year = year or financial_year(now().date())
    try:
        starts_on, ends_on = year_bounds(year)
    except ValueError as error:
        raise ValidationFailed(
            f"{error}.", errors=[{"parameter": "year", "in": "query", "detail": "A financial year, as 2025-26."}]
        ) from error
    coordinator = COORDINATOR in principal.organisation_roles
    if not coordinator and principal.organisation_type != COUNCIL:
        raise NotTheCouncil(NOT_THE_COUNCIL)
    claims = await repository.claims_of_year(session, year, None if coordinator else principal.organisation_id)
    for each in claims:
        basis = (
            Basis("authorship", principal.organisation_id)
            if each.organisation_id == principal.organisation_id
            else Basis("public_task", principal.organisation_id)
        )
        record_access(
            session, principal, source=events.SOURCE, action="read", resource_type=CLAIM, resource_id=each.id,
            family_id=each.family_id, basis=basis,
        )  # fmt: skip
    return YearsClaims(year, starts_on, ends_on, outcomes.target(year), claims)

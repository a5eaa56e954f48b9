"""Referrals to children's social care and their outcomes: made by a step-up, by the front door (an early help
assessment whose next step is a referral), or after the family's early help closed.

They are the family's plan records, so reading and writing them needs a basis for the family's plans, as opening
a plan does: the authors, leads and teams of its plans, whoever referred it, or a coordinator; a sharing grant or
a safeguarding override reads them only. Every read and write is audited. The reason stays here, out of events.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import record_access
from services.access.decisions import COORDINATOR, AccessPolicy, Basis
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.plan import events, repository
from services.plan.clients import Findings
from services.plan.models import Plan, SocialCareReferral
from services.plan.schemas import OutcomeIn, ReferralIn
from services.plan.service.access import WRITE_SCOPE, authorise_for_family
from services.plan.service.problems import InvalidReferral, NotAReferrer, OutcomeAlreadyRecorded, ReferralNotFound

RESOURCE = "social_care_referral"
READ_ONLY = frozenset({"grant", "override"})  # bases that let an organisation read a family's plans, not write them
REFUSAL = "Your organisation holds no basis for this family's plans, and so none for its referrals to social care."


async def _authorised(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    family_id: str,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    authors: set[str],
) -> Basis:
    return await authorise_for_family(
        session, policy, principal, family_id, action=action, resource_type=resource_type,
        resource_id=resource_id, refusal=REFUSAL, authors=authors,
    )  # fmt: skip


def writes(principal: Principal, basis: Basis) -> bool:
    """Whether the caller, holding `basis`, may refer the family or record social care's decision."""
    # A coordinator's public task lets it write even when the rule found a grant first.
    return WRITE_SCOPE in principal.scopes and (
        basis.kind not in READ_ONLY or COORDINATOR in principal.organisation_roles
    )


def _may_write(principal: Principal, basis: Basis) -> None:
    if not writes(principal, basis):
        raise NotAReferrer(
            "A sharing grant or safeguarding override lets your organisation read the family's referrals, "
            "not record them."
        )


def _not_in_the_future(on: date, what: str) -> None:
    if on > now().date():
        raise InvalidReferral(f"The {what} date is in the future.")


def _written(session: AsyncSession, principal: Principal, referral: SocialCareReferral) -> None:
    """Announced, and audited: whoever refers writes the referral, which is the basis of its first entry."""
    events.emit(
        session,
        events.SocialCareReferred(
            referral_id=referral.id,
            family_id=referral.family_id,
            organisation_id=referral.organisation_id,
            source=referral.source,
            plan_id=referral.plan_id,
            assessment_id=referral.assessment_id,
        ),
        subject=f"{RESOURCE}/{referral.id}",
        family_id=referral.family_id,
    )
    record_access(
        session,
        principal,
        source=events.SOURCE,
        action="create",
        resource_type=RESOURCE,
        resource_id=referral.id,
        family_id=referral.family_id,
        basis=Basis("authorship", referral.organisation_id),
    )


async def refer(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str, body: ReferralIn
) -> SocialCareReferral:
    """A referral from the front door, or after the family's early help closed (linked to the plan last closed)."""
    basis = await _authorised(
        session, policy, principal, family_id, action="refer", resource_type="family", resource_id=family_id,
        authors=await repository.referring_organisations(session, family_id),
    )  # fmt: skip
    _may_write(principal, basis)
    if body.source == "step_up":
        raise InvalidReferral("Step the plan up with POST /plans/{id}/step-up, which records its referral.")
    _not_in_the_future(body.referred_on, "referral")
    plan_id, days = None, None
    if body.source == "after_closure":
        closed = await repository.last_closed_plan(session, family_id)
        if closed is None:
            raise InvalidReferral("The family has no closed plan here; a referral without one is `front_door`.")
        plan_id, closed_on = closed
        if body.referred_on < closed_on:
            raise InvalidReferral(f"The referral date is before {closed_on.isoformat()}, when the plan closed.")
        days = (body.referred_on - closed_on).days
    referral = SocialCareReferral(
        id=new_id(),
        family_id=family_id,
        organisation_id=principal.organisation_id,
        source=body.source,
        referred_on=body.referred_on,
        reason=body.reason,
        plan_id=plan_id,
        days_since_closure=days,
        created_at=now(),
    )
    repository.save_referral(session, referral)
    _written(session, principal, referral)
    return referral


def refer_on_step_up(session: AsyncSession, principal: Principal, plan: Plan) -> SocialCareReferral:
    """The referral a step-up makes, in the step-up's transaction, with its date and reason."""
    assert plan.stepped_up_on is not None
    referral = SocialCareReferral(
        id=new_id(),
        family_id=plan.family_id,
        organisation_id=principal.organisation_id,
        source="step_up",
        referred_on=plan.stepped_up_on,
        reason=plan.step_up_reason,
        plan_id=plan.id,
        created_at=now(),
    )
    repository.save_referral(session, referral)
    _written(session, principal, referral)
    return referral


async def refer_from_the_front_door(
    session: AsyncSession, principal: Principal, findings: Findings
) -> SocialCareReferral | None:
    """The referral of an early help assessment whose next step is social care; None when it already made one.

    Its reason is the assessment's, read there with the family's consent, and not copied here.
    """
    referral = SocialCareReferral(
        id=new_id(),
        family_id=findings.family_id,
        organisation_id=findings.organisation_id,
        source="front_door",
        referred_on=findings.submitted_at.date(),
        assessment_id=findings.assessment_id,
        created_at=now(),
    )
    if not await repository.referral_saved_once(session, referral):
        return None
    _written(session, principal, referral)
    return referral


async def _found(session: AsyncSession, referral_id: str, *, for_update: bool = False) -> SocialCareReferral:
    referral = await repository.referral(session, referral_id, for_update=for_update)
    if referral is None:
        raise ReferralNotFound(f"There is no referral to social care {referral_id}.")
    return referral


async def _authorised_for(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, referral: SocialCareReferral, action: str
) -> Basis:
    return await _authorised(
        session, policy, principal, referral.family_id, action=action, resource_type=RESOURCE,
        resource_id=referral.id, authors={referral.organisation_id},
    )  # fmt: skip


@dataclass(frozen=True)
class Read:
    """Referrals as the caller read them, and whether the caller may record their outcomes."""

    referrals: list[SocialCareReferral]
    writes: bool


async def read_referral(session: AsyncSession, policy: AccessPolicy, principal: Principal, referral_id: str) -> Read:
    referral = await _found(session, referral_id)
    basis = await _authorised_for(session, policy, principal, referral, "read")
    return Read([referral], writes(principal, basis))


async def family_referrals(session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str) -> Read:
    """The family's referrals, oldest first; the list's read is audited as one entry about the family."""
    basis = await _authorised(
        session, policy, principal, family_id, action="read_social_care_referrals", resource_type="family",
        resource_id=family_id, authors=await repository.referring_organisations(session, family_id),
    )  # fmt: skip
    return Read(await repository.family_referrals(session, family_id), writes(principal, basis))


async def record_outcome(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, referral_id: str, body: OutcomeIn
) -> SocialCareReferral:
    """What social care decided, recorded once, on the referral locked for it."""
    referral = await _found(session, referral_id, for_update=True)
    _may_write(principal, await _authorised_for(session, policy, principal, referral, "record_outcome"))
    if referral.outcome is not None:
        raise OutcomeAlreadyRecorded(
            "Social care's decision on this referral is already recorded.", outcome=referral.outcome
        )
    _not_in_the_future(body.decided_on, "decision")
    if body.decided_on < referral.referred_on:
        raise InvalidReferral(f"The decision date is before {referral.referred_on.isoformat()}, the referral's.")
    referral.outcome, referral.decided_on, referral.outcome_recorded_at = body.outcome, body.decided_on, now()
    repository.save_referral(session, referral)
    events.emit(
        session,
        events.SocialCareOutcomeRecorded(
            referral_id=referral.id,
            family_id=referral.family_id,
            organisation_id=principal.organisation_id,
            outcome=body.outcome,
        ),
        subject=f"{RESOURCE}/{referral.id}",
        family_id=referral.family_id,
    )
    return referral

"""Who may see and change a plan: every read and change passes `authorise_and_audit`, and is audited.

A plan's author, lead organisation and team read and change it; an
organisation with a sharing grant for `plan` data (or a safeguarding
override) reads it only. A change takes the version the caller read
(`If-Match`), on the plan's row locked for the change.

The plan's case notes (its contacts' participants and summaries) are a
category of their own, `case_notes`: the plan's author and its lead's
organisation keep them and read them by authorship; its team records
contacts but reads the notes only with a basis covering `case_notes` (a grant,
a safeguarding override, a coordinator's public task), as anyone else does.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.authorise import authorise_and_audit
from services.access.decisions import AccessPolicy, AccessRefused, Basis
from services.access.standing import Standing
from services.kit.auth import Principal
from services.kit.etags import check_if_match
from services.plan import events, repository
from services.plan.models import Plan
from services.plan.service.lifecycle import plan_organisations
from services.plan.service.problems import NotOnTheTeam, PlanNotFound
from services.plan.transitions import Action, allowed, standing

CATEGORY = "plan"
WRITE_SCOPE = "plans:write"
CASE_NOTES = "case_notes"
PURPOSE = "early-help"
REFUSAL = (
    "Your organisation does not lead this plan, is not on the family's team, wrote no part of it, "
    "and holds no grant or safeguarding override for the family's plan."
)
CASE_NOTES_REFUSAL = (
    "Your organisation neither wrote this plan nor leads it, and holds no grant or safeguarding override for the "
    "family's case notes: seeing the plan does not open its case notes."
)


def authors_of(plan: Plan) -> set[str]:
    """Who wrote the plan, its author and its lead's organisation; they keep its case notes too."""
    return {plan.organisation_id} | ({plan.lead_organisation_id} if plan.lead_organisation_id else set())


async def authorised(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, plan: Plan, action: str
) -> Basis:
    """The basis on which the caller may do `action` to the plan, audited; `AccessRefused` when there is none."""
    return await _authorised(session, policy, principal, plan, action, category=CATEGORY, refusal=REFUSAL)


async def authorised_for_case_notes(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, plan: Plan, action: str
) -> Basis:
    """The basis on which the caller reads the plan's case notes, audited; `AccessRefused` when there is none.

    The team is not named: a place on it opens the plan, not its notes.
    """
    return await _authorised(session, policy, principal, plan, action, category=CASE_NOTES, refusal=CASE_NOTES_REFUSAL)


async def _authorised(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    plan: Plan,
    action: str,
    *,
    category: str,
    refusal: str,
) -> Basis:
    return await authorise_and_audit(
        session,
        policy,
        principal,
        source=events.SOURCE,
        action=action,
        resource_type=category,
        resource_id=plan.id,
        family_id=plan.family_id,
        category=category,
        purpose=PURPOSE,
        authors=authors_of(plan),
        team={member.organisation_id for member in plan.team} if category == CATEGORY else set(),
        refusal=refusal,
    )


async def found(session: AsyncSession, plan_id: str, *, for_update: bool = False) -> Plan:
    plan = await repository.plan(session, plan_id, for_update=for_update)
    if plan is None:
        raise PlanNotFound(f"There is no plan {plan_id}.")
    return plan


async def read_plan(session: AsyncSession, policy: AccessPolicy, principal: Principal, plan_id: str) -> Plan:
    plan = await found(session, plan_id)
    await authorised(session, policy, principal, plan, "read")
    return plan


async def participants(session: AsyncSession, plan_id: str) -> Plan:
    """A plan, for a platform service asking whom it names; not audited, as that reveals nothing of the family."""
    return await found(session, plan_id)


async def family_plans(session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str) -> list[Plan]:
    """The family's plans the caller may open, each read audited; the others are neither shown nor counted."""
    return await _visible(session, policy, principal, await repository.family_plans(session, family_id))


async def plans_led_by(session: AsyncSession, policy: AccessPolicy, principal: Principal, email: str) -> list[Plan]:
    """The open plans the caller's organisation leads through the practitioner `email`, each read audited.

    Only the caller's own organisation's leads are looked for: a practitioner's worklist, not a way to
    find out what another organisation's staff lead.
    """
    plans = await repository.open_plans_led_by(session, principal.organisation_id, email)
    return await _visible(session, policy, principal, plans)


async def open_plans_led_count(session: AsyncSession, principal: Principal, email: str) -> int:
    """How many open plans `plans_led_by` would list. No decision is asked: the caller's organisation leads them,
    and a plan's lead reads it by authorship, which nothing withdraws."""
    return await repository.count_open_plans_led_by(session, principal.organisation_id, email)


async def _visible(session: AsyncSession, policy: AccessPolicy, principal: Principal, plans: list[Plan]) -> list[Plan]:
    visible = []
    for plan in plans:
        try:
            await authorised(session, policy, principal, plan, "read")
        except AccessRefused:
            continue
        visible.append(plan)
    return visible


@dataclass(frozen=True)
class Editor:
    """Who is changing a plan, in which transaction, and the version (`If-Match`) they changed."""

    session: AsyncSession
    policy: AccessPolicy
    standing: Standing
    principal: Principal
    if_match: str | None


def may_write(principal: Principal, plan: Plan) -> bool:
    """Whether the caller may change the plan at all: a writer's scope, for its author, lead's organisation or team.

    The same rule `writable` enforces; a grant or override reads the plan and writes nothing.
    """
    return WRITE_SCOPE in principal.scopes and principal.organisation_id in plan_organisations(plan)


async def authorise_for_family(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    family_id: str,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    refusal: str,
    authors: frozenset[str] | set[str] = frozenset(),
) -> Basis:
    """A basis for the family's plans (of records kept beside them: referrals, the ledger), audited, refusals too.

    The organisations of the family's plans are its authors; `authors` adds those of the record itself.
    """
    return await authorise_and_audit(
        session,
        policy,
        principal,
        source=events.SOURCE,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        family_id=family_id,
        category=CATEGORY,
        purpose=PURPOSE,
        authors=await repository.organisations_of_family_plans(session, family_id) | set(authors),
        refusal=refusal,
    )


def actions_for(principal: Principal, plan: Plan) -> list[Action]:
    """What the caller may do to the plan now: what its status allows (`transitions`), if the caller writes it."""
    return allowed(standing(plan.status, plan.close_reason)) if may_write(principal, plan) else []


async def writable(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, plan_id: str, action: str
) -> Plan:
    """A plan locked for `action` by its lead, author or team; audited.

    The audit entry is written in the request's transaction, so a change refused after it is rolled back with it.
    """
    plan = await found(session, plan_id, for_update=True)
    await authorised(session, policy, principal, plan, action)
    if not may_write(principal, plan):
        raise NotOnTheTeam("A sharing grant or override lets your organisation read this plan, not change it.")
    return plan


async def changeable(editor: Editor, plan_id: str, action: str) -> Plan:
    """A plan locked for `action` by its lead, author or team, at the version the caller read; audited."""
    plan = await writable(editor.session, editor.policy, editor.principal, plan_id, action)
    check_if_match(editor.if_match, plan.version)
    return plan

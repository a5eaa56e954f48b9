"""How a change to a plan is written: its lead, its next version, who may see it by right of it, and its event."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.standing import Standing
from services.kit.auth import Principal
from services.kit.clock import now
from services.plan import events, repository
from services.plan.models import Plan
from services.plan.schemas import LeadProfessional
from services.plan.service.lifecycle import plan_organisations


def set_lead(plan: Plan, lead: LeadProfessional | None) -> None:
    plan.lead_name = lead.name if lead else None
    plan.lead_organisation_id = lead.organisation_id if lead else None
    plan.lead_email = lead.email if lead else None


# A place on the team opens the family's assessments and plans, never its case notes; the lead's organisation may
# also withdraw sharing.
TEAM_CATEGORIES = ("assessment", "plan")
CASE_NOTES = ("case_notes",)


async def sync_organisations(session: AsyncSession, standing: Standing, plan: Plan) -> None:
    """Who may see the plan by right of it, kept here and told to the consent service: its team and its lead.

    The lead's organisation keeps the plan's case notes: it is told as their author, so that it may share them.
    """
    organisations = plan_organisations(plan)
    await repository.replace_organisations(session, plan.id, organisations)
    await standing.tell(plan.family_id, "team", organisations, TEAM_CATEGORIES, replace=True)
    lead = [plan.lead_organisation_id] if plan.lead_organisation_id else []
    await standing.tell(plan.family_id, "lead", lead, TEAM_CATEGORIES, replace=True)
    if lead:
        await standing.tell(plan.family_id, "authorship", lead, CASE_NOTES)


async def saved(session: AsyncSession, plan: Plan, *, organisations: Standing | None = None) -> None:
    """The plan at its next version; with `organisations`, who may see it by right of it as it now says."""
    plan.version += 1
    plan.updated_at = now()
    await repository.save(session, plan)
    if organisations is not None:
        await sync_organisations(session, organisations, plan)


def change(plan: Plan, principal: Principal) -> dict[str, Any]:
    """What every plan event says of the change: which plan, whose, by whom, at which version."""
    return {
        "plan_id": plan.id,
        "family_id": plan.family_id,
        "organisation_id": principal.organisation_id,
        "version": plan.version,
    }


def announce(session: AsyncSession, plan: Plan, payload: Any) -> None:
    events.emit(session, payload, subject=f"plan/{plan.id}", family_id=plan.family_id)

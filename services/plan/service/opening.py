"""How a plan opens: from a submitted assessment (by request or by its event), or as social care steps a family down.

A family has one open plan at a time, decided by a partial unique index, not a
search before the insert. A plan opened within 12 months of the family's last
closure is a re-referral.
"""

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import record_access
from services.access.authorise import authorise_and_audit
from services.access.decisions import AccessPolicy, AccessRefused, Basis
from services.access.standing import Standing
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.plan import events, repository
from services.plan.clients import AssessmentFindings, Findings
from services.plan.document import Need
from services.plan.models import AssessmentRecord, Plan
from services.plan.schemas import LeadProfessional, PlanIn
from services.plan.service.access import CASE_NOTES, CATEGORY, PURPOSE
from services.plan.service.lifecycle import days_since_closure, first_episode, requested_on
from services.plan.service.problems import InvalidPlan, OpenPlanExists
from services.plan.service.writing import announce, change, set_lead, sync_organisations


async def open_plan(
    session: AsyncSession,
    standing: Standing,
    principal: Principal,
    *,
    family_id: str,
    organisation_id: str,
    opened_on: date,
    findings: Findings | None,
    lead: LeadProfessional | None = None,
    stepped_down_from: str | None = None,
) -> Plan:
    """A draft plan for the family, announced and audited; `OpenPlanExists` when the family has one open."""
    last_closure = await repository.last_closure(session, family_id)
    days = days_since_closure(last_closure, opened_on)
    at = now()
    plan = Plan(
        id=new_id(),
        family_id=family_id,
        status="draft",
        version=1,
        organisation_id=organisation_id,
        created_by=principal.subject,
        assessment_id=findings.assessment_id if findings else None,
        needs=[
            Need(id=new_id(), description=need.description, outcome_area=need.outcome_area, status="open")
            for need in (findings.needs if findings else [])
        ],
        children=findings.children if findings else 0,
        level_of_need=findings.level_of_need if findings else None,
        requested_on=requested_on(await repository.latest_request(session, family_id), opened_on, last_closure),
        opened_on=opened_on,
        stepped_down_from=stepped_down_from,
        re_referral=days is not None,
        days_since_last_closure=days,
        created_at=at,
        updated_at=at,
    )
    set_lead(plan, lead)
    first_episode(plan)
    if not await repository.saved_unless_another_is_open(session, plan):
        raise OpenPlanExists(
            "The family already has an open plan, or this assessment already opened one.",
            await repository.open_plan_of(session, family_id, plan.assessment_id),
        )
    await standing.tell(family_id, "authorship", [organisation_id], [CATEGORY, CASE_NOTES])
    await sync_organisations(session, standing, plan)
    announce(
        session,
        plan,
        events.PlanCreated(
            **change(plan, principal),
            assessment_id=plan.assessment_id,
            re_referral=plan.re_referral,
            stepped_down_from=stepped_down_from,
        ),
    )
    # Whoever opens a plan writes it: that is the basis of its first entry.
    record_access(
        session,
        principal,
        source=events.SOURCE,
        action="create",
        resource_type=CATEGORY,
        resource_id=plan.id,
        family_id=plan.family_id,
        basis=Basis("authorship", organisation_id),
    )
    return plan


async def create_plan(
    session: AsyncSession,
    policy: AccessPolicy,
    standing: Standing,
    findings_source: AssessmentFindings,
    principal: Principal,
    body: PlanIn,
) -> Plan:
    lead = body.lead_professional
    if body.assessment_id is None:
        if body.family_id is None or not body.stepped_down_from_social_care:
            raise InvalidPlan(
                "A plan starts from a submitted assessment (`assessment_id`); only a family stepped down "
                "from social care may start one from `family_id` alone."
            )
        # Stepped down, the plan starts from nothing but the family: a basis for its plans is needed all the same.
        await may_plan_for(session, policy, principal, body.family_id)
        return await open_plan(
            session, standing, principal, family_id=body.family_id, organisation_id=principal.organisation_id,
            opened_on=now().date(), findings=None, lead=lead, stepped_down_from="social-care",
        )  # fmt: skip
    findings = await findings_source.of(body.assessment_id)
    # The caller must be able to read the assessment it builds on, as if it opened it; that read is audited by the
    # assessment service, and the plan's opening here.
    basis = await policy.basis_for(
        session,
        principal,
        family_id=findings.family_id,
        category="assessment",
        purpose=PURPOSE,
        authors=(findings.organisation_id,),
    )
    if basis is None:
        raise AccessRefused("Your organisation may not read the assessment this plan would start from.")
    return await open_plan(
        session, standing, principal, family_id=findings.family_id, organisation_id=findings.organisation_id,
        opened_on=findings.started_on or findings.submitted_at.date(), findings=findings, lead=lead,
    )  # fmt: skip


async def may_plan_for(session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str) -> None:
    """A basis for the family's plans (its plans' authors and teams here, the rest asked), else `AccessRefused`."""
    organisations = await repository.organisations_of_family_plans(session, family_id)
    await authorise_and_audit(
        session,
        policy,
        principal,
        source=events.SOURCE,
        action="write",
        resource_type="family",
        resource_id=family_id,
        family_id=family_id,
        category=CATEGORY,
        purpose=PURPOSE,
        authors=organisations,
        refusal="Your organisation holds no basis for this family's plans.",
    )


async def open_from_submission(
    session: AsyncSession, standing: Standing, principal: Principal, findings: Findings
) -> Plan | None:
    """The draft plan of a just-submitted assessment; None when the family already has an open plan."""
    try:
        async with session.begin_nested():
            return await open_plan(
                session, standing, principal, family_id=findings.family_id, organisation_id=findings.organisation_id,
                opened_on=findings.started_on or findings.submitted_at.date(), findings=findings,
            )  # fmt: skip
    except OpenPlanExists:
        return None


async def note_assessment(
    session: AsyncSession,
    *,
    assessment_id: str,
    family_id: str,
    organisation_id: str,
    organisation_type: str,
    form_key: str,
    at: datetime,
    submitted: bool,
) -> None:
    """Keep what reports need of an assessment or request; flag a request that is a re-referral."""
    record = await repository.assessment_record(session, assessment_id)
    if record is None:
        record = AssessmentRecord(
            assessment_id=assessment_id,
            family_id=family_id,
            organisation_id=organisation_id,
            organisation_type=organisation_type,
            form_key=form_key,
            started_at=at,
        )
    if submitted and record.submitted_at is None:
        record.submitted_at = at
        days = days_since_closure(await repository.last_closure(session, family_id), at.date())
        record.re_referral, record.days_since_last_closure = days is not None, days
    repository.save_assessment_record(session, record)

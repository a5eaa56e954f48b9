"""HTTP for plans: translation only; the rules are in `service`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.kit.access import AccessPolicy
from services.kit.auth import Principal, require_scope
from services.kit.db import SessionDep
from services.kit.etags import IfMatch, etag
from services.kit.idempotency import IdempotencyDep
from services.plan import service
from services.plan.assessments import AssessmentFindings
from services.plan.models import Plan
from services.plan.schemas import (
    ActivateIn,
    CloseIn,
    Closure,
    Goal,
    GoalIn,
    LeadProfessional,
    PlanIn,
    PlanOut,
    PlanParticipants,
    PlanPatch,
    PlanSummary,
    ReopenIn,
    ReReferral,
    Review,
    ReviewIn,
    StepDownIn,
    StepUp,
    StepUpIn,
)

ReadsPlans = Annotated[Principal, Depends(require_scope("plans:read"))]
WritesPlans = Annotated[Principal, Depends(require_scope("plans:write"))]
ActsAsAService = Annotated[Principal, Depends(require_scope("service"))]
Id = Annotated[str, Path(max_length=36)]


# async: FastAPI runs a plain function dependency in a worker thread, a cost on every request.
async def _policy(request: Request) -> AccessPolicy:
    policy: AccessPolicy = request.app.state.access_policy
    return policy


async def _findings(request: Request) -> AssessmentFindings:
    findings: AssessmentFindings = request.app.state.findings
    return findings


PolicyDep = Annotated[AccessPolicy, Depends(_policy)]
FindingsDep = Annotated[AssessmentFindings, Depends(_findings)]


async def _editor(
    session: SessionDep, policy: PolicyDep, principal: WritesPlans, if_match: IfMatch = None
) -> service.Editor:
    return service.Editor(session, policy, principal, if_match)


EditorDep = Annotated[service.Editor, Depends(_editor)]

router = APIRouter(tags=["plans"])


def _lead(plan: Plan) -> LeadProfessional | None:
    if plan.lead_name is None or plan.lead_organisation_id is None:
        return None
    return LeadProfessional(name=plan.lead_name, organisation_id=plan.lead_organisation_id, email=plan.lead_email)


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut.model_validate(
        {
            "id": plan.id,
            "family_id": plan.family_id,
            "status": plan.status,
            "version": plan.version,
            "organisation_id": plan.organisation_id,
            "assessment_id": plan.assessment_id,
            "lead_professional": _lead(plan),
            "team": plan.team,
            "needs": plan.needs,
            "goals": [Goal.model_validate(goal) for goal in plan.goals],
            "actions": plan.actions,
            "reviews": [Review.model_validate(review) for review in plan.reviews],
            "level_of_need": plan.level_of_need,
            "requested_on": plan.requested_on,
            "opened_on": plan.opened_on,
            "activated_on": plan.activated_on,
            "next_review_due": plan.next_review_due,
            "closure": Closure(reason=plan.close_reason, note=plan.close_note, closed_on=plan.closed_on)
            if plan.close_reason and plan.closed_on
            else None,
            "step_up": StepUp(reason=plan.step_up_reason, stepped_up_on=plan.stepped_up_on)
            if plan.step_up_reason and plan.stepped_up_on
            else None,
            "stepped_down_from": plan.stepped_down_from,
            "re_referral": ReReferral(days_since_last_closure=plan.days_since_last_closure)
            if plan.days_since_last_closure is not None
            else None,
        }
    )


def _answer(plan: Plan, response: Response) -> PlanOut:
    response.headers["ETag"] = etag(plan.version)
    return plan_out(plan)


@router.post("/plans", status_code=201, response_model=PlanOut)
async def create_plan(
    body: PlanIn,
    session: SessionDep,
    policy: PolicyDep,
    findings: FindingsDep,
    principal: WritesPlans,
    idempotency: IdempotencyDep,
) -> Response:
    """A draft plan from a submitted assessment, with its needs listed; 409 with `Location` when one is open."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    plan = await service.create_plan(session, policy, findings, principal, body)
    headers = {"ETag": etag(plan.version), "Location": f"/plans/{plan.id}"}
    return idempotency.remember(JSONResponse(plan_out(plan).model_dump(mode="json"), 201, headers))


@router.get("/plans")
async def list_plans(
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsPlans,
    family_id: Annotated[str, Query(max_length=36)],
) -> list[PlanSummary]:
    """A family's plans the caller may open; the others are neither listed nor counted."""
    plans = await service.family_plans(session, policy, principal, family_id)
    return [
        PlanSummary(
            id=plan.id,
            family_id=plan.family_id,
            status=plan.status,
            version=plan.version,
            lead_professional=_lead(plan),
            opened_on=plan.opened_on,
            next_review_due=plan.next_review_due,
        )
        for plan in plans
    ]


@router.get("/plans/{plan_id}")
async def get_plan(
    plan_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsPlans, response: Response
) -> PlanOut:
    """One plan, with its ETag; every read is audited."""
    return _answer(await service.read_plan(session, policy, principal, plan_id), response)


@router.patch("/plans/{plan_id}")
async def update_plan(plan_id: Id, body: PlanPatch, editor: EditorDep, response: Response) -> PlanOut:
    """Replace parts of the plan (lead, team, needs, actions, next review); needs `If-Match`."""
    return _answer(await service.update_plan(editor, plan_id, body), response)


@router.post("/plans/{plan_id}/goals")
async def add_goal(plan_id: Id, body: GoalIn, editor: EditorDep, response: Response) -> PlanOut:
    """A goal linked to the plan's needs, with its outcome area and measure of success."""
    return _answer(await service.add_goal(editor, plan_id, body), response)


@router.post("/plans/{plan_id}/activate")
async def activate_plan(plan_id: Id, body: ActivateIn, editor: EditorDep, response: Response) -> PlanOut:
    """The plan is agreed: it needs a lead professional and a goal; the first review is due 6 weeks on."""
    return _answer(await service.activate(editor, plan_id, body), response)


@router.post("/plans/{plan_id}/reviews")
async def record_review(plan_id: Id, body: ReviewIn, editor: EditorDep, response: Response) -> PlanOut:
    """A review: who came, the family's voice, and every goal on the change matrix (stage and score 1-10)."""
    return _answer(await service.record_review(editor, plan_id, body), response)


@router.post("/plans/{plan_id}/close")
async def close_plan(plan_id: Id, body: CloseIn, editor: EditorDep, response: Response) -> PlanOut:
    """Close an active plan with its reason."""
    return _answer(await service.close(editor, plan_id, body), response)


@router.post("/plans/{plan_id}/step-up")
async def step_up(plan_id: Id, body: StepUpIn, editor: EditorDep, response: Response) -> PlanOut:
    """Social care takes the family over: the plan closes, recording when and why."""
    return _answer(await service.step_up(editor, plan_id, body), response)


@router.post("/plans/{plan_id}/step-down", status_code=201)
async def step_down(plan_id: Id, body: StepDownIn, editor: EditorDep, response: Response) -> PlanOut:
    """Social care hands the family back: a new early help plan flagged as a step-down (a soft landing)."""
    plan = await service.step_down(editor, plan_id, body)
    response.headers["Location"] = f"/plans/{plan.id}"
    return _answer(plan, response)


@router.post("/plans/{plan_id}/reopen")
async def reopen_plan(plan_id: Id, body: ReopenIn, editor: EditorDep, response: Response) -> PlanOut:
    """A closed plan becomes active again."""
    return _answer(await service.reopen(editor, plan_id, body), response)


# --- for platform services (the gateway does not route /internal/) ----------------------


@router.get("/internal/plans/{plan_id}/participants", tags=["internal"])
async def get_plan_participants(plan_id: Id, session: SessionDep, _caller: ActsAsAService) -> PlanParticipants:
    """The organisations a plan names and its lead, for a service; not audited: nothing of the family is in it."""
    plan = await service.participants(session, plan_id)
    return PlanParticipants.model_validate(
        {
            "plan_id": plan.id,
            "family_id": plan.family_id,
            "status": plan.status,
            "organisations": sorted(service.plan_organisations(plan)),
            "lead": _lead(plan),
        }
    )

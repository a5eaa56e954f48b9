"""HTTP for plans, their contacts and chronology, referrals to social care, the Supporting Families ledger and
reports: translation only; the rules are in `service`.

Every report answers JSON, or CSV of its rows with `?format=csv` or
`Accept: text/csv`.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.access.decisions import AccessPolicy
from services.access.standing import Standing
from services.kit.auth import Principal, require_scope
from services.kit.dates import Day
from services.kit.db import SessionDep
from services.kit.etags import IfMatch, etag
from services.kit.idempotency import IdempotencyDep
from services.kit.ids import ID_PATTERN
from services.kit.openapi import problems
from services.kit.paging import Count, link_next
from services.kit.problems import ValidationFailed
from services.plan import service
from services.plan.clients import AssessmentFindings
from services.plan.document import dumped
from services.plan.models import (
    Plan,
    PlanContact,
    SocialCareReferral,
    SupportingFamiliesClaim,
    SupportingFamiliesEnrolment,
)
from services.plan.outcomes_plan import OutcomesPlan
from services.plan.schemas import (
    ActivateIn,
    AssessmentsStarted,
    Caseload,
    Chronology,
    ClaimIn,
    ClaimOut,
    Claims,
    CloseIn,
    Closure,
    Closures,
    ContactIn,
    ContactOut,
    DiscardIn,
    DistanceTravelled,
    EnrolmentIn,
    EnrolmentOut,
    Goal,
    GoalIn,
    LeadProfessional,
    Ledger,
    Localities,
    NeedsProfile,
    OpenWork,
    OutcomeIn,
    OutcomesPlanOut,
    Period,
    PlanDuration,
    PlanIn,
    PlanOut,
    PlanParticipants,
    PlanPatch,
    PlanSummary,
    ReferralIn,
    ReferralOut,
    ReferralSources,
    ReopenIn,
    ReReferral,
    ReReferrals,
    Review,
    ReviewIn,
    ReviewsOverdue,
    StepDownIn,
    StepDownOutcomes,
    StepUp,
    StepUpIn,
    TimeToPlan,
)

ReadsPlans = Annotated[Principal, Depends(require_scope("plans:read"))]
WritesPlans = Annotated[Principal, Depends(require_scope("plans:write"))]
ActsAsAService = Annotated[Principal, Depends(require_scope("service"))]
Id = Annotated[str, Path(max_length=36, pattern=ID_PATTERN)]


# async: FastAPI runs a plain function dependency in a worker thread, a cost on every request.
async def _policy(request: Request) -> AccessPolicy:
    policy: AccessPolicy = request.app.state.access_policy
    return policy


async def _findings(request: Request) -> AssessmentFindings:
    findings: AssessmentFindings = request.app.state.findings
    return findings


async def _standing(request: Request) -> Standing:
    standing: Standing = request.app.state.standing
    return standing


PolicyDep = Annotated[AccessPolicy, Depends(_policy)]
FindingsDep = Annotated[AssessmentFindings, Depends(_findings)]
StandingDep = Annotated[Standing, Depends(_standing)]


async def _editor(
    session: SessionDep, policy: PolicyDep, standing: StandingDep, principal: WritesPlans, if_match: IfMatch = None
) -> service.Editor:
    return service.Editor(session, policy, standing, principal, if_match)


EditorDep = Annotated[service.Editor, Depends(_editor)]

router = APIRouter(tags=["plans"])


def _lead(plan: Plan) -> LeadProfessional | None:
    if plan.lead_name is None or plan.lead_organisation_id is None:
        return None
    return LeadProfessional(name=plan.lead_name, organisation_id=plan.lead_organisation_id, email=plan.lead_email)


def plan_out(plan: Plan, principal: Principal) -> PlanOut:
    """The plan as the caller sees it: `allowed_actions` are what its status allows and the caller may do."""
    return PlanOut.model_validate(
        {
            "id": plan.id,
            "family_id": plan.family_id,
            "status": plan.status,
            "version": plan.version,
            "organisation_id": plan.organisation_id,
            "assessment_id": plan.assessment_id,
            "lead_professional": _lead(plan),
            "team": dumped(plan.team),
            "needs": dumped(plan.needs),
            "goals": [Goal.model_validate(goal) for goal in dumped(plan.goals)],
            "actions": dumped(plan.actions),
            "reviews": [Review.model_validate(review) for review in dumped(plan.reviews)],
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
            "episodes": dumped(plan.episodes),
            "allowed_actions": service.actions_for(principal, plan),
        }
    )


def _answer(plan: Plan, principal: Principal, response: Response) -> PlanOut:
    response.headers["ETag"] = etag(plan.version)
    return plan_out(plan, principal)


@router.post("/plans", status_code=201, response_model=PlanOut, responses=problems(404, 409))
async def create_plan(
    body: PlanIn,
    session: SessionDep,
    policy: PolicyDep,
    findings: FindingsDep,
    standing: StandingDep,
    principal: WritesPlans,
    idempotency: IdempotencyDep,
) -> Response:
    """A draft plan from a submitted assessment, with its needs listed; 409 with `Location` when one is open."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    plan = await service.create_plan(session, policy, standing, findings, principal, body)
    headers = {"ETag": etag(plan.version), "Location": f"/plans/{plan.id}"}
    return idempotency.remember(JSONResponse(plan_out(plan, principal).model_dump(mode="json"), 201, headers))


@router.get("/plans")
async def list_plans(
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsPlans,
    family_id: Annotated[str | None, Query(max_length=36)] = None,
    lead_email: Annotated[
        str | None,
        Query(
            max_length=254,
            description="instead of `family_id`: the open plans your organisation leads through this practitioner "
            "(their work address), the next review due first",
        ),
    ] = None,
) -> list[PlanSummary]:
    """A family's plans the caller may open, or a lead professional's; the others are neither listed nor counted."""
    if (family_id is None) == (lead_email is None):
        raise ValidationFailed("Give either `family_id` or `lead_email`.")
    if family_id is not None:
        plans = await service.family_plans(session, policy, principal, family_id)
    else:
        plans = await service.plans_led_by(session, policy, principal, lead_email or "")
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


@router.get("/plans/led/count")
async def count_plans(
    session: SessionDep,
    principal: ReadsPlans,
    lead_email: Annotated[
        str, Query(max_length=254, description="the practitioner's work address, as `GET /plans?lead_email=` takes it")
    ],
) -> Count:
    """How many open plans your organisation leads through this practitioner, without listing them: a badge's number.

    Not audited, as it names no family; `GET /plans?lead_email=` lists them, each read audited.
    """
    return Count(count=await service.open_plans_led_count(session, principal, lead_email))


@router.get("/plans/{plan_id}")
async def get_plan(
    plan_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsPlans, response: Response
) -> PlanOut:
    """One plan, with its ETag; every read is audited."""
    return _answer(await service.read_plan(session, policy, principal, plan_id), principal, response)


@router.patch("/plans/{plan_id}", responses=problems(409))
async def update_plan(plan_id: Id, body: PlanPatch, editor: EditorDep, response: Response) -> PlanOut:
    """Replace parts of the plan (lead, team, needs, actions, next review); needs `If-Match`."""
    return _answer(await service.update_plan(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/goals", responses=problems(409))
async def add_goal(plan_id: Id, body: GoalIn, editor: EditorDep, response: Response) -> PlanOut:
    """A goal linked to the plan's needs, with its outcome area and measure of success."""
    return _answer(await service.add_goal(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/activate", responses=problems(409))
async def activate_plan(plan_id: Id, body: ActivateIn, editor: EditorDep, response: Response) -> PlanOut:
    """The plan is agreed: it needs a lead professional and a goal; the first review is due 6 weeks on."""
    return _answer(await service.activate(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/reviews", responses=problems(409))
async def record_review(plan_id: Id, body: ReviewIn, editor: EditorDep, response: Response) -> PlanOut:
    """A review: who came, the family's voice, and every goal on the change matrix (stage and score 1-10)."""
    return _answer(await service.record_review(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/close", responses=problems(409))
async def close_plan(plan_id: Id, body: CloseIn, editor: EditorDep, response: Response) -> PlanOut:
    """Close an active plan with its reason."""
    return _answer(await service.close(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/step-up", responses=problems(409))
async def step_up(plan_id: Id, body: StepUpIn, editor: EditorDep, response: Response) -> PlanOut:
    """Social care takes the family over: the plan closes, recording when and why."""
    return _answer(await service.step_up(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/step-down", status_code=201, responses=problems(409))
async def step_down(plan_id: Id, body: StepDownIn, editor: EditorDep, response: Response) -> PlanOut:
    """Social care hands the family back: a new early help plan flagged as a step-down (a soft landing)."""
    plan = await service.step_down(editor, plan_id, body)
    response.headers["Location"] = f"/plans/{plan.id}"
    return _answer(plan, editor.principal, response)


@router.post("/plans/{plan_id}/reopen", responses=problems(409))
async def reopen_plan(plan_id: Id, body: ReopenIn, editor: EditorDep, response: Response) -> PlanOut:
    """A closed plan becomes active again, in a new episode; a re-referral when within 12 months of its closure."""
    return _answer(await service.reopen(editor, plan_id, body), editor.principal, response)


@router.post("/plans/{plan_id}/discard", responses=problems(409))
async def discard_plan(plan_id: Id, body: DiscardIn, editor: EditorDep, response: Response) -> PlanOut:
    """A draft nobody goes on with is discarded: it frees the family's one open-plan slot and counts as no closure."""
    return _answer(await service.discard(editor, plan_id, body), editor.principal, response)


# --- contacts and the chronology ---------------------------------------------------------


def contact_out(contact: PlanContact) -> ContactOut:
    return ContactOut.model_validate(
        {
            "id": contact.id,
            "plan_id": contact.plan_id,
            "family_id": contact.family_id,
            "kind": contact.kind,
            "occurred_at": contact.occurred_at,
            "participants": dumped(contact.participants),
            "summary": contact.summary,
            "organisation_id": contact.organisation_id,
            "recorded_by": contact.recorded_by,
            "recorded_at": contact.recorded_at,
        }
    )


@router.post(
    "/plans/{plan_id}/contacts",
    status_code=201,
    response_model=ContactOut,
    tags=["case notes"],
    responses=problems(409),
)
async def record_contact(
    plan_id: Id,
    body: ContactIn,
    session: SessionDep,
    policy: PolicyDep,
    principal: WritesPlans,
    idempotency: IdempotencyDep,
) -> Response:
    """A visit, call, meeting, message or note with the family, recorded by the plan's author, lead or team."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    contact = await service.contacts.record_contact(session, policy, principal, plan_id, body)
    return idempotency.remember(JSONResponse(contact_out(contact).model_dump(mode="json"), 201))


@router.get("/plans/{plan_id}/contacts", tags=["case notes"])
async def list_contacts(
    plan_id: Id,
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsPlans,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[str | None, Query(max_length=36, description="from the `next` link of the page before")] = None,
) -> list[ContactOut]:
    """The plan's contacts in the order they happened, to a reader of its case notes; `Link` pages on; audited."""
    page = await service.contacts.plan_contacts(session, policy, principal, plan_id, limit, after)
    link_next(response, f"/plans/{plan_id}/contacts", page, limit)
    return [contact_out(contact) for contact in page.items]


@router.get("/plans/{plan_id}/chronology", tags=["case notes"])
async def get_chronology(plan_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsPlans) -> Chronology:
    """The plan's steps, reviews, contacts, assessment and referrals in date order; notes to a case notes reader."""
    return await service.chronology.chronology(session, policy, principal, plan_id)


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


# --- reports ----------------------------------------------------------------------------

ReadsReports = Annotated[Principal, Depends(require_scope("reports:read"))]
CSV_MEDIA_TYPE = "text/csv"

reports = APIRouter(prefix="/reports", tags=["reports"])


def _period(
    start: Annotated[
        Day | None, Query(alias="from", description="first day; 3 months before `to` when left out")
    ] = None,
    end: Annotated[Day | None, Query(alias="to", description="last day, inclusive; today when left out")] = None,
) -> Period:
    end = end or date.today()
    start = start or end - timedelta(days=91)
    if start > end:
        raise ValidationFailed("`from` is after `to`.")
    return Period(start=start, end=end)


PeriodDep = Annotated[Period, Depends(_period)]
Format = Annotated[Literal["json", "csv"] | None, Query(alias="format", description="csv, or send Accept: text/csv")]
# Each report documents its CSV form beside the JSON one.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}}
Accept = Annotated[str | None, Header()]
# The document lists the breakdowns; the report itself refuses any other with a 400 that names them.
By = Annotated[
    str | None,
    Query(
        max_length=40,
        description="a breakdown: level_of_need, lead_agency, agency, locality, age_band, sex or ethnicity; any "
        "other is a 400",
        json_schema_extra={"enum": list(service.reports.BY_PLAN)},
    ),
]
BY_RESPONSES = {**CSV_RESPONSE, **problems(400)}
# The manager's dashboard narrows every report to one locality (`GET /reports/localities` lists them).
Locality = Annotated[
    str | None,
    Query(max_length=40, description="only the families of this locality (a code of GET /reports/localities)"),
]


def _report(
    answer: tuple[BaseModel, Sequence[dict[str, Any]]], name: str, fmt: str | None, accept: str | None
) -> Response:
    report, rows = answer
    if fmt == "csv" or (fmt is None and accept is not None and CSV_MEDIA_TYPE in accept):
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
        return Response(buffer.getvalue(), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", headers=headers)
    # Serialised by pydantic-core in one step: a report of many rows (claims: some 20,000 candidates over a county's
    # year) spent three times as long in model_dump and json.dumps.
    return Response(report.model_dump_json(), media_type="application/json")


@reports.get("/assessments-started", response_model=AssessmentsStarted, responses=CSV_RESPONSE)
async def assessments_started(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    request: Request,
    fmt: Format = None,
    accept: Accept = None,
    form_key: Annotated[str, Query(max_length=100)] = "early-help-assessment",
    locality: Locality = None,
) -> Response:
    """Assessments started in the period, per organisation type, organisation and locality: shares, and rates per
    10,000 children of the council's population."""
    population = request.app.state.population
    answer = await service.reports.assessments_started(session, principal, period, form_key, population, locality)
    return _report(answer, "assessments-started", fmt, accept)


@reports.get("/time-to-plan", response_model=TimeToPlan, responses=BY_RESPONSES)
async def time_to_plan(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Of plans activated in the period: median working days from the request for support; share within 10."""
    answer = await service.reports.time_to_plan(session, principal, period, by, locality)
    return _report(answer, "time-to-plan", fmt, accept)


@reports.get("/closures", response_model=Closures, responses=BY_RESPONSES)
async def closures(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Plans closed in the period by reason, and the share closed with outcomes met."""
    answer = await service.reports.closures(session, principal, period, by, locality)
    return _report(answer, "closures", fmt, accept)


@reports.get("/re-referrals", response_model=ReReferrals, responses=BY_RESPONSES)
async def re_referrals(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Of the episodes closed in the period (stepped-up ones aside): back to early help within 6 and 12 months,
    referred to social care within 6 weeks and 6 months."""
    answer = await service.reports.re_referrals(session, principal, period, by, locality)
    return _report(answer, "re-referrals", fmt, accept)


@reports.get("/open-work", response_model=OpenWork, responses=BY_RESPONSES)
async def open_work(
    session: SessionDep,
    principal: ReadsReports,
    on: Annotated[Day | None, Query(description="the day; today when left out")] = None,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Open plans on a day, and the families and children they support."""
    answer = await service.reports.open_work(session, principal, on or date.today(), by, locality)
    return _report(answer, "open-work", fmt, accept)


@reports.get("/plan-duration", response_model=PlanDuration, responses=BY_RESPONSES)
async def plan_duration(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """How long the episodes closed in the period lasted, by close reason: median days and bands."""
    answer = await service.reports.plan_duration(session, principal, period, by, locality)
    return _report(answer, "plan-duration", fmt, accept)


@reports.get("/reviews-overdue", response_model=ReviewsOverdue, responses=BY_RESPONSES)
async def reviews_overdue(
    session: SessionDep,
    principal: ReadsReports,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Active plans whose next review is past, today, by lead agency unless `by` says otherwise."""
    answer = await service.reports.reviews_overdue(session, principal, by, locality)
    return _report(answer, "reviews-overdue", fmt, accept)


@reports.get("/distance-travelled", response_model=DistanceTravelled, responses=BY_RESPONSES)
async def distance_travelled(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Change-matrix movement of each goal between its plan's first and latest review, per outcome area."""
    answer = await service.reports.distance_travelled(session, principal, period, by, locality)
    return _report(answer, "distance-travelled", fmt, accept)


@reports.get("/step-down-outcomes", response_model=StepDownOutcomes, responses=BY_RESPONSES)
async def step_down_outcomes(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Families stepped down from social care in the period: how their plans stand, and how many came back to
    social care within 6 months."""
    answer = await service.reports.step_down_outcomes(session, principal, period, by, locality)
    return _report(answer, "step-down-outcomes", fmt, accept)


@reports.get("/caseload", response_model=Caseload, responses=CSV_RESPONSE)
async def caseload(
    session: SessionDep, principal: ReadsReports, locality: Locality = None, fmt: Format = None, accept: Accept = None
) -> Response:
    """Families and children on each lead professional's active plans today, by the lead's e-mail address."""
    return _report(await service.reports.caseload(session, principal, locality), "caseload", fmt, accept)


@reports.get("/claims", response_model=Claims, responses=CSV_RESPONSE)
async def claims(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Supporting Families claim candidates: an estimate; the ledger (`/supporting-families/claims`) holds claims.

    Plans closed in the period with every need met, in 3 or more outcome areas, and no re-referral
    or step-up for 6 months after closure.
    """
    return _report(await service.reports.claims(session, principal, period, locality), "claims", fmt, accept)


@reports.get("/referral-sources", response_model=ReferralSources, responses=BY_RESPONSES)
async def referral_sources(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    by: By = None,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """Where early help came from: plans opened by source (a step-down, the front door, an agency's assessment),
    and requests for support by who made them, each with its share."""
    answer = await service.reports.referral_sources(session, principal, period, by, locality)
    return _report(answer, "referral-sources", fmt, accept)


@reports.get("/needs-profile", response_model=NeedsProfile, responses=CSV_RESPONSE)
async def needs_profile(
    session: SessionDep,
    principal: ReadsReports,
    period: PeriodDep,
    top: Annotated[int, Query(ge=1, le=50, description="how many outcome areas, the most common first")] = 10,
    locality: Locality = None,
    fmt: Format = None,
    accept: Accept = None,
) -> Response:
    """The presenting needs of the plans opened in the period by outcome area: plans, needs and share."""
    answer = await service.reports.needs_profile(session, principal, period, top, locality)
    return _report(answer, "needs-profile", fmt, accept)


@reports.get("/localities", response_model=Localities, responses=CSV_RESPONSE)
async def localities(
    session: SessionDep, _principal: ReadsReports, request: Request, fmt: Format = None, accept: Accept = None
) -> Response:
    """The localities the reports can be narrowed to (`locality=`), each with the council's child population."""
    answer = await service.reports.localities(session, request.app.state.population)
    return _report(answer, "localities", fmt, accept)


# --- referrals to children's social care ------------------------------------------------


def referral_out(referral: SocialCareReferral, writes: bool) -> ReferralOut:
    """The referral; `record_outcome` allowed while social care's decision is not recorded, to those who write."""
    allowed = ["record_outcome"] if writes and referral.outcome is None else []
    return ReferralOut.model_validate(referral, from_attributes=True).model_copy(update={"allowed_actions": allowed})


@router.post("/families/{family_id}/social-care-referrals", status_code=201, tags=["social care"])
async def refer_to_social_care(
    family_id: Id, body: ReferralIn, session: SessionDep, policy: PolicyDep, principal: WritesPlans, response: Response
) -> ReferralOut:
    """A referral to children's social care from the front door or after early help closed; a step-up makes its own."""
    referral = await service.referrals.refer(session, policy, principal, family_id, body)
    response.headers["Location"] = f"/social-care-referrals/{referral.id}"
    return referral_out(referral, writes=True)


@router.get("/families/{family_id}/social-care-referrals", tags=["social care"])
async def list_social_care_referrals(
    family_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsPlans
) -> list[ReferralOut]:
    """The family's referrals to social care, oldest first, with their outcomes; audited."""
    read = await service.referrals.family_referrals(session, policy, principal, family_id)
    return [referral_out(referral, read.writes) for referral in read.referrals]


@router.get("/social-care-referrals/{referral_id}", tags=["social care"])
async def get_social_care_referral(
    referral_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsPlans
) -> ReferralOut:
    """One referral to social care, with its outcome once recorded; every read is audited."""
    read = await service.referrals.read_referral(session, policy, principal, referral_id)
    return referral_out(read.referrals[0], read.writes)


@router.post("/social-care-referrals/{referral_id}/outcome", tags=["social care"], responses=problems(409))
async def record_social_care_outcome(
    referral_id: Id, body: OutcomeIn, session: SessionDep, policy: PolicyDep, principal: WritesPlans
) -> ReferralOut:
    """What social care decided on the referral, recorded once (409 after); never before the referral's date."""
    referral = await service.referrals.record_outcome(session, policy, principal, referral_id, body)
    return referral_out(referral, writes=True)


# --- the Supporting Families ledger -----------------------------------------------------


async def _outcomes_plan(request: Request) -> OutcomesPlan:
    plan: OutcomesPlan = request.app.state.outcomes_plan
    return plan


OutcomesPlanDep = Annotated[OutcomesPlan, Depends(_outcomes_plan)]
supporting_families = APIRouter(prefix="/supporting-families", tags=["supporting families"])


def enrolment_out(enrolment: SupportingFamiliesEnrolment, claim_id: str | None) -> EnrolmentOut:
    return EnrolmentOut.model_validate(
        {
            "id": enrolment.id,
            "family_id": enrolment.family_id,
            "plan_id": enrolment.plan_id,
            "episode": enrolment.episode,
            "areas": enrolment.areas,
            "enrolled_on": enrolment.enrolled_on,
            "organisation_id": enrolment.organisation_id,
            "claim_id": claim_id,
        }
    )


def claim_out(claim: SupportingFamiliesClaim) -> ClaimOut:
    return ClaimOut.model_validate(claim, from_attributes=True)


@supporting_families.get("/outcomes-plan")
async def get_outcomes_plan(outcomes: OutcomesPlanDep, _caller: ReadsPlans) -> OutcomesPlanOut:
    """The council's outcomes plan: headline areas and indicators, the rules of a claim, the payment and targets."""
    return OutcomesPlanOut.model_validate(
        {
            "council": outcomes.council,
            "minimum_areas": outcomes.minimum_areas,
            "continuous_employment_months": outcomes.continuous_employment.months,
            "payment_per_claim": outcomes.payment_per_claim,
            "headline_areas": [
                {
                    "key": area.key,
                    "name": area.name,
                    "sustained_months": outcomes.months_sustained(area),
                    "indicators": [indicator.model_dump() for indicator in area.indicators],
                }
                for area in outcomes.headline_areas
            ],
            "targets": [target.model_dump() for target in outcomes.targets],
        }
    )


@supporting_families.post(
    "/enrolments", status_code=201, response_model=EnrolmentOut, responses=problems(403, 409, 422)
)
async def enrol_in_supporting_families(
    body: EnrolmentIn,
    session: SessionDep,
    policy: PolicyDep,
    outcomes: OutcomesPlanDep,
    principal: WritesPlans,
    idempotency: IdempotencyDep,
) -> Response:
    """The family joins, in its open plan's episode, on the headline areas that make it eligible (two or more)."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    enrolment = await service.supporting_families.enrol(session, policy, principal, outcomes, body)
    headers = {"Location": f"/supporting-families/enrolments?family_id={enrolment.family_id}"}
    answer = enrolment_out(enrolment, None).model_dump(mode="json")
    return idempotency.remember(JSONResponse(answer, 201, headers))


@supporting_families.get("/enrolments", responses=problems(403))
async def list_supporting_families_enrolments(
    session: SessionDep, policy: PolicyDep, principal: ReadsPlans, family_id: Annotated[str, Query(max_length=36)]
) -> list[EnrolmentOut]:
    """The family's enrolments, each with its claim once made, to its council and a coordinator; audited."""
    enrolments = await service.supporting_families.family_enrolments(session, policy, principal, family_id)
    return [enrolment_out(enrolment, claim_id) for enrolment, claim_id in enrolments]


@supporting_families.post("/claims", status_code=201, response_model=ClaimOut, responses=problems(403, 404, 409, 422))
async def claim_for_a_family(
    body: ClaimIn,
    session: SessionDep,
    policy: PolicyDep,
    outcomes: OutcomesPlanDep,
    principal: WritesPlans,
    idempotency: IdempotencyDep,
) -> Response:
    """A claim for an enrolled family, by significant and sustained progress or continuous employment; once."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    made = await service.supporting_families.claim(session, policy, principal, outcomes, body)
    return idempotency.remember(JSONResponse(claim_out(made).model_dump(mode="json"), 201))


@supporting_families.get("/claims", responses=problems(403, 422))
async def supporting_families_ledger(
    session: SessionDep,
    outcomes: OutcomesPlanDep,
    principal: ReadsPlans,
    year: Annotated[
        str | None,
        Query(max_length=7, description="the financial year, April to March, as 2025-26; this one when left out"),
    ] = None,
) -> Ledger:
    """A financial year's claims against its target, with the payment due; a coordinator's every claim, a
    council's its own; each claim's read audited."""
    found = await service.supporting_families.claims_of_year(session, principal, outcomes, year)
    by_route = {"significant_and_sustained": 0, "continuous_employment": 0}
    for made in found.claims:
        by_route[made.route] += 1
    claimed = len(found.claims)
    target = found.target
    return Ledger.model_validate(
        {
            "year": found.year,
            "starts_on": found.starts_on,
            "ends_on": found.ends_on,
            "target": target,
            "claimed": claimed,
            "by_route": by_route,
            "share_of_target": round(claimed / target, 4) if target else None,
            "remaining_to_target": max(target - claimed, 0) if target is not None else None,
            "payment_per_claim": outcomes.payment_per_claim,
            "payment_due": sum(made.payment for made in found.claims),
            "claims": [claim_out(made) for made in found.claims],
        }
    )

"""HTTP for forms, families and assessments: translation only; the rules are in the `service` package."""

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.access.decisions import AccessPolicy
from services.assessment import fhir
from services.assessment.clients import Consent
from services.assessment.forms import FormContent
from services.assessment.localities import Localities
from services.assessment.models import Assessment, AssessmentRevision, FormVersion, RequestDecision
from services.assessment.schemas import (
    MAX_VERSION,
    AnswersIn,
    AssessmentIn,
    AssessmentNeeds,
    AssessmentOut,
    AssessmentSummary,
    CarryForwardIn,
    CorrectionIn,
    DecisionIn,
    DecisionOut,
    FamilyIn,
    FamilyMatchIn,
    FamilyMatchOut,
    FamilyOut,
    FormOut,
    FormStamp,
    FormVersionOut,
    FormVersionSummary,
    FrontDoor,
    FrontDoorOutcome,
    IdentifierOut,
    MemberOut,
    ReportingProfile,
    ReportPeriod,
    RequestForSupportOut,
    RequestStatus,
    RevisionOut,
)
from services.assessment.service import assessments, families, form_versions, front_door, reports
from services.assessment.service.families import FamilyRecord
from services.assessment.service.form_versions import CompiledForms
from services.kit.auth import Principal, PrincipalDep, require_scope
from services.kit.dates import Day
from services.kit.db import SessionDep
from services.kit.etags import IfMatch, check_if_match, etag
from services.kit.idempotency import IdempotencyDep
from services.kit.ids import ID_PATTERN
from services.kit.openapi import problems
from services.kit.paging import Count, link_next
from services.kit.problems import ValidationFailed

FHIR_JSON = "application/fhir+json"

ReadsAssessments = Annotated[Principal, Depends(require_scope("assessments:read"))]
WritesAssessments = Annotated[Principal, Depends(require_scope("assessments:write"))]
AdministersForms = Annotated[Principal, Depends(require_scope("forms:admin"))]
ActsAsAService = Annotated[Principal, Depends(require_scope("service"))]
FormKey = Annotated[str, Path(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
FHIR_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}}}
Id = Annotated[str, Path(max_length=36, pattern=ID_PATTERN)]


# async: FastAPI runs a plain function dependency in a worker thread, a cost on every request.
async def _forms(request: Request) -> CompiledForms:
    forms: CompiledForms = request.app.state.forms
    return forms


async def _localities(request: Request) -> Localities:
    localities: Localities = request.app.state.localities
    return localities


LocalitiesDep = Annotated[Localities, Depends(_localities)]


async def _policy(request: Request) -> AccessPolicy:
    policy: AccessPolicy = request.app.state.access_policy
    return policy


FormsDep = Annotated[CompiledForms, Depends(_forms)]
PolicyDep = Annotated[AccessPolicy, Depends(_policy)]


async def _consent(request: Request) -> Consent:
    consent: Consent = request.app.state.consent
    return consent


ConsentDep = Annotated[Consent, Depends(_consent)]

router = APIRouter()


# --- forms ------------------------------------------------------------------------------


def _version_summary(row: FormVersion) -> FormVersionSummary:
    return FormVersionSummary.model_validate(row, from_attributes=True)


def _version_out(row: FormVersion) -> FormVersionOut:
    definition = row.definition
    return FormVersionOut(
        key=row.key,
        version=row.version,
        status=row.status,
        sha256=row.sha256,
        title=row.title,
        description=definition.get("description"),
        answer_schema=definition["schema"],
        layout=definition["layout"],
        carry_forward=definition.get("carry_forward"),
        created_at=row.created_at,
        published_at=row.published_at,
        retired_at=row.retired_at,
    )


def _forms_out(rows: Sequence[FormVersion]) -> list[FormOut]:
    by_key: dict[str, list[FormVersion]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    return [
        FormOut(
            key=key,
            title=versions[-1].title,
            latest_published=max((row.version for row in versions if row.status == "published"), default=None),
            versions=[_version_summary(row) for row in versions],
        )
        for key, versions in by_key.items()
    ]


@router.get("/forms", tags=["forms"])
async def list_forms(session: SessionDep, _principal: PrincipalDep) -> list[FormOut]:
    """Form keys and their versions."""
    return _forms_out(await form_versions.all_form_versions(session))


@router.get("/forms/{key}/versions/{version}", tags=["forms"])
async def get_form_version(
    key: FormKey, version: Version, session: SessionDep, _principal: PrincipalDep
) -> FormVersionOut:
    """One version of a form: its JSON Schema and layout."""
    return _version_out(await form_versions.require_form_version(session, key, version))


@router.post("/forms/{key}/versions", status_code=201, tags=["forms"], responses=problems(409))
async def create_form_version(
    key: FormKey, body: FormContent, session: SessionDep, _principal: AdministersForms, response: Response
) -> FormVersionOut:
    """A new draft version of a form, numbered after the last."""
    row = await form_versions.create_form_version(session, key, body)
    response.headers["Location"] = f"/forms/{key}/versions/{row.version}"
    return _version_out(row)


@router.put("/forms/{key}/versions/{version}", tags=["forms"], responses=problems(409))
async def replace_form_version(
    key: FormKey, version: Version, body: FormContent, session: SessionDep, _principal: AdministersForms
) -> FormVersionOut:
    """Rewrite a draft version; a published one answers 409."""
    return _version_out(await form_versions.replace_draft_version(session, key, version, body))


@router.post("/forms/{key}/versions/{version}/publish", tags=["forms"], responses=problems(409))
async def publish_form_version(
    key: FormKey, version: Version, session: SessionDep, _principal: AdministersForms
) -> FormVersionOut:
    """Publish a draft version; it never changes afterwards."""
    return _version_out(await form_versions.publish_form_version(session, key, version))


@router.post("/forms/{key}/versions/{version}/retire", tags=["forms"], responses=problems(409))
async def retire_form_version(
    key: FormKey, version: Version, session: SessionDep, _principal: AdministersForms
) -> FormVersionOut:
    """Stop new assessments on a version; existing ones stay readable."""
    return _version_out(await form_versions.retire_form_version(session, key, version))


@router.get("/forms/{key}/versions/{version}/fhir", tags=["forms"], responses=FHIR_RESPONSE)
async def get_form_version_as_fhir(
    key: FormKey, version: Version, session: SessionDep, _principal: PrincipalDep
) -> JSONResponse:
    """The form version as a FHIR R4 Questionnaire."""
    row = await form_versions.require_form_version(session, key, version)
    document = fhir.questionnaire(
        key=row.key,
        version=row.version,
        title=row.title,
        status=row.status,
        schema=row.definition["schema"],
        layout=row.definition["layout"],
        description=row.definition.get("description"),
    )
    return JSONResponse(document, media_type=FHIR_JSON)


# --- families ---------------------------------------------------------------------------


DEMOGRAPHICS = {"sex", "ethnicity", "first_language", "send_status", "young_carer", "postcode"}


def _family_out(record: FamilyRecord) -> FamilyOut:
    def identifier_out(system: str, value: str) -> IdentifierOut:
        local, _, issuer = system.partition(":")
        return IdentifierOut(system=local, value=value, issuer=issuer or None)

    return FamilyOut(
        id=record.family.id,
        created_by_organisation=record.family.created_by_organisation,
        created_at=record.family.created_at,
        members=[
            MemberOut(
                id=person.id,
                role=person.role,
                given_name=person.given_name,
                family_name=person.family_name,
                date_of_birth=person.date_of_birth,
                relationship=person.relationship,
                **person.model_dump(include=DEMOGRAPHICS),  # stored from MemberIn's closed lists, read back as them
                identifiers=[
                    identifier_out(identifier.system, identifier.value)
                    for identifier in record.identifiers
                    if identifier.person_id == person.id
                ],
            )
            for person in record.members
        ],
    )


def _json(model: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code, headers=headers)


@router.post("/families", status_code=201, tags=["families"], response_model=FamilyOut, responses=problems(409))
async def register_family(
    body: FamilyIn, session: SessionDep, consent: ConsentDep, principal: WritesAssessments, idempotency: IdempotencyDep
) -> Response:
    """Register a family and its members; a member already known answers 409 and asks for access for you."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    record = await families.register_family(session, consent, principal, body)
    return idempotency.remember(_json(_family_out(record), 201, {"Location": f"/families/{record.family.id}"}))


@router.get("/families", tags=["families"])
async def find_families(
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsAssessments,
    identifier: Annotated[str, Query(max_length=200, description="system:value, e.g. nhs:9434765919")],
) -> list[FamilyOut]:
    """Families with a member holding this identifier, of those your organisation may see."""
    return [_family_out(record) for record in await families.find_families(session, policy, principal, identifier)]


@router.get("/families/{family_id}", tags=["families"])
async def get_family(family_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsAssessments) -> FamilyOut:
    """A family and its members, if your organisation may see them."""
    return _family_out(await families.read_family(session, policy, principal, family_id))


@router.get("/families/{family_id}/fhir", tags=["families"], responses=FHIR_RESPONSE)
async def get_family_as_fhir(
    family_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsAssessments
) -> JSONResponse:
    """The family as a FHIR R4 Bundle of its Group and one Patient a member."""
    family = _family_out(await families.read_family(session, policy, principal, family_id))
    members = [member.model_dump(mode="json") for member in family.members]
    return JSONResponse(fhir.family_bundle(family_id=family.id, members=members), media_type=FHIR_JSON)


@router.get("/families/{family_id}/assessments", tags=["assessments"])
async def list_family_assessments(
    family_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsAssessments
) -> list[AssessmentSummary]:
    """The family's assessments your organisation may see; no others are shown or counted."""
    return [_summary(a) for a in await assessments.family_assessments(session, policy, principal, family_id)]


# --- assessments ------------------------------------------------------------------------


@router.get("/assessments/drafts/count", tags=["assessments"])
async def count_drafts(session: SessionDep, principal: ReadsAssessments) -> Count:
    """How many of your organisation's assessments are in draft, without listing them: a badge's number.

    Not audited, as it names no family; `GET /assessments?status=draft` lists them, each listing audited.
    """
    return Count(count=await assessments.organisation_draft_count(session, principal))


@router.get("/assessments", tags=["assessments"])
async def list_drafts(
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsAssessments,
    status: Annotated[Literal["draft"], Query(description="only `draft`: your organisation's unfinished work")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AssessmentSummary]:
    """Your organisation's own assessments in draft, the most recently changed first."""
    return [_summary(a) for a in await assessments.organisation_drafts(session, policy, principal, limit)]


def _stamp(assessment: Assessment) -> FormStamp:
    return FormStamp(key=assessment.form_key, version=assessment.form_version, sha256=assessment.form_sha256)


def _summary(assessment: Assessment) -> AssessmentSummary:
    return AssessmentSummary(
        id=assessment.id,
        family_id=assessment.family_id,
        organisation_id=assessment.organisation_id,
        form=_stamp(assessment),
        status=assessment.status,
        revision=assessment.revision,
        created_at=assessment.created_at,
        updated_at=assessment.updated_at,
        submitted_at=assessment.submitted_at,
    )


def _assessment_response(assessment: Assessment, status_code: int = 200) -> JSONResponse:
    out = AssessmentOut(
        **_summary(assessment).model_dump(),
        answers=assessment.answers,
        carried_from=assessment.carried_from,
        carried_forward=assessment.carried_forward,
    )
    headers = {"ETag": etag(assessment.revision)}
    if status_code == 201:
        headers["Location"] = f"/assessments/{assessment.id}"
    return _json(out, status_code, headers)


@router.post(
    "/assessments", status_code=201, tags=["assessments"], response_model=AssessmentOut, responses=problems(404)
)
async def create_assessment(
    body: AssessmentIn,
    session: SessionDep,
    forms: FormsDep,
    policy: PolicyDep,
    consent: ConsentDep,
    principal: WritesAssessments,
    idempotency: IdempotencyDep,
) -> Response:
    """Start a draft, or post a complete assessment with `status: submitted`."""
    if (replayed := await idempotency.replay(body)) is not None:
        return replayed
    assessment = await assessments.create_assessment(session, forms, policy, consent, principal, body)
    return idempotency.remember(_assessment_response(assessment, 201))


@router.get("/assessments/{assessment_id}", tags=["assessments"], response_model=AssessmentOut)
async def get_assessment(
    assessment_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsAssessments
) -> Response:
    """An assessment and its answers, with its ETag, if your organisation may see it."""
    return _assessment_response(await assessments.read_assessment(session, policy, principal, assessment_id))


@router.put("/assessments/{assessment_id}", tags=["assessments"], response_model=AssessmentOut, responses=problems(409))
async def update_assessment(
    assessment_id: Id,
    body: AnswersIn,
    session: SessionDep,
    forms: FormsDep,
    policy: PolicyDep,
    principal: WritesAssessments,
    if_match: IfMatch = None,
) -> Response:
    """Replace a draft's answers; needs If-Match (428 without, 412 when stale)."""
    assessment = await assessments.changeable(session, policy, principal, assessment_id)
    check_if_match(if_match, assessment.revision)
    return _assessment_response(await assessments.update_draft(session, forms, principal, assessment, body.answers))


@router.post(
    "/assessments/{assessment_id}/submit", tags=["assessments"], response_model=AssessmentOut, responses=problems(409)
)
async def submit_assessment(
    assessment_id: Id,
    session: SessionDep,
    forms: FormsDep,
    policy: PolicyDep,
    principal: WritesAssessments,
    if_match: IfMatch = None,
) -> Response:
    """Check every answer and submit; If-Match, when sent, must be current."""
    assessment = await assessments.changeable(session, policy, principal, assessment_id)
    check_if_match(if_match, assessment.revision, required=False)
    return _assessment_response(await assessments.submit(session, forms, principal, assessment))


@router.post(
    "/assessments/{assessment_id}/corrections",
    tags=["assessments"],
    response_model=AssessmentOut,
    responses=problems(409),
)
async def correct_assessment(
    assessment_id: Id,
    body: CorrectionIn,
    session: SessionDep,
    forms: FormsDep,
    policy: PolicyDep,
    principal: WritesAssessments,
    if_match: IfMatch = None,
) -> Response:
    """Correct a submitted assessment: a new revision with a reason; needs If-Match."""
    assessment = await assessments.changeable(session, policy, principal, assessment_id)
    check_if_match(if_match, assessment.revision)
    return _assessment_response(
        await assessments.correct(session, forms, principal, assessment, body.answers, body.reason)
    )


@router.get("/assessments/{assessment_id}/revisions", tags=["assessments"])
async def list_revisions(
    assessment_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsAssessments
) -> list[RevisionOut]:
    """Every revision: who changed which answers, when, and why for a correction."""
    return [_revision_out(r) for r in await assessments.revisions(session, policy, principal, assessment_id)]


def _revision_out(revision: AssessmentRevision) -> RevisionOut:
    return RevisionOut.model_validate(revision, from_attributes=True)


@router.post(
    "/assessments/{assessment_id}/carry-forward",
    status_code=201,
    tags=["assessments"],
    response_model=AssessmentOut,
    responses=problems(409),
)
async def carry_forward(
    assessment_id: Id,
    body: CarryForwardIn,
    session: SessionDep,
    forms: FormsDep,
    policy: PolicyDep,
    consent: ConsentDep,
    principal: WritesAssessments,
) -> Response:
    """A new draft for your organisation with every answer that still applies filled in."""
    draft = await assessments.carry_forward_assessment(
        session, forms, policy, consent, principal, assessment_id, body.form_version
    )
    return _assessment_response(draft, 201)


@router.get("/assessments/{assessment_id}/fhir", tags=["assessments"], responses=FHIR_RESPONSE)
async def get_assessment_as_fhir(
    assessment_id: Id, session: SessionDep, policy: PolicyDep, principal: ReadsAssessments
) -> JSONResponse:
    """The answers as a FHIR R4 QuestionnaireResponse."""
    assessment = await assessments.read_assessment(session, policy, principal, assessment_id)
    row = await form_versions.require_form_version(session, assessment.form_key, assessment.form_version)
    document = fhir.questionnaire_response(
        assessment_id=assessment.id,
        key=assessment.form_key,
        version=assessment.form_version,
        status=assessment.status,
        authored=assessment.updated_at,
        organisation_id=assessment.organisation_id,
        family_id=assessment.family_id,
        layout=row.definition["layout"],
        schema=row.definition["schema"],
        answers=assessment.answers,
    )
    return JSONResponse(document, media_type=FHIR_JSON)


# --- for platform services (the gateway does not route /internal/) ----------------------


@router.get("/internal/assessments/{assessment_id}/needs", tags=["internal"])
async def get_assessment_needs(assessment_id: Id, session: SessionDep, principal: ActsAsAService) -> AssessmentNeeds:
    """The needs a submitted assessment found, for a service acting as itself; 409 while a draft."""
    return await assessments.needs_found(session, principal, assessment_id)


@router.get("/internal/families/{family_id}/reporting-profile", tags=["internal"], responses=problems(404))
async def get_reporting_profile(
    family_id: Id,
    session: SessionDep,
    principal: ActsAsAService,
    localities: LocalitiesDep,
    on: Annotated[Day | None, Query(description="the day the age bands are worked out on; today when left out")] = None,
) -> ReportingProfile:
    """A family's locality and its children's age bands, sex and ethnicity, for the reports: no postcode, no
    name, no date of birth."""
    return await families.reporting_profile(session, principal, localities, family_id, on or date.today())


@router.post("/internal/families/match", tags=["internal"])
async def match_family(body: FamilyMatchIn, session: SessionDep, _service: ActsAsAService) -> FamilyMatchOut:
    """The family a request for access names, for the consent service: by NHS number or UPN and date of birth."""
    identifiers = [(identifier.system, identifier.value) for identifier in body.identifiers]
    return FamilyMatchOut(family_id=await families.match_family(session, identifiers, body.date_of_birth))


# --- the front door ---------------------------------------------------------------------


def _decision_out(decision: RequestDecision) -> DecisionOut:
    return DecisionOut.model_validate(decision, from_attributes=True)


def _request_out(view: front_door.RequestView) -> RequestForSupportOut:
    request = view.assessment
    assert request.submitted_at is not None  # the queue holds submitted requests only
    return RequestForSupportOut(
        assessment_id=request.id,
        family_id=request.family_id,
        organisation_id=request.organisation_id,
        submitted_at=request.submitted_at,
        status="waiting" if view.decision is None else "decided",
        working_days_waiting=view.working_days_waiting,
        decision=None if view.decision is None else _decision_out(view.decision),
    )


@router.get("/requests-for-support/count", tags=["requests for support"])
async def count_requests_for_support(
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsAssessments,
    status: Annotated[
        Literal["waiting", "allocated"],
        Query(
            description="`waiting`: requests waiting for a coordinator's decision (coordinators only; 0 for others); "
            "`allocated`: decided requests whose work went to your organisation"
        ),
    ],
) -> Count:
    """How many requests for support wait for a decision, or were allocated to you, without listing them.

    Not audited, as it names no family; `GET /requests-for-support` lists them, each listing audited.
    """
    return Count(count=await front_door.requests_count(session, policy, principal, status))


@router.get("/requests-for-support", tags=["requests for support"])
async def list_requests_for_support(
    session: SessionDep,
    policy: PolicyDep,
    principal: ReadsAssessments,
    response: Response,
    status: RequestStatus = "waiting",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[str | None, Query(max_length=36, description="from the `next` link of the page before")] = None,
) -> list[RequestForSupportOut]:
    """Submitted requests for support: every one to a coordinator, those allocated to you otherwise; `Link` pages on."""
    page = await front_door.requests_for_support(session, policy, principal, status, limit, after)
    link_next(response, "/requests-for-support", page, limit, {"status": status})
    return [_request_out(view) for view in page.items]


@router.post(
    "/requests-for-support/{assessment_id}/decision",
    status_code=201,
    tags=["requests for support"],
    responses=problems(409),
)
async def decide_request_for_support(
    assessment_id: Id,
    body: DecisionIn,
    session: SessionDep,
    policy: PolicyDep,
    consent: ConsentDep,
    principal: WritesAssessments,
) -> DecisionOut:
    """Decide what happens next with a submitted request for support, and allocate the work (coordinators only)."""
    return _decision_out(await front_door.decide(session, policy, consent, principal, assessment_id, body))


# --- reports ----------------------------------------------------------------------------

ReadsReports = Annotated[Principal, Depends(require_scope("reports:read"))]
CSV_MEDIA_TYPE = "text/csv"
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **problems(400),
}


def _report_period(
    start: Annotated[
        Day | None, Query(alias="from", description="first day; 3 months before `to` when left out")
    ] = None,
    end: Annotated[Day | None, Query(alias="to", description="last day, inclusive; today when left out")] = None,
) -> ReportPeriod:
    end = end or date.today()
    start = start or end - timedelta(days=91)
    if start > end:
        raise ValidationFailed("`from` is after `to`.")
    return ReportPeriod(start=start, end=end)


@router.get("/reports/front-door", tags=["reports"], response_model=FrontDoor, responses=REPORT_RESPONSES)
async def front_door_report(
    session: SessionDep,
    principal: ReadsReports,
    localities: LocalitiesDep,
    period: Annotated[ReportPeriod, Depends(_report_period)],
    by: Annotated[
        str | None,
        Query(
            max_length=40,
            description="a breakdown: agency (the requesting organisation) or locality (the family's); any other "
            "is a 400",
            json_schema_extra={"enum": list(reports.BREAKDOWNS)},
        ),
    ] = None,
    locality: Annotated[
        str | None,
        Query(
            max_length=40,
            description="only the families of this locality (a code of the council's lookup, as the plan service's "
            "GET /reports/localities lists them)",
        ),
    ] = None,
    fmt: Annotated[
        Literal["json", "csv"] | None, Query(alias="format", description="csv, or send Accept: text/csv")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Front-door decisions in the period by outcome; the share within 10 working days of the request."""
    report, rows = await reports.front_door(session, principal, localities, period, by, locality)
    if fmt == "csv" or (fmt is None and accept is not None and CSV_MEDIA_TYPE in accept):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(FrontDoorOutcome.model_fields))
        writer.writeheader()
        writer.writerows(rows)
        headers = {"Content-Disposition": 'attachment; filename="front-door.csv"'}
        return Response(buffer.getvalue(), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", headers=headers)
    return JSONResponse(report.model_dump(mode="json"))

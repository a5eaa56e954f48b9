"""The front door: the coordinators' queue of requests for support, their decisions, and the work allocated."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import repository
from gateway.frontend.calls import ServiceProblem, ServiceUnavailable
from gateway.frontend.pages import PLATFORM_ORGANISATIONS, organisation_names
from gateway.frontend.site import PREFIX, Calls, Posted, Staff, render, see_other
from gateway.frontend.worklists import is_coordinator, worklists
from services.kit.db import SessionDep

router = APIRouter(prefix=f"{PREFIX}/front-door", include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
OUTCOMES = {
    "early_help_assessment": "An early help assessment, by the organisation given the work",
    "multi_agency_panel": "Discuss at the multi-agency panel",
    "refer_to_social_care": "Refer to children's social care",
    "signpost": "Signpost the family to universal services",
    "no_further_action": "No further action",
}
ALLOCATION_REQUIRED = "early_help_assessment"


async def _partners(session: AsyncSession) -> list[Any]:
    """Organisations the work may be given to: the platform's own are not a family's partners."""
    found = [
        organisation
        for organisation in await repository.list_organisations(session)
        if organisation.disabled_at is None and organisation.name not in PLATFORM_ORGANISATIONS
    ]
    await session.commit()  # the connection let go before the page calls a service (see `session_of`)
    return found


@router.get("")
async def queue_page(request: Request, calls: Calls, staff: Staff, session: SessionDep) -> Response:
    """Coordinators: the requests waiting, oldest first. Everyone: the work allocated to their organisation."""
    coordinator = is_coordinator(staff)
    work = await worklists(request, calls, staff)
    if work.waiting is None or work.allocated is None:
        # The page is these lists: asked again, so that the page says why one could not be had (a refusal, or the
        # service away); answered now yet not a moment ago, it is a service to try again.
        await calls.get("/requests-for-support", {"status": "waiting" if work.waiting is None else "decided"})
        raise ServiceUnavailable("assessment")
    waiting, allocated = work.waiting, work.allocated
    return render(
        request,
        "front_door.html",
        {
            "title": "Front door",
            "section": "front-door",
            "coordinator": coordinator,
            "waiting": waiting,
            "allocated": allocated,
            "names": await organisation_names(session),
            "outcomes": OUTCOMES,
            "decided": request.query_params.get("decided") == "1",
        },
    )


async def _decision_view(
    request: Request,
    session: SessionDep,
    waiting: dict[str, Any],
    typed: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    names = await organisation_names(session)
    return render(
        request,
        "decision.html",
        {
            "title": "Decide what happens next",
            "section": "front-door",
            "request_for_support": waiting,
            "names": names,
            "partners": await _partners(session),
            "outcomes": OUTCOMES,
            "typed": typed,
            "errors": errors,
        },
        status_code,
    )


async def _waiting_request(calls: Calls, assessment_id: str) -> dict[str, Any]:
    """The request as the queue shows it; the queue is where a request's waiting time is known."""
    after: str | None = None
    while True:  # the queue pages on; a request far down it is found all the same
        answer = await calls.call(
            "GET",
            "/requests-for-support",
            params={"status": "waiting", "limit": "500"} | ({"after": after} if after else {}),
        )
        for waiting in answer.body:
            if waiting["assessment_id"] == assessment_id:
                return dict(waiting)
        if len(answer.body) < 500:
            break
        after = answer.body[-1]["assessment_id"]
    raise ServiceProblem(404, {"detail": "This request for support is not waiting for a decision."})


@router.get("/{assessment_id}")
async def decision_page(request: Request, assessment_id: Id, calls: Calls, session: SessionDep) -> Response:
    return await _decision_view(request, session, await _waiting_request(calls, assessment_id), {}, {})


@router.post("/{assessment_id}")
async def decide(request: Request, assessment_id: Id, calls: Calls, session: SessionDep, form: Posted) -> Response:
    """The coordinator's decision; the work is given to the organisation named when the outcome is an assessment."""
    typed = {name: str(form.get(name) or "").strip() for name in ("outcome", "allocated_organisation_id", "note")}
    errors: dict[str, str] = {}
    if typed["outcome"] not in OUTCOMES:
        errors["outcome"] = "Select what happens next."
    elif typed["outcome"] == ALLOCATION_REQUIRED and not typed["allocated_organisation_id"]:
        errors["allocated_organisation_id"] = "Select the organisation that will do the early help assessment."
    if len(typed["note"]) > 2000:
        errors["note"] = "The note must be 2000 characters or fewer."
    if errors:
        return await _decision_view(request, session, await _waiting_request(calls, assessment_id), typed, errors, 422)
    decision = {
        "outcome": typed["outcome"],
        "allocated_organisation_id": typed["allocated_organisation_id"]
        if typed["outcome"] == ALLOCATION_REQUIRED
        else None,
        "note": typed["note"] or None,
    }
    try:
        await calls.post(f"/requests-for-support/{assessment_id}/decision", decision)
    except ServiceProblem as problem:
        if problem.status not in (409, 422):
            raise
        found = problem.errors("/")
        shown = {key if key in typed else "outcome": message for key, message in found.items()}
        waiting = await _waiting_request(calls, assessment_id)  # decided meanwhile by another: a 404 page says so
        return await _decision_view(
            request, session, waiting, typed, shown or {"outcome": problem.detail}, problem.status
        )
    return see_other(f"{PREFIX}/front-door?decided=1")

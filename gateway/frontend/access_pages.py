"""Access requests: asking to see a family the organisation cannot, by identifiers; answering those asked of it."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from gateway.frontend.calls import ServiceProblem
from gateway.frontend.pages import CATEGORIES, IDENTIFIER_SYSTEMS, organisation_names
from gateway.frontend.questions import read_date
from gateway.frontend.site import PREFIX, Calls, Posted, Staff, render, see_other
from gateway.frontend.worklists import worklists
from services.kit.db import SessionDep

router = APIRouter(prefix=f"{PREFIX}/access-requests", include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
NOTICES = {
    "asked": "Your request is sent. If a family matches, those who work with it will answer.",
    "answered": "Your answer is recorded.",
}


@router.get("")
async def access_requests_page(request: Request, calls: Calls, staff: Staff, session: SessionDep) -> Response:
    """Those waiting for the organisation's answer, and the organisation's own with theirs."""
    incoming = (await worklists(request, calls, staff)).incoming
    if incoming is None:  # counted for the navigation; asked again so that a refusal is explained
        incoming = await calls.get("/access-requests", {"direction": "incoming"})
    outgoing = await calls.get("/access-requests", {"direction": "outgoing"})
    return render(
        request,
        "access_requests.html",
        {
            "title": "Access requests",
            "section": "access-requests",
            "incoming": incoming,
            "outgoing": sorted(outgoing, key=lambda asked: str(asked["created_at"]), reverse=True),
            "names": await organisation_names(session),
            "categories": CATEGORIES,
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
    )


def _ask_view(request: Request, typed: dict[str, Any], errors: dict[str, str], status_code: int = 200) -> Response:
    return render(
        request,
        "ask_access.html",
        {
            "title": "Ask for access to a family's records",
            "section": "access-requests",
            "systems": IDENTIFIER_SYSTEMS,
            "categories": CATEGORIES,
            "typed": typed,
            "errors": errors,
        },
        status_code,
    )


@router.get("/new")
async def ask_page(request: Request, _staff: Staff) -> Response:
    return _ask_view(request, {}, {})


@router.post("/new")
async def ask(request: Request, calls: Calls, form: Posted) -> Response:
    """Asked by the child's identifier and date of birth; the answer is the same whether or not a family matched."""
    typed: dict[str, Any] = {
        "system": str(form.get("system") or ""),
        "value": str(form.get("value") or "").strip(),
        "categories": [str(value) for value in form.getlist("categories")],
        "reason": str(form.get("reason") or "").strip(),
    }
    parts, born, real = read_date(form, "date_of_birth")
    typed["date_of_birth"] = parts
    errors: dict[str, str] = {}
    if typed["system"] not in IDENTIFIER_SYSTEMS:
        errors["system"] = "Select the kind of identifier."
    if not typed["value"]:
        errors["value"] = "Enter the child's identifier."
    if not real or born is None:
        errors["date_of_birth"] = "Enter the child's date of birth, like 27 3 2017."
    elif born > datetime.now(UTC).date():
        errors["date_of_birth"] = "The child's date of birth must be in the past."
    if not typed["categories"] or not set(typed["categories"]) <= set(CATEGORIES):
        errors["categories"] = "Select what your organisation needs to see."
    if len(typed["reason"]) < 10:
        errors["reason"] = "Enter why your organisation needs to see the records, in at least 10 characters."
    if errors:
        return _ask_view(request, typed, errors, 422)
    asked = {
        "identifiers": [{"system": typed["system"], "value": typed["value"].replace(" ", "")}],
        "date_of_birth": born.isoformat() if born else None,
        "categories": typed["categories"],
        "reason": typed["reason"],
    }
    try:
        await calls.post("/access-requests", asked)
    except ServiceProblem as problem:
        if problem.status != 422:
            raise
        found = problem.errors("/")
        places = {"identifiers/0/value": "value", "identifiers/0/system": "system"}
        shown = {places.get(key, key if key in typed else "value"): message for key, message in found.items()}
        return _ask_view(request, typed, shown or {"value": problem.detail}, 422)
    return see_other(f"{PREFIX}/access-requests?done=asked")


async def _answer_view(
    request: Request,
    session: SessionDep,
    asked: dict[str, Any],
    typed: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "answer_access.html",
        {
            "title": "Answer a request for access",
            "section": "access-requests",
            "asked": asked,
            "names": await organisation_names(session),
            "categories": CATEGORIES,
            "typed": typed,
            "errors": errors,
        },
        status_code,
    )


@router.get("/{request_id}")
async def answer_page(request: Request, request_id: Id, calls: Calls, session: SessionDep) -> Response:
    return await _answer_view(request, session, await calls.get(f"/access-requests/{request_id}"), {}, {})


@router.post("/{request_id}")
async def answer(request: Request, request_id: Id, calls: Calls, session: SessionDep, form: Posted) -> Response:
    """Approved with the family's consent (recorded as a sharing grant), or declined with a reason."""
    typed = {
        name: str(form.get(name) or "").strip()
        for name in ("answer", "given_by_role", "given_by_name", "evidence", "decline_reason")
    }
    errors: dict[str, str] = {}
    if typed["answer"] == "approve":
        if typed["given_by_role"] not in ("parent_or_carer", "competent_young_person"):
            errors["given_by_role"] = "Select who gave their consent."
        if typed["evidence"] not in ("written", "verbal", "electronic"):
            errors["evidence"] = "Select how they gave it."
    elif typed["answer"] == "decline":
        if not typed["decline_reason"]:
            errors["decline_reason"] = "Enter why you decline."
    else:
        errors["answer"] = "Answer with one of the two forms below."
    asked = await calls.get(f"/access-requests/{request_id}")
    if errors:
        return await _answer_view(request, session, asked, typed, errors, 422)
    try:
        if typed["answer"] == "approve":
            consent = {
                "given_by_role": typed["given_by_role"],
                "given_by_name": typed["given_by_name"][:200] or None,
                "evidence": typed["evidence"],
            }
            await calls.post(f"/access-requests/{request_id}/approve", consent)
        else:
            await calls.post(f"/access-requests/{request_id}/decline", {"reason": typed["decline_reason"][:2000]})
    except ServiceProblem as problem:
        if problem.status not in (409, 422):
            raise
        return await _answer_view(request, session, asked, typed, {"answer": problem.detail}, problem.status)
    return see_other(f"{PREFIX}/access-requests?done=answered")

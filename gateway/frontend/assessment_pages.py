"""An assessment, page by page: fill and save a draft, check the answers, submit, carry forward."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from gateway.frontend.calls import Answer, ServiceProblem, StaffCalls
from gateway.frontend.questions import (
    PageForm,
    display,
    field_id,
    get_answer,
    page_of,
    page_questions,
)
from gateway.frontend.site import PREFIX, Calls, PageError, Posted, render, see_other

router = APIRouter(prefix=f"{PREFIX}/assessments", include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
PageId = Annotated[str, Path(max_length=100)]
STALE = (
    "Someone else saved this assessment after you opened this page. Your answers on this page are shown below: "
    "check them and save again."
)


async def _open(calls: StaffCalls, assessment_id: str) -> tuple[Answer, dict[str, Any]]:
    """The assessment with its ETag, and the form version it is on."""
    assessment = await calls.call("GET", f"/assessments/{assessment_id}")
    stamp = assessment.body["form"]
    version = await calls.get(f"/forms/{stamp['key']}/versions/{stamp['version']}")
    return assessment, version


def _page(version: dict[str, Any], page_id: str) -> tuple[int, dict[str, Any]]:
    for index, page in enumerate(version["layout"]["pages"]):
        if page["id"] == page_id:
            return index, page
    raise PageError(404, "Page not found", "This form has no such page.")


def _answered(page: dict[str, Any], answers: dict[str, Any]) -> bool:
    return any(get_answer(answers, question["pointer"]) not in (None, "", []) for question in page_questions(page))


def _summary(version: dict[str, Any], assessment: dict[str, Any], href: str | None) -> list[dict[str, Any]]:
    """Each page's answers as GOV.UK summary lists, with a link to change each when the draft is open."""
    carried = set(assessment["carried_forward"])
    answers = assessment["answers"]
    pages = []
    for page in version["layout"]["pages"]:
        rows = []
        for question in page_questions(page):
            pointer = question["pointer"]
            if question["widget"] == "repeating-group":
                items = get_answer(answers, pointer) or []
                lines = [
                    "; ".join(
                        f"{sub['label']}: {shown}"
                        for sub in question["questions"]
                        if (shown := display(sub, get_answer(item, sub["pointer"])))
                    )
                    for item in items
                ]
                item_label = question.get("item_label") or "Item"
                value = "\n".join(f"{item_label} {n}: {line}" for n, line in enumerate(lines, 1))
            else:
                value = display(question, get_answer(answers, pointer))
            row: dict[str, Any] = {
                "key": {"text": question["label"]},
                "value": {"text": value or "Not answered", "classes": "" if value else "govuk-hint"},
                "carried": pointer in carried,
            }
            if href is not None:
                row["actions"] = {
                    "items": [
                        {
                            "href": f"{href}/pages/{page['id']}#{field_id(pointer)}",
                            "text": "Change",
                            "visuallyHiddenText": question["label"],
                        }
                    ]
                }
            rows.append(row)
        pages.append({"page": page, "rows": rows})
    return pages


@router.get("/{assessment_id}")
async def overview(request: Request, assessment_id: Id, calls: Calls) -> Response:
    """A draft's task list of pages; a submitted assessment's answers, read only."""
    answer, version = await _open(calls, assessment_id)
    assessment = answer.body
    base = f"{PREFIX}/assessments/{assessment_id}"
    own = assessment["organisation_id"] == request.state.signed_in.organisation_id
    editable = assessment["status"] == "draft" and own
    tasks = [
        {
            "title": {"text": page["title"]},
            "href": f"{base}/pages/{page['id']}",
            "status": {"text": "Answered"}
            if _answered(page, assessment["answers"])
            else {"tag": {"text": "Not started", "classes": "govuk-tag--blue"}},
        }
        for page in version["layout"]["pages"]
    ]
    return render(
        request,
        "assessment.html",
        {
            "assessment": assessment,
            "version": version,
            "editable": editable,
            "tasks": tasks,
            "summary": _summary(version, assessment, None) if not editable else [],
            "saved": request.query_params.get("saved") == "1",
        },
    )


def _page_view(
    request: Request,
    assessment: Answer,
    version: dict[str, Any],
    page_id: str,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    extra_items: dict[str, int] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    index, page = _page(version, page_id)
    form = PageForm(version, page)
    body = assessment.body
    fields = form.fields(body["answers"], errors or {}, frozenset(body["carried_forward"]), typed, extra_items)
    by_pointer = {f.pointer: f for f in fields} | {
        sub.pointer: sub for group in fields for item in group.items for sub in item
    }
    summary = [
        {"text": message, "href": "#" + (by_pointer[p].first_input_id if p in by_pointer else field_id(p))}
        for p, message in (errors or {}).items()
    ]
    return render(
        request,
        "assessment_page.html",
        {
            "assessment": body,
            "etag": assessment.etag,
            "version": version,
            "page": page,
            "fields": fields,
            "error_summary": summary,
            "notice": notice,
            "number": index + 1,
            "pages": len(version["layout"]["pages"]),
        },
        status_code,
    )


@router.get("/{assessment_id}/pages/{page_id}")
async def page(request: Request, assessment_id: Id, page_id: PageId, calls: Calls) -> Response:
    assessment, version = await _open(calls, assessment_id)
    return _page_view(request, assessment, version, page_id)


@router.post("/{assessment_id}/pages/{page_id}")
async def save_page(request: Request, assessment_id: Id, page_id: PageId, calls: Calls, form: Posted) -> Response:
    """Save the page into the draft, then go on, stay (to add or remove an item), or leave for later."""
    assessment, version = await _open(calls, assessment_id)
    index, page_definition = _page(version, page_id)
    answers, typed, errors = PageForm(version, page_definition).read(form, assessment.body["answers"])
    added = str(form.get("add") or "")
    extra = {added: 1} if added else {}
    if errors:
        return _page_view(request, assessment, version, page_id, errors=errors, typed=typed, status_code=422)
    etag = str(form.get("etag") or "")
    try:
        saved = await calls.call("PUT", f"/assessments/{assessment_id}", json={"answers": answers}, if_match=etag)
    except ServiceProblem as problem:
        if problem.status == 412:
            current, _ = await _open(calls, assessment_id)
            return _page_view(request, current, version, page_id, typed=typed, notice=STALE, status_code=409)
        if problem.status != 422:
            raise
        return _page_view(
            request, assessment, version, page_id, errors=problem.errors("/answers"), typed=typed, status_code=422
        )
    if added or form.get("remove"):
        return _page_view(request, saved, version, page_id, extra_items=extra)
    base = f"{PREFIX}/assessments/{assessment_id}"
    if form.get("action") == "draft":
        return see_other(f"{base}?saved=1")
    pages = version["layout"]["pages"]
    return see_other(f"{base}/pages/{pages[index + 1]['id']}" if index + 1 < len(pages) else f"{base}/check")


def _check_view(
    request: Request,
    assessment: dict[str, Any],
    version: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    base = f"{PREFIX}/assessments/{assessment['id']}"
    summary = [
        {"text": message, "href": f"{base}/pages/{page_of(version['layout'], pointer) or ''}#{field_id(pointer)}"}
        for pointer, message in (errors or {}).items()
    ]
    return render(
        request,
        "check_answers.html",
        {
            "assessment": assessment,
            "version": version,
            "summary": _summary(version, assessment, base),
            "error_summary": summary,
        },
        status_code,
    )


@router.get("/{assessment_id}/check")
async def check_answers(request: Request, assessment_id: Id, calls: Calls) -> Response:
    assessment, version = await _open(calls, assessment_id)
    return _check_view(request, assessment.body, version)


@router.post("/{assessment_id}/check")
async def submit(request: Request, assessment_id: Id, calls: Calls, _form: Posted) -> Response:
    try:
        await calls.post(f"/assessments/{assessment_id}/submit")
    except ServiceProblem as problem:
        if problem.status != 422:
            raise
        assessment, version = await _open(calls, assessment_id)
        return _check_view(request, assessment.body, version, problem.errors("/answers"), 422)
    return render(request, "submitted.html", {"assessment_id": assessment_id})


@router.post("/{assessment_id}/carry-forward")
async def carry_forward(assessment_id: Id, calls: Calls, _form: Posted) -> Response:
    """A new draft for this organisation, with every answer that still applies already given."""
    draft = await calls.post(f"/assessments/{assessment_id}/carry-forward")
    return see_other(f"{PREFIX}/assessments/{draft['id']}")

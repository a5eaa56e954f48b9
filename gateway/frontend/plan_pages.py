"""A family's plan: needs, goals, actions and reviews with the change matrix over time; recording a review."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from gateway.frontend.calls import ServiceProblem
from gateway.frontend.chart import GoalScores, change_matrix_svg
from gateway.frontend.pages import organisation_names
from gateway.frontend.questions import read_date
from gateway.frontend.site import PREFIX, Calls, Posted, render, see_other
from services.kit.db import SessionDep

router = APIRouter(prefix=f"{PREFIX}/plans", include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
STAGES = {
    "pre_contemplation": "Not yet thinking about change",
    "contemplation": "Thinking about change",
    "action": "Making changes",
    "maintenance": "Keeping changes going",
    "sustained": "Change sustained",
}


def _words(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _chart(plan: dict[str, Any]) -> str:
    goals = [
        GoalScores(
            goal["description"],
            [
                (date.fromisoformat(review["held_on"]), rating["score"])
                for review in plan["reviews"]
                for rating in review["ratings"]
                if rating["goal_id"] == goal["id"]
            ],
        )
        for goal in plan["goals"]
    ]
    return change_matrix_svg(goals)


@router.get("/{plan_id}")
async def plan_page(request: Request, plan_id: Id, calls: Calls, session: SessionDep) -> Response:
    plan = await calls.get(f"/plans/{plan_id}")
    return render(
        request,
        "plan.html",
        {
            "plan": plan,
            "chart": _chart(plan),
            "names": await organisation_names(session),
            "stages": STAGES,
            "words": _words,
            "recorded": request.query_params.get("recorded") == "1",
        },
    )


def _review_view(
    request: Request, plan: Any, etag: str | None, typed: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    return render(
        request,
        "review.html",
        {"plan": plan, "etag": etag, "typed": typed, "errors": errors, "stages": STAGES},
        status,
    )


@router.get("/{plan_id}/reviews/new")
async def review_page(request: Request, plan_id: Id, calls: Calls) -> Response:
    plan = await calls.call("GET", f"/plans/{plan_id}")
    return _review_view(request, plan.body, plan.etag, {}, {})


def _read_review(form: Any, plan: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The review to send, what was typed, and the errors found before sending."""
    parts, held, real = read_date(form, "held_on")
    typed: dict[str, Any] = {
        "held_on": parts,
        "attendees": str(form.get("attendees") or "").strip(),
        "family_voice": str(form.get("family_voice") or "").strip(),
    }
    errors: dict[str, str] = {}
    held_on = held.isoformat() if held and real else ""
    if not held_on:
        errors["held_on"] = "Enter the date the review was held, like 27 3 2026."
    attendees = []
    for line in typed["attendees"].splitlines():
        name, _, role = line.partition(",")
        if name.strip():
            attendees.append({"name": name.strip()[:200], "role": role.strip()[:200] or "Attendee"})
    if not attendees:
        errors["attendees"] = "Enter who came to the review, one person a line."
    if not typed["family_voice"]:
        errors["family_voice"] = "Enter what the family said about how things are going."
    ratings = []
    for goal in plan["goals"]:
        stage, score = str(form.get(f"stage-{goal['id']}") or ""), str(form.get(f"score-{goal['id']}") or "")
        typed[f"stage-{goal['id']}"], typed[f"score-{goal['id']}"] = stage, score
        if stage not in STAGES:
            errors[f"stage-{goal['id']}"] = f"Select the stage for '{goal['description'][:60]}'."
        if not score.isdigit() or not 1 <= int(score) <= 10:
            errors[f"score-{goal['id']}"] = f"Select a score from 1 to 10 for '{goal['description'][:60]}'."
        else:
            ratings.append({"goal_id": goal["id"], "stage": stage, "score": int(score)})
    review = {"held_on": held_on, "attendees": attendees, "family_voice": typed["family_voice"], "ratings": ratings}
    return review, typed, errors


@router.post("/{plan_id}/reviews/new")
async def record_review(request: Request, plan_id: Id, calls: Calls, form: Posted) -> Response:
    etag = str(form.get("etag") or "")
    plan = await calls.call("GET", f"/plans/{plan_id}")
    review, typed, errors = _read_review(form, plan.body)
    if errors:
        return _review_view(request, plan.body, etag, typed, errors, 422)
    try:
        await calls.call("POST", f"/plans/{plan_id}/reviews", json=review, if_match=etag)
    except ServiceProblem as problem:
        if problem.status == 412:
            stale = {"held_on": "Someone else changed the plan since you opened this page. Check, then save again."}
            return _review_view(request, plan.body, plan.etag, typed, stale, 409)
        if problem.status not in (409, 422):
            raise
        found = problem.errors() or {"held_on": problem.detail}
        shown = {key if key in typed else "held_on": message for key, message in found.items()}
        return _review_view(request, plan.body, etag, typed, shown, problem.status)
    return see_other(f"{PREFIX}/plans/{plan_id}?recorded=1")

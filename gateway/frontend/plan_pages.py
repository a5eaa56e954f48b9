"""A family's plan: who leads it and who is on its team, its needs, goals and actions, reviews with the change
matrix over time, and every step of its life from activation to closure, stepping up or down, or reopening.

Every change is a call to the plan service as the signed-in member, with `If-Match` naming the version the page
showed; what the plan's status allows is what the service says (`allowed_actions`), so the pages hold no copy of
its rules. When someone else changed the plan first, the form comes back with what was typed and an error summary.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import repository
from gateway.frontend.calls import ServiceProblem
from gateway.frontend.chart import GoalScores, change_matrix_svg
from gateway.frontend.pages import PLATFORM_ORGANISATIONS, organisation_names
from gateway.frontend.plan_words import (
    CHRONOLOGY_KINDS,
    CLOSE_REASONS,
    CLOSED_AS,
    CONTACT_KINDS,
    CONTACTS_AS,
    NEED_STATUSES,
    OUTCOME_AREAS,
    REFERRAL_OUTCOMES,
    REFERRAL_SOURCES,
    STAGES,
)
from gateway.frontend.questions import format_date, read_date
from gateway.frontend.site import PREFIX, Calls, PageError, Posted, environment, render, see_other
from services.kit.db import SessionDep

router = APIRouter(prefix=f"{PREFIX}/plans", include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
# The plan's words for every page that shows a plan, its episodes or referrals: the family's page too.
environment.globals.update(closed_as=CLOSED_AS, referral_sources=REFERRAL_SOURCES, referral_outcomes=REFERRAL_OUTCOMES)
STALE = "Someone else changed the plan since you opened this page. What you typed is below: check it, then save again."
DONE = {
    "lead": "The lead professional is named.",
    "team": "The team member is added.",
    "team-removed": "The team member is removed.",
    "need": "The need is added.",
    "needs": "The needs are updated.",
    "goal": "The goal is added.",
    "action": "The action is added.",
    "action-done": "The action is marked as done.",
    "activate": "The plan is active.",
    "close": "The plan is closed.",
    "step-up": "The plan is stepped up to children's social care, and the referral is recorded.",
    "step-down": "This plan is opened for the family stepped down from social care.",
    "reopen": "The plan is reopened.",
    "discard": "The draft plan is discarded.",
    "contact": "The contact is recorded.",
}
# Contacts happen at a time of day in England, whatever the server's clock says.
DAYS_OF = ZoneInfo("Europe/London")


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


async def _organisations(session: AsyncSession) -> dict[str, str]:
    """The organisations a plan may name: the family's partners, not the platform's own."""
    found = {
        organisation.id: organisation.name
        for organisation in await repository.list_organisations(session)
        if organisation.disabled_at is None and organisation.name not in PLATFORM_ORGANISATIONS
    }
    await session.commit()  # the connection let go before the page calls a service (see `site.session_of`)
    return found


def _plan_view(
    request: Request,
    plan: dict[str, Any],
    etag: str | None,
    names: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    return render(
        request,
        "plan.html",
        {
            "plan": plan,
            "etag": etag,
            "allowed": set(plan.get("allowed_actions") or []),
            "chart": _chart(plan),
            "names": names,
            "stages": STAGES,
            "words": _words,
            "done": DONE.get(request.query_params.get("done", "")),
            "recorded": request.query_params.get("recorded") == "1",
            "errors": errors,
            "error_summary": [{"text": message, "href": f"#{name}"} for name, message in errors.items()],
        },
        status_code,
    )


@router.get("/{plan_id}")
async def plan_page(request: Request, plan_id: Id, calls: Calls, session: SessionDep) -> Response:
    names = await organisation_names(session)
    plan = await calls.call("GET", f"/plans/{plan_id}")
    return _plan_view(request, plan.body, plan.etag, names)


async def _item_change(
    request: Request,
    plan_id: str,
    calls: Calls,
    names: dict[str, str],
    form: Any,
    part: str,
    changed: Callable[[list[dict[str, Any]], str], list[dict[str, Any]] | None],
    done: str,
) -> Response:
    """One button on the plan page that changes an item of a list: the list sent whole, with the page's ETag."""
    plan = await calls.call("GET", f"/plans/{plan_id}")
    items = changed(plan.body[part], str(form.get("item") or ""))
    if items is None:
        return _plan_view(request, plan.body, plan.etag, names, {part: STALE}, 409)
    try:
        await calls.call("PATCH", f"/plans/{plan_id}", json={part: items}, if_match=str(form.get("etag") or ""))
    except ServiceProblem as problem:
        if problem.status not in (409, 412, 422):
            raise
        now = await calls.call("GET", f"/plans/{plan_id}")
        refusal = {part: STALE if problem.status == 412 else problem.detail}
        return _plan_view(request, now.body, now.etag, names, refusal, problem.status)
    return see_other(f"{PREFIX}/plans/{plan_id}?done={done}")


@router.post("/{plan_id}/team/remove")
async def remove_team_member(
    request: Request, plan_id: Id, calls: Calls, session: SessionDep, form: Posted
) -> Response:
    """The team member at the place the page showed; the ETag makes sure it is the same list."""

    def without(team: list[dict[str, Any]], item: str) -> list[dict[str, Any]] | None:
        if not item.isdigit() or int(item) >= len(team):
            return None
        return team[: int(item)] + team[int(item) + 1 :]

    names = await organisation_names(session)
    return await _item_change(request, plan_id, calls, names, form, "team", without, "team-removed")


@router.post("/{plan_id}/actions/done")
async def mark_action_done(request: Request, plan_id: Id, calls: Calls, session: SessionDep, form: Posted) -> Response:
    def marked(actions: list[dict[str, Any]], item: str) -> list[dict[str, Any]] | None:
        if not any(action["id"] == item for action in actions):
            return None
        today = date.today().isoformat()
        return [action | {"done_on": today} if action["id"] == item else action for action in actions]

    names = await organisation_names(session)
    return await _item_change(request, plan_id, calls, names, form, "actions", marked, "action-done")


# --- recording a review ---------------------------------------------------------------------


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


# --- the chronology -----------------------------------------------------------------------


def _when(occurred_at: str) -> str:
    """A practice date as GOV.UK writes it; a contact's time of day too, in England."""
    if "T" not in occurred_at:
        return format_date(occurred_at)
    moment = datetime.fromisoformat(occurred_at).astimezone(DAYS_OF)
    return f"{format_date(moment.date().isoformat())}, {moment:%H:%M}"


def _happened(entry: dict[str, Any], names: dict[str, str]) -> tuple[str, str]:
    """What an entry says happened, and any detail beside it that is not a case note."""
    kind = entry["kind"]
    if kind == "contact":
        contact = entry["contact"]
        by = names.get(contact["organisation_id"], "another organisation")
        return CONTACTS_AS.get(contact["kind"], _words(contact["kind"])), f"Recorded by {by}"
    status, referral = entry.get("status") or {}, entry.get("referral") or {}
    what = CHRONOLOGY_KINDS.get(kind, _words(kind))
    if kind == "plan_stepped_down":
        what = "Stepped down to early help" if status.get("stepped_down_to") else "Stepped down from social care"
    detail = ""
    if kind == "plan_closed" and status.get("reason"):
        detail = CLOSED_AS.get(status["reason"], _words(status["reason"]))
    elif status.get("re_referral"):
        detail = "A re-referral: within 12 months of a closure"
    elif kind == "assessment":
        detail = f"By {names.get(entry['assessment']['organisation_id'], 'another organisation')}"
    elif kind == "review":
        detail = f"Next review due {format_date(entry['review']['next_review_due'])}"
    elif kind == "social_care_referral":
        detail = REFERRAL_SOURCES.get(referral.get("source", ""), "")
    elif kind == "social_care_outcome":
        detail = REFERRAL_OUTCOMES.get(referral.get("outcome") or "", "")
    return what, detail


@router.get("/{plan_id}/chronology")
async def chronology_page(request: Request, plan_id: Id, calls: Calls, session: SessionDep) -> Response:
    """The plan's chronology, oldest first; contacts' notes only when the service shows them to this member."""
    names = await organisation_names(session)
    plan = await calls.call("GET", f"/plans/{plan_id}")
    chronology = (await calls.call("GET", f"/plans/{plan_id}/chronology")).body
    entries = [
        {"when": _when(str(entry["occurred_at"])), "what": what, "detail": detail, "contact": entry.get("contact")}
        for entry in chronology["entries"]
        for what, detail in [_happened(entry, names)]
    ]
    return render(
        request,
        "chronology.html",
        {
            "plan": plan.body,
            "allowed": set(plan.body.get("allowed_actions") or []),
            "case_notes": chronology["case_notes"],
            "entries": entries,
            "names": names,
            "done": DONE.get(request.query_params.get("done", "")),
        },
    )


# --- the forms that change a plan ---------------------------------------------------------

Kind = Literal["text", "email", "textarea", "select", "radios", "checkboxes", "date", "time"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: Kind
    required: str = ""  # the message when left empty; empty when the answer is optional
    hint: str = ""
    choices: str = ""  # which list of choices: see `_choices`
    pointer: str = ""  # the last part of the JSON pointer the service names this answer by


Call = tuple[str, str, dict[str, Any]]  # method, path under the plan, body


@dataclass(frozen=True)
class Change:
    """One form that changes a plan: its page, its answers, and the calls to the plan service it makes."""

    title: str
    button: str
    action: str  # the plan service's name for it, as in `allowed_actions`
    calls: Callable[[dict[str, Any], dict[str, Any]], list[Call]]  # (plan, answers) → calls, made in order
    fields: Callable[[dict[str, Any]], list[Field]] = lambda plan: []
    given: Callable[[dict[str, Any]], dict[str, Any]] = lambda plan: {}  # the answers a form starts with
    intro: str = ""
    warning: str = ""
    lands: str = ""  # the page under the plan the member lands on after; the plan's own (which a step-down opens anew)
    refused_at: str = ""  # the field a refusal naming no answer is shown beside; the first when empty


def _patch(part: str, value: Any) -> list[Call]:
    return [("PATCH", "", {part: value})]


def _lead_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("lead_name", "Name", "text", "Enter the lead professional's name.", pointer="name"),
        Field("lead_organisation", "Organisation", "select", "Select their organisation.", choices="organisations",
              pointer="organisation_id"),
        Field("lead_email", "Work e-mail address (optional)", "email",
              hint="Reminders that a review is due are sent here.", pointer="email"),
    ]  # fmt: skip


def _lead_given(plan: dict[str, Any]) -> dict[str, Any]:
    lead = plan.get("lead_professional") or {}
    return {"lead_name": lead.get("name", ""), "lead_organisation": lead.get("organisation_id", ""),
            "lead_email": lead.get("email") or ""}  # fmt: skip


def _lead_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    lead = {"name": answers["lead_name"], "organisation_id": answers["lead_organisation"],
            "email": answers["lead_email"] or None}  # fmt: skip
    return _patch("lead_professional", lead)


def _team_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("member_name", "Name", "text", "Enter the team member's name.", pointer="name"),
        Field("member_role", "Role", "text", "Enter their role.", "For example, class teacher or health visitor",
              pointer="role"),
        Field("member_organisation", "Organisation", "select", "Select their organisation.", choices="organisations",
              pointer="organisation_id"),
    ]  # fmt: skip


def _team_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    member = {"name": answers["member_name"], "role": answers["member_role"],
              "organisation_id": answers["member_organisation"]}  # fmt: skip
    return _patch("team", [*plan["team"], member])


def _need_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("need_description", "What does the family need?", "textarea", "Enter the need.", pointer="description"),
        Field("need_area", "Outcome area", "select", "Select the outcome area.", choices="outcome_areas",
              pointer="outcome_area"),
    ]  # fmt: skip


def _need_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    need = {"description": answers["need_description"], "outcome_area": answers["need_area"], "status": "open"}
    return _patch("needs", [*plan["needs"], need])


def _statuses_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field(f"need-{need['id']}", need["description"], "select", "Select how far the need is met.",
              choices="need_statuses")
        for need in plan["needs"]
    ]  # fmt: skip


def _statuses_given(plan: dict[str, Any]) -> dict[str, Any]:
    return {f"need-{need['id']}": need["status"] for need in plan["needs"]}


def _with_statuses(plan: dict[str, Any], answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [need | {"status": answers.get(f"need-{need['id']}") or need["status"]} for need in plan["needs"]]


def _statuses_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    return _patch("needs", _with_statuses(plan, answers))


def _goal_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("goal_needs", "Which needs does this goal meet?", "checkboxes", "Select the needs this goal meets.",
              choices="needs", pointer="need_ids"),
        Field("goal_area", "Outcome area", "select", "Select the outcome area.", choices="outcome_areas",
              pointer="outcome_area"),
        Field("goal_description", "What is the goal?", "textarea", "Enter the goal.",
              "In the family's words where you can", pointer="description"),
        Field("goal_measure", "How will everyone know it is met?", "textarea", "Enter the measure of success.",
              pointer="measure_of_success"),
    ]  # fmt: skip


def _goal_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    goal = {"need_ids": answers["goal_needs"], "outcome_area": answers["goal_area"],
            "description": answers["goal_description"], "measure_of_success": answers["goal_measure"]}  # fmt: skip
    return [("POST", "/goals", goal)]


def _action_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("action_description", "What will be done?", "textarea", "Enter the action.", pointer="description"),
        Field("action_owner", "Who will do it?", "text", "Enter who will do it.", pointer="owner"),
        Field("action_organisation", "Their organisation", "select", "Select their organisation.",
              choices="organisations", pointer="organisation_id"),
        Field("action_due", "When is it due?", "date", "Enter the date it is due.", "For example, 27 3 2026",
              pointer="due_on"),
    ]  # fmt: skip


def _action_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    action = {"description": answers["action_description"], "owner": answers["action_owner"],
              "organisation_id": answers["action_organisation"], "due_on": answers["action_due"]}  # fmt: skip
    return _patch("actions", [*plan["actions"], action])


def _on(name: str, legend: str) -> Field:
    return Field(name, legend, "date", hint="For example, 27 3 2026. Leave it empty for today.")


def _close_fields(plan: dict[str, Any]) -> list[Field]:
    outcomes = [
        Field(f"need-{need['id']}", f"Outcome of the need: {need['description']}", "select",
              "Select how far the need is met.", choices="need_statuses")
        for need in plan["needs"]
    ]  # fmt: skip
    return [
        Field("close_reason", "Why is the plan closing?", "radios", "Select why the plan is closing.",
              choices="close_reasons", pointer="reason"),
        *outcomes,
        Field("close_note", "Anything to add (optional)", "textarea", pointer="note"),
        _on("closed_on", "When did it close?"),
    ]  # fmt: skip


def _close_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    needs = _with_statuses(plan, answers)
    close = {"reason": answers["close_reason"], "note": answers["close_note"] or None,
             "closed_on": answers["closed_on"]}  # fmt: skip
    return ([] if needs == plan["needs"] else _patch("needs", needs)) + [("POST", "/close", close)]


def _reason(name: str, label: str, message: str, hint: str = "") -> Callable[[dict[str, Any]], list[Field]]:
    return lambda plan: [Field(name, label, "textarea", message, hint, pointer="reason")]


def _step_up_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("reason", "Why does the family need social care?", "textarea", "Enter why the family is stepped up.",
              "This is kept with the referral to children's social care.", pointer="reason"),
        _on("stepped_up_on", "When was the family referred?"),
    ]  # fmt: skip


def _contact_fields(plan: dict[str, Any]) -> list[Field]:
    return [
        Field("contact_kind", "What kind of contact was it?", "radios", "Select what kind of contact it was.",
              choices="contact_kinds", pointer="kind"),
        Field("contact_on", "When did it happen?", "date", "Enter the date of the contact.", "For example, 27 3 2026",
              pointer="occurred_at"),
        Field("contact_time", "At what time?", "time", "Enter the time of the contact.", "For example, 9:30 or 14:15"),
        Field("contact_participants", "Who took part? (optional)", "textarea",
              hint="One person a line: their name, a comma and their role, like 'Grace Okafor, mother'. "
              "A role alone is enough.", pointer="participants"),
        Field("contact_summary", "What happened and what was said?", "textarea",
              "Enter what happened and what was said.", pointer="summary"),
    ]  # fmt: skip


def _participants(lines: str) -> list[dict[str, Any]]:
    """'name, role' a line, or a role alone: the name is left out where only the role is recorded."""
    people: list[dict[str, Any]] = []
    for line in lines.splitlines():
        first, comma, rest = (part.strip() for part in line.partition(","))
        if first or rest:
            people.append({"name": first or None, "role": rest} if comma else {"name": None, "role": first})
    return people


def _contact_calls(plan: dict[str, Any], answers: dict[str, Any]) -> list[Call]:
    day, at = date.fromisoformat(answers["contact_on"]), time.fromisoformat(answers["contact_time"])
    contact = {"kind": answers["contact_kind"], "occurred_at": datetime.combine(day, at, DAYS_OF).isoformat(),
               "participants": _participants(answers["contact_participants"]),
               "summary": answers["contact_summary"]}  # fmt: skip
    return [("POST", "/contacts", contact)]


CHANGES: dict[str, Change] = {
    "lead": Change("Name the lead professional", "Save", "change", _lead_calls, _lead_fields, _lead_given),
    "team": Change("Add a team member", "Add to the team", "change", _team_calls, _team_fields),
    "need": Change("Add a need", "Add the need", "change", _need_calls, _need_fields),
    "needs": Change(
        "Update the needs", "Save", "change", _statuses_calls, _statuses_fields, _statuses_given,
        intro="Say for each need whether it is still open, met or not met.",
    ),
    "goal": Change("Add a goal", "Add the goal", "add_goal", _goal_calls, _goal_fields),
    "action": Change("Add an action", "Add the action", "change", _action_calls, _action_fields),
    "activate": Change(
        "Activate the plan", "Activate the plan", "activate",
        lambda plan, answers: [("POST", "/activate", {"activated_on": answers["activated_on"]})],
        lambda plan: [_on("activated_on", "When did the family agree the plan?")],
        intro="The first review will be due six weeks after the plan starts.",
    ),
    "close": Change("Close the plan", "Close the plan", "close", _close_calls, _close_fields, _statuses_given),
    "step-up": Change(
        "Step up to children's social care", "Step up", "step_up",
        lambda plan, answers: [("POST", "/step-up", {"reason": answers["reason"],
                                                     "stepped_up_on": answers["stepped_up_on"]})],
        _step_up_fields,
        warning="The plan closes, and a referral to children's social care is recorded.",
    ),
    "step-down": Change(
        "Step down to early help", "Open an early help plan", "step_down",
        lambda plan, answers: [("POST", "/step-down", {})],
        intro="Social care is handing the family back to early help. A new draft plan opens, with this plan's "
        "needs and team, for the family's soft landing.",
    ),
    "reopen": Change(
        "Reopen the plan", "Reopen the plan", "reopen",
        lambda plan, answers: [("POST", "/reopen", {"reason": answers["reason"]})],
        _reason("reason", "Why is the plan reopened?", "Enter why the plan is reopened."),
        intro="The plan becomes active again, in a new episode. Within 12 months of its closure, this counts as a "
        "re-referral.",
    ),
    "discard": Change(
        "Discard the draft plan", "Discard the draft", "discard",
        lambda plan, answers: [("POST", "/discard", {"reason": answers["reason"]})],
        _reason("reason", "Why is nobody going on with this plan?", "Enter why the draft is discarded."),
        warning="A discarded plan cannot be opened again. The family may have another plan.",
    ),
    "contact": Change(
        "Record a contact", "Record the contact", "record_contact", _contact_calls, _contact_fields,
        intro="A visit, call, meeting or message with the family, or a note. Who took part and what was said are "
        "the family's case notes: only those the family agreed may see case notes read them.",
        lands="chronology", refused_at="contact_on",
    ),
}  # fmt: skip
Slug = Annotated[str, Path(max_length=20)]


def _choices(which: str, plan: dict[str, Any], organisations: dict[str, str]) -> list[tuple[str, str]]:
    if which == "organisations":
        return sorted(organisations.items(), key=lambda item: item[1])
    if which == "outcome_areas":
        return list(OUTCOME_AREAS.items())
    if which == "need_statuses":
        return list(NEED_STATUSES.items())
    if which == "close_reasons":
        return list(CLOSE_REASONS.items())
    if which == "contact_kinds":
        return list(CONTACT_KINDS.items())
    if which == "needs":
        return [(need["id"], need["description"]) for need in plan["needs"]]
    raise ValueError(which)


def _change_view(
    request: Request,
    slug: str,
    plan: dict[str, Any],
    etag: str | None,
    organisations: dict[str, str],
    typed: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    change = CHANGES[slug]
    fields = change.fields(plan)
    summary = [
        {"text": message, "href": f"#{name}-day" if any(f.name == name and f.kind == "date" for f in fields)
         else f"#{name}"}
        for name, message in errors.items()
    ]  # fmt: skip
    return render(
        request,
        "plan_change.html",
        {
            "title": change.title,
            "change": change,
            "slug": slug,
            "plan": plan,
            "etag": etag,
            "fields": fields,
            "choices": {f.name: _choices(f.choices, plan, organisations) for f in fields if f.choices},
            "typed": typed,
            "errors": errors,
            "error_summary": summary,
        },
        status_code,
    )


def _change(slug: str) -> Change:
    """The form a page's address names; any other address is a page not found, as a page rather than JSON."""
    if slug not in CHANGES:
        raise PageError(404, "Page not found", "If you typed the web address, check it is correct.")
    return CHANGES[slug]


def _offered(plan: dict[str, Any], slug: str) -> None:
    if CHANGES[slug].action not in (plan.get("allowed_actions") or []):
        # The service offers nothing to a member whose organisation reads the plan by a grant or an override.
        why = f"The plan is {plan['status']}."
        if not plan.get("allowed_actions"):
            why = f"The plan is {plan['status']}, or your organisation may read it but not change it."
        raise PageError(409, "This cannot be done now", why)


@router.get("/{plan_id}/{slug}")
async def change_page(request: Request, plan_id: Id, slug: Slug, calls: Calls, session: SessionDep) -> Response:
    _change(slug)
    organisations = await _organisations(session)
    plan = await calls.call("GET", f"/plans/{plan_id}")
    _offered(plan.body, slug)
    return _change_view(request, slug, plan.body, plan.etag, organisations, CHANGES[slug].given(plan.body), {})


def _read(form: Any, fields: list[Field]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """What was typed, the answers to send, and the errors found before sending."""
    typed: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if f.kind == "date":
            parts, day, real = read_date(form, f.name)
            typed[f.name], answers[f.name] = parts, day.isoformat() if day else None
            if not real:
                errors[f.name] = f"{f.label.rstrip('?')} must be a real date, like 27 3 2026."
        elif f.kind == "checkboxes":
            typed[f.name] = answers[f.name] = [str(value) for value in form.getlist(f.name)]
        elif f.kind == "time":
            typed[f.name] = str(form.get(f.name) or "").strip()
            at = _time(typed[f.name])
            answers[f.name] = at.isoformat("minutes") if at else None
            if typed[f.name] and at is None:
                errors[f.name] = "Enter the time as hours and minutes, like 9:30 or 14:15."
        else:
            typed[f.name] = answers[f.name] = str(form.get(f.name) or "").strip()
        if f.required and not answers[f.name] and f.name not in errors:
            errors[f.name] = f.required
    return typed, answers, errors


def _time(typed: str) -> time | None:
    """A time of day typed as 9:30, 09.30 or 14:15; None when it is not one."""
    hours, _, minutes = typed.replace(".", ":").partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60):
        return None
    return time(int(hours), int(minutes))


def _refused(problem: ServiceProblem, fields: list[Field], fallback: str) -> dict[str, str]:
    """The service's refusal, each failing answer beside its field; anything else at the first one."""
    if problem.status == 412:
        return {fallback: STALE}
    by_pointer = {f.pointer: f.name for f in fields if f.pointer}
    found: dict[str, str] = {}
    for pointer, message in problem.errors().items():
        name = next((by_pointer[part] for part in reversed(pointer.split("/")) if part in by_pointer), fallback)
        found.setdefault(name, message)
    return found or {fallback: problem.detail}


@router.post("/{plan_id}/{slug}")
async def make_change(
    request: Request, plan_id: Id, slug: Slug, calls: Calls, session: SessionDep, form: Posted
) -> Response:
    organisations = await _organisations(session)
    change = _change(slug)
    etag = str(form.get("etag") or "")
    # The plan as it is now, so that a list replaced keeps what others added; `If-Match` says whether the
    # member saw this version, and a 412 shows them the plan again with what they typed.
    plan = await calls.call("GET", f"/plans/{plan_id}")
    fields = change.fields(plan.body)
    typed, answers, errors = _read(form, fields)
    if errors:
        return _change_view(request, slug, plan.body, etag, organisations, typed, errors, 422)
    answer, if_match = plan, etag
    try:
        # Each call after the first names the version the one before made (closing marks the needs first).
        for method, path, body in change.calls(plan.body, answers):
            answer = await calls.call(method, f"/plans/{plan_id}{path}", json=body, if_match=if_match)
            if_match = answer.etag or ""
    except ServiceProblem as problem:
        if problem.status not in (409, 412, 422):
            raise
        refusal = _refused(problem, fields, change.refused_at or (fields[0].name if fields else "submit"))
        now = await calls.call("GET", f"/plans/{plan_id}")
        shown = now.etag if problem.status == 412 else if_match
        return _change_view(request, slug, now.body, shown, organisations, typed, refusal, problem.status)
    if change.lands:
        return see_other(f"{PREFIX}/plans/{plan_id}/{change.lands}?done={slug}")
    return see_other(f"{PREFIX}/plans/{answer.body['id']}?done={slug}")

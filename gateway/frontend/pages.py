"""Signing in and out, finding a family, requesting support, and the family's page with its sharing."""

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import repository
from gateway.credentials import HashingBusy
from gateway.frontend import sessions
from gateway.frontend.calls import ServiceProblem
from gateway.frontend.questions import read_date
from gateway.frontend.sessions import SignedIn
from gateway.frontend.site import (
    HOME,
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Calls,
    Member,
    PageError,
    Posted,
    PostedByMember,
    Staff,
    front_end_settings,
    render,
    see_other,
)
from gateway.oauth import hashing_of
from gateway.ratelimit import ProgressiveDelay, RateLimiter
from gateway.service import ADMINISTRATION, SERVICES
from services.kit.db import SessionDep
from services.kit.problems import ServiceError, TooManyRequests

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Id = Annotated[str, Path(max_length=36)]
IDENTIFIER_SYSTEMS = {"nhs": "NHS number", "upn": "Unique pupil number (UPN)", "local": "Your organisation's own id"}
# Case notes (who took part in contacts, what was said) are shared apart: a plan's category never opens them.
CATEGORIES = {"assessment": "Assessments", "plan": "Plans", "case_notes": "Case notes (contacts with the family)"}
PLATFORM_ORGANISATIONS = (ADMINISTRATION, SERVICES)  # not a family's partners: no grant names them


def _safe_next(path: str | None) -> str:
    """Only a page of the front end: never another site, so a link cannot send someone elsewhere after sign-in."""
    if path and path.startswith(f"{PREFIX}/") and not path.startswith("//") and "\\" not in path:
        return path
    return HOME


# --- signing in and out --------------------------------------------------------------


def _sign_in_page(request: Request, errors: dict[str, str], email: str = "", status_code: int = 200) -> Response:
    token = sessions.new_form_token()
    notice = None
    if request.query_params.get("timed-out"):
        notice = "You were signed out because you had not done anything for a while. Sign in again to carry on."
    elif request.query_params.get("signed-out"):
        notice = "You have signed out."
    response = render(
        request,
        "sign_in.html",
        {
            "errors": errors,
            "email": email,
            "sign_in_token": token,
            "notice": notice,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code,
    )
    settings = front_end_settings(request)
    response.set_cookie(
        SIGN_IN_COOKIE, token, httponly=True, samesite="strict", secure=settings.secure_cookies, path=PREFIX
    )
    return response


def _refused_for_now(request: Request, refusal: ServiceError, email: str) -> Response:
    """The sign-in page again, with how long to wait: too many tries (429) or too many checks at once (503)."""
    if isinstance(refusal, HashingBusy):
        message = "Too many people are signing in at the moment. Wait a few seconds, then try again."
    else:
        message = f"Too many attempts. Wait {refusal.headers.get('Retry-After', '60')} seconds, then try again."
    response = _sign_in_page(request, {"email": message}, email, refusal.status)
    response.headers.update(refusal.headers)
    return response


@router.get("")
async def home() -> Response:
    return see_other(HOME)


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, {})


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    sign_in_token: Annotated[str, Form(max_length=100)] = "",
    next_page: Annotated[str, Form(alias="next", max_length=500)] = "",
) -> Response:
    if not sessions.same_token(request.cookies.get(SIGN_IN_COOKIE), sign_in_token):
        raise PageError(403, "This form has expired", "Go back, reload the sign-in page and try again.")
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your work e-mail address."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 (a message, not a password)
    if errors:
        return _sign_in_page(request, errors, email, 422)
    client_address = request.client.host if request.client else "unknown"
    limiter: RateLimiter = request.app.state.sign_in_limiter
    delay: ProgressiveDelay = request.app.state.sign_in_delay
    attempt = f"{email.strip().lower()} from {client_address}"
    try:
        limiter.take(f"sign-in:{client_address}")
        delay.check(attempt)
        signed = await sessions.sign_in(session, front_end_settings(request), hashing_of(request), email, password)
    except (TooManyRequests, HashingBusy) as refusal:
        return _refused_for_now(request, refusal, email)
    if signed is None:
        delay.failed(attempt)
        return _sign_in_page(request, {"email": "Enter a correct e-mail address and password."}, email, 422)
    delay.succeeded(attempt)
    token, staff = signed
    if staff.must_change_password:
        next_page = f"{PREFIX}/change-password"
    response = see_other(_safe_next(next_page))
    settings = front_end_settings(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path=PREFIX,
        expires=staff.expires_at,
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    return response


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200


def _change_password_page(request: Request, errors: dict[str, str], status_code: int = 200) -> Response:
    return render(
        request,
        "change_password.html",
        {"errors": errors, "min_length": MIN_PASSWORD_LENGTH, "title": "Change your password"},
        status_code,
    )


@router.get("/change-password")
async def change_password_page(request: Request, _member: Member) -> Response:
    return _change_password_page(request, {})


@router.post("/change-password")
async def change_password(request: Request, session: SessionDep, member: Member, form: PostedByMember) -> Response:
    """A new password of the member's own; the first thing a member does, with the password they were given."""
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    confirmed = str(form.get("confirm_password") or "")
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = "Enter your current password."  # noqa: S105 (a message, not a password)
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = f"Your new password must be at least {MIN_PASSWORD_LENGTH} characters long."
    elif len(new) > MAX_PASSWORD_LENGTH:
        errors["new_password"] = f"Your new password must be at most {MAX_PASSWORD_LENGTH} characters long."
    elif new == current:
        errors["new_password"] = "Your new password must be different from your current one."  # noqa: S105
    elif confirmed != new:
        errors["confirm_password"] = "The passwords do not match."  # noqa: S105
    if errors:
        return _change_password_page(request, errors, 422)
    # A session left open is no way to guess the password behind it: wrong tries are slowed as at sign-in.
    delay: ProgressiveDelay = request.app.state.sign_in_delay
    attempt = f"password change of {member.user_id}"
    try:
        delay.check(attempt)
        changed = await sessions.change_password(session, hashing_of(request), member, current, new)
    except (TooManyRequests, HashingBusy) as refusal:
        response = _change_password_page(
            request, {"current_password": "Wait a few seconds, then try again."}, refusal.status
        )
        response.headers.update(refusal.headers)
        return response
    if not changed:
        delay.failed(attempt)
        return _change_password_page(request, {"current_password": "Your current password is not right."}, 422)
    delay.succeeded(attempt)
    return see_other(HOME)


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, _form: PostedByMember) -> Response:
    await sessions.sign_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other(f"{PREFIX}/sign-in?signed-out=1")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# --- finding a family and requesting support -------------------------------------------


@router.get("/find")
async def find_page(request: Request, _staff: Staff) -> Response:
    return render(request, "find.html", {"systems": IDENTIFIER_SYSTEMS, "errors": {}})


@router.post("/find")
async def find(request: Request, calls: Calls, form: Posted) -> Response:
    """Searched by POST, so that an NHS number is in no address, history or log."""
    system = str(form.get("system") or "")
    value = str(form.get("value") or "").strip()
    errors: dict[str, str] = {}
    if system not in IDENTIFIER_SYSTEMS:
        errors["system"] = "Select the kind of identifier."
    if not value:
        errors["value"] = "Enter the identifier."
    context: dict[str, Any] = {"systems": IDENTIFIER_SYSTEMS, "errors": errors, "system": system, "value": value}
    if errors:
        return render(request, "find.html", context, 422)
    try:
        families = await calls.get("/families", {"identifier": f"{system}:{value}"})
    except ServiceProblem as problem:
        context["errors"] = {"value": problem.errors("/identifier").get("") or problem.detail}
        return render(request, "find.html", context, 422)
    return render(request, "find.html", context | {"families": families, "searched": True})


MEMBER_FIELDS = ("child_given_name", "child_family_name", "parent_given_name", "parent_family_name")


@router.get("/families/new")
async def new_family_page(request: Request, _staff: Staff) -> Response:
    return render(request, "new_family.html", {"errors": {}, "typed": {}})


@router.post("/families/new")
async def new_family(request: Request, calls: Calls, form: Posted) -> Response:
    """Register the family the request for support is about: the child and a parent or carer."""
    typed = {name: str(form.get(name) or "").strip() for name in (*MEMBER_FIELDS, "nhs_number", "relationship")}
    errors: dict[str, str] = {}
    labels = {
        "child_given_name": "Enter the child's first name.",
        "child_family_name": "Enter the child's last name.",
        "parent_given_name": "Enter the parent or carer's first name.",
        "parent_family_name": "Enter the parent or carer's last name.",
    }
    errors |= {name: message for name, message in labels.items() if not typed[name]}
    parts, born, real = read_date(form, "date_of_birth")
    if not real:
        errors["date_of_birth"] = "The child's date of birth must be a real date, like 27 3 2024."
    nhs = typed["nhs_number"].replace(" ", "")
    context = {"errors": errors, "typed": typed, "date_of_birth": parts}
    if errors:
        return render(request, "new_family.html", context, 422)
    child: dict[str, Any] = {
        "role": "child",
        "given_name": typed["child_given_name"],
        "family_name": typed["child_family_name"],
        "date_of_birth": born.isoformat() if born else None,
        "identifiers": [{"system": "nhs", "value": nhs}] if nhs else [],
    }
    parent = {
        "role": "adult",
        "given_name": typed["parent_given_name"],
        "family_name": typed["parent_family_name"],
        "relationship": typed["relationship"] or None,
    }
    try:
        family = await calls.post("/families", {"members": [child, parent]})
    except ServiceProblem as problem:
        if problem.status == 409 and problem.problem.get("type", "").endswith(":family-exists"):
            # Known already: the service asked, for this member's organisation, those who hold the records.
            return render(request, "access_requested.html", {"request_id": problem.problem.get("access_request_id")})
        if problem.status == 409:
            context["errors"] = {"nhs_number": problem.detail}
            return render(request, "new_family.html", context, 409)
        found = problem.errors("/members/0/identifiers/0/value")
        if not found and problem.status != 422:
            raise
        context["errors"] = {"nhs_number": found.get("", problem.detail)}
        return render(request, "new_family.html", context, 422)
    return see_other(f"{PREFIX}/families/{family['id']}")


# --- a family's page --------------------------------------------------------------------


async def organisation_names(session: AsyncSession) -> dict[str, str]:
    names = {organisation.id: organisation.name for organisation in await repository.list_organisations(session)}
    await session.commit()  # the connection let go before the page calls a service (see `session_of`)
    return names


@router.get("/families/{family_id}")
async def family_page(request: Request, family_id: Id, calls: Calls, session: SessionDep) -> Response:
    family = await calls.get(f"/families/{family_id}")
    assessments = await calls.get(f"/families/{family_id}/assessments")
    plans = await calls.get("/plans", {"family_id": family_id})
    # Each plan's episodes are in the plan itself; the family's referrals to social care are read only by those
    # who may read its plans, so a member who sees none is not asked about them.
    episodes = [(plan, (await calls.get(f"/plans/{plan['id']}"))["episodes"]) for plan in plans]
    referrals = await calls.get(f"/families/{family_id}/social-care-referrals") if plans else []
    grants = await calls.get("/consents", {"family_id": family_id})
    agreements = await calls.get("/agreements", {"family_id": family_id})
    forms = [form for form in await calls.get("/forms") if form["latest_published"] is not None]
    return render(
        request,
        "family.html",
        {
            "family": family,
            "assessments": assessments,
            "plans": plans,
            "episodes": episodes,
            "referrals": referrals,
            # A column of actions only when the member may record social care's decision on one of them.
            "offer_outcome": any("record_outcome" in referral.get("allowed_actions", []) for referral in referrals),
            "decided": request.query_params.get("decided") == "1",
            "grants": grants,
            "agreements": agreements,
            "forms": forms,
            "names": await organisation_names(session),
            "categories": CATEGORIES,
        },
    )


@router.post("/families/{family_id}/assessments")
async def start_assessment(family_id: Id, calls: Calls, form: Posted) -> Response:
    forms = await calls.get("/forms")
    wanted = next((f for f in forms if f["key"] == form.get("form") and f["latest_published"]), None)
    if wanted is None:
        raise PageError(422, "Choose a form", "That form cannot be started. Go back and choose another.")
    created = await calls.post(
        "/assessments",
        {"family_id": family_id, "form": {"key": wanted["key"], "version": wanted["latest_published"]}, "answers": {}},
    )
    return see_other(f"{PREFIX}/assessments/{created['id']}")


# --- the family's agreement and sharing ---------------------------------------------------


async def _sharing_context(session: AsyncSession, staff: SignedIn, family: dict[str, Any]) -> dict[str, Any]:
    organisations = [
        organisation
        for organisation in await repository.list_organisations(session)
        if organisation.disabled_at is None
        and organisation.id != staff.organisation_id
        and organisation.name not in PLATFORM_ORGANISATIONS
    ]
    await session.commit()  # the connection let go before the page calls a service (see `session_of`)
    return {"family": family, "organisations": organisations, "categories": CATEGORIES}


@router.get("/families/{family_id}/sharing")
async def sharing_page(request: Request, family_id: Id, calls: Calls, staff: Staff, session: SessionDep) -> Response:
    family = await calls.get(f"/families/{family_id}")
    context = await _sharing_context(session, staff, family)
    return render(request, "sharing.html", context | {"errors": {}, "typed": {}})


@router.post("/families/{family_id}/sharing")
async def record_sharing(
    request: Request, family_id: Id, calls: Calls, staff: Staff, session: SessionDep, form: Posted
) -> Response:
    """The family's agreement to early help and, with it, whom they agree may see what."""
    typed: dict[str, Any] = {
        "given_by_role": str(form.get("given_by_role") or ""),
        "given_by_name": str(form.get("given_by_name") or "").strip(),
        "evidence": str(form.get("evidence") or ""),
        "categories": [str(value) for value in form.getlist("categories")],
        "recipients": [str(value) for value in form.getlist("recipients")],
    }
    parts, ends_on, real = read_date(form, "ends_on")
    errors: dict[str, str] = {}
    if typed["given_by_role"] not in ("parent_or_carer", "competent_young_person"):
        errors["given_by_role"] = "Select who gave their agreement."
    if typed["evidence"] not in ("written", "verbal", "electronic"):
        errors["evidence"] = "Select how they gave it."
    if not typed["categories"]:
        errors["categories"] = "Select what may be shared."
    if not typed["recipients"]:
        errors["recipients"] = "Select at least one organisation."
    if not real:
        errors["ends_on"] = "The date sharing ends must be a real date, like 27 3 2027."
    elif ends_on is not None and ends_on <= datetime.now(UTC).date():
        errors["ends_on"] = "The date sharing ends must be in the future."
    family = await calls.get(f"/families/{family_id}")
    if errors:
        context = await _sharing_context(session, staff, family)
        return render(request, "sharing.html", context | {"errors": errors, "typed": typed, "ends_on": parts}, 422)
    given = {
        "family_id": family_id,
        "given_by_role": typed["given_by_role"],
        "given_by_name": typed["given_by_name"] or None,
        "evidence": typed["evidence"],
    }
    await calls.post("/agreements", given)
    ends_at = datetime.combine(ends_on, time(23, 59, 59), UTC).isoformat() if ends_on else None
    await calls.post(
        "/consents",
        given
        | {
            "categories": typed["categories"],
            "recipient_organisations": typed["recipients"],
            "ends_at": ends_at,
        },
    )
    return see_other(f"{PREFIX}/families/{family_id}#sharing")


@router.get("/consents/{grant_id}/withdraw")
async def withdraw_page(request: Request, grant_id: Id, calls: Calls, session: SessionDep) -> Response:
    grant = await calls.get(f"/consents/{grant_id}")
    names = await organisation_names(session)
    return render(request, "withdraw.html", {"grant": grant, "names": names, "categories": CATEGORIES})


@router.post("/consents/{grant_id}/withdraw")
async def withdraw(grant_id: Id, calls: Calls, form: Posted) -> Response:
    reason = str(form.get("reason") or "").strip()[:1000] or None
    grant = await calls.post(f"/consents/{grant_id}/withdraw", {"reason": reason})
    return see_other(f"{PREFIX}/families/{grant['family_id']}#sharing")

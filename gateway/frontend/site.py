"""What every staff page shares: templates, the signed-in member, CSRF checks, errors as pages, static files.

Pages are Jinja2 templates built on `govuk-frontend-jinja`, a maintained port of
GOV.UK Frontend's Nunjucks macros (its version follows the npm package's, and
`package.json` pins the matching one). Each answer has its own CSP nonce for
GOV.UK's one inline script; everything else loads from the gateway itself.

The service is a council's, not GOV.UK's: GOV.UK's typeface, crown and crest are
for services on GOV.UK only, so none of GOV.UK Frontend's `assets/` is served.
The council's name, logo, colour and links come from `FrontEndSettings`.
"""

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.types import Scope

from gateway.config import FrontEndSettings, GatewaySettings
from gateway.frontend import sessions
from gateway.frontend.calls import ServiceProblem, ServiceUnavailable, StaffCalls
from gateway.frontend.questions import format_date
from gateway.frontend.sessions import Ended, SignedIn
from gateway.frontend.worklists import counts
from gateway.ratelimit import ProgressiveDelay, RateLimiter
from services.kit.db import SessionDep

PREFIX = "/staff"
SESSION_COOKIE = "gp_session"
SIGN_IN_COOKIE = "gp_sign_in"  # the sign-in form's own CSRF token, before there is a session
SERVICE_NAME = "Early help: Graduated Pathway"
HOME = f"{PREFIX}/home"  # the member's own work; where signing in leads

environment = Environment(
    loader=ChoiceLoader(
        [
            PackageLoader("gateway.frontend", "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    autoescape=select_autoescape(default=True),
    # The GOV.UK macros read optional parameters deep (`params.hint.text`), as Nunjucks allows.
    undefined=ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


environment.filters["long_date"] = format_date  # "3 April 2024", as GOV.UK writes dates


def csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "manifest-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    signed_in: SignedIn | None = getattr(request.state, "signed_in", None)
    context = context or {}
    if "error_summary" not in context:
        context["error_summary"] = error_summary(context.get("errors") or {})
    page = environment.get_template(template).render(
        {
            "cspNonce": nonce,
            "serviceName": SERVICE_NAME,
            "serviceUrl": HOME,
            "council": front_end_settings(request),
            "themeColor": front_end_settings(request).brand_colour,
            "signed_in": signed_in,
            "csrf_token": signed_in.csrf_token if signed_in else "",
            "prefix": PREFIX,
            "counts": getattr(request.state, "counts", None),  # the navigation's counts, when asked for
            **context,
        }
    )
    return HTMLResponse(page, status_code=status_code, headers={"Content-Security-Policy": csp(nonce)})


def error_summary(errors: dict[str, str]) -> list[dict[str, str]]:
    """GOV.UK's error summary: each message links to its field, a date to its day (`<name>-day` by convention)."""
    dates = {"date_of_birth", "ends_on", "held_on", "decided_on"}
    return [
        {"text": message, "href": f"#{name}-day" if name in dates else f"#{name}"} for name, message in errors.items()
    ]


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def front_end_settings(request: Request) -> FrontEndSettings:
    settings: GatewaySettings = request.app.state.settings
    return settings.front_end


class SignInNeeded(Exception):
    def __init__(self, timed_out: bool) -> None:
        super().__init__("sign in")
        self.timed_out = timed_out


class PasswordChangeNeeded(Exception):
    """A member still holding the temporary password an administrator gave them asked for another page."""


class PageError(Exception):
    """A page that cannot be shown, with the status and words to show instead."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status_code, self.title, self.message = status_code, title, message


async def session_of(request: Request, session: SessionDep) -> SignedIn:
    """The signed-in member, whether or not they must change their password first."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded(timed_out=False)
    found = await sessions.resume(session, front_end_settings(request), token)
    # Committed now, before the page calls any service: the ended session is deleted even though the page
    # is not shown, and the database connection is let go. On SQLite the gateway has one; a service that
    # needs a token of its own to answer this page would otherwise wait for it behind the page.
    await session.commit()
    if isinstance(found, Ended):
        raise SignInNeeded(timed_out=found is Ended.TIMED_OUT)
    request.state.signed_in = found
    return found


Member = Annotated[SignedIn, Depends(session_of)]


async def signed_in(request: Request, staff: Member) -> SignedIn:
    """The signed-in member, once they have changed the temporary password they were given.

    Every page they open counts their work for the navigation, once, before the page's own calls. A form posted
    is answered by a redirect, so it counts nothing; the page it leads to does.
    """
    if staff.must_change_password:
        raise PasswordChangeNeeded()
    if request.method == "GET":
        await counts(request, _calls_of(request, staff), staff)
    return staff


Staff = Annotated[SignedIn, Depends(signed_in)]


def _calls_of(request: Request, staff: SignedIn) -> StaffCalls:
    """One set of calls a request, with one token: the navigation's counts and the page's own share it."""
    calls: StaffCalls | None = getattr(request.state, "staff_calls", None)
    if calls is None:
        calls = request.state.staff_calls = StaffCalls(request, staff)
    return calls


async def staff_calls(request: Request, staff: Staff) -> StaffCalls:
    return _calls_of(request, staff)


Calls = Annotated[StaffCalls, Depends(staff_calls)]


async def _csrf_checked(request: Request, staff: SignedIn) -> FormData:
    form = await request.form()
    if not sessions.same_token(form.get("csrf_token"), staff.csrf_token):
        raise PageError(
            403,
            "This form has expired",
            "Your answers were not saved. Go back, reload the page and try again.",
        )
    return form


async def checked_form(request: Request, staff: Staff) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    return await _csrf_checked(request, staff)


async def checked_member_form(request: Request, staff: Member) -> FormData:
    """The same, for the forms a member may post before changing their password: the change itself, signing out."""
    return await _csrf_checked(request, staff)


Posted = Annotated[FormData, Depends(checked_form)]
PostedByMember = Annotated[FormData, Depends(checked_member_form)]


def _sign_in_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    query: dict[str, str] = {}
    if exc.timed_out:
        query["timed-out"] = "1"
    if request.method == "GET" and request.url.path != f"{PREFIX}/sign-in":
        query["next"] = request.url.path
    response = see_other(f"{PREFIX}/sign-in" + (f"?{urlencode(query)}" if query else ""))
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _password_change_needed(request: Request, exc: Exception) -> Response:
    return see_other(f"{PREFIX}/change-password")


def _page_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ServiceUnavailable):
        exc = PageError(503, "Sorry, there is a problem with the service", f"{exc} Try again later.")
    if isinstance(exc, ServiceProblem):
        titles = {403: "You cannot see this", 404: "Page not found", 409: "This cannot be done now"}
        exc = PageError(exc.status, titles.get(exc.status, "Sorry, there is a problem"), exc.detail)
    assert isinstance(exc, PageError)
    return render(request, "error.html", {"title": exc.title, "message": exc.message}, exc.status_code)


class FrontEndFiles(StaticFiles):
    """GOV.UK Frontend's built styles and scripts, and ours; never its `assets/` (GOV.UK's typeface and crown)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.split("/", 1)[0] == "assets":  # `path` is normalised already: no `..` leads back into it
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


async def brand_stylesheet(request: Request) -> Response:
    """The council's brand colour, as GOV.UK Frontend's own custom property: the policy allows no inline style."""
    colour = front_end_settings(request).brand_colour  # a #rrggbb colour, checked by the settings
    return Response(f":root {{ --govuk-brand-colour: {colour}; }}\n", media_type="text/css")


async def gateway_root() -> Response:
    """The gateway's own address leads to the staff's home; its session cookie, scoped to the staff pages, is not
    seen here, so the home page itself sends a member who is not signed in to sign in."""
    return see_other(HOME)


def install(app: FastAPI, settings: FrontEndSettings) -> None:
    """Serve the front end's styles and scripts and turn the front end's exceptions into pages."""
    app.mount(
        f"{PREFIX}/static",
        FrontEndFiles(
            directory=settings.govuk_frontend_dir, packages=[("gateway.frontend", "static")], check_dir=False
        ),
        "static",
    )
    app.add_api_route(f"{PREFIX}/brand.css", brand_stylesheet, include_in_schema=False)
    app.add_api_route("/", gateway_root, include_in_schema=False)
    # Guessing passwords is slowed per e-mail address and client address together, so that nobody can lock a
    # member out from elsewhere; and every client address has its own limit, whatever addresses it tries.
    app.state.sign_in_delay = ProgressiveDelay(settings.sign_in_attempts, settings.sign_in_delay_max_seconds)
    app.state.sign_in_limiter = RateLimiter(
        per_second=settings.sign_in_address_per_minute / 60, burst=settings.sign_in_address_burst
    )
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(PasswordChangeNeeded, _password_change_needed)
    for page_exception in (PageError, ServiceProblem, ServiceUnavailable):
        app.add_exception_handler(page_exception, _page_error)
